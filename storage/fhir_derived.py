"""The /fhir/ API's reads of what it derives rather than stores: the Patient from the registry,
the documents' Provenance, the extraction models' Devices, and Patient/$everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from domain.bundle import Contribution
from domain.fhir_search import Query, Reference
from storage.db import snapshot
from storage.fhir import (
    DEVICE_ID_SQL,
    FACTS,
    MAX_ALTERNATIVES,
    PROVENANCE_ID_SQL,
    Page,
    StoredVersion,
    bounds,
    facts_of,
    order_by,
    uuids,
    wants_rows,
)
from storage.read import contribution, contribution_columns


@dataclass(frozen=True, slots=True)
class PatientRow:
    patient_id: str
    record: dict[str, Any]
    updated_at: datetime


def read_patient(conn: psycopg.Connection, patient_id: str) -> PatientRow | None:
    row = conn.execute(
        "SELECT patient_id, record, updated_at FROM patients "
        "WHERE patient_id = %s AND record IS NOT NULL",
        (patient_id,),
    ).fetchone()
    return None if row is None else PatientRow(*row)


def search_patients(conn: psycopg.Connection, query: Query) -> Page:
    clauses = ["p.record IS NOT NULL"]
    params: dict[str, Any] = {"limit": query.count, "offset": query.offset}
    for group in query.ids:
        key = f"p{len(params)}"
        clauses.append(f"p.patient_id = ANY(%({key})s)")
        params[key] = list(group[:MAX_ALTERNATIVES])
    bounds(clauses, params, "p.updated_at", query)
    where = " AND ".join(clauses)
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM patients p WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT p.patient_id, p.record, p.updated_at FROM patients p WHERE {where} "
                f"ORDER BY {order_by(query, 'p.updated_at', 'p.patient_id')} "
                "LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
    return Page(total, [PatientRow(*r) for r in rows])


def _contributions(conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> list[Contribution]:
    """Contributions of these document rows, with version-specific references to their
    current resources (the Provenance targets)."""
    refs: dict[str, list[str]] = {}
    if rows:
        for doc_id, rtype, rid, version in conn.execute(
            "SELECT document_id, resource_type, resource_id, version_id FROM resources "
            "WHERE document_id = ANY(%s) ORDER BY resource_type, resource_id",
            ([r[0] for r in rows],),
        ):
            refs.setdefault(doc_id, []).append(f"{rtype}/{rid}/_history/{version}")
    return [contribution(r, tuple(refs.get(r[0], ()))) for r in rows]


_DOC_COLUMNS = contribution_columns("d")
_HAS_RESOURCES = "EXISTS (SELECT 1 FROM resources x WHERE x.document_id = d.document_id)"


def read_provenance(conn: psycopg.Connection, provenance_id: str) -> Contribution | str | None:
    """The document's contribution; 'gone' when the document was rolled back; else None."""
    ids = uuids((provenance_id,))
    if not ids:
        return None
    with snapshot(conn):
        rows = conn.execute(
            f"SELECT {_DOC_COLUMNS}, {_HAS_RESOURCES} FROM documents d "
            f"WHERE {PROVENANCE_ID_SQL} = %s::uuid",
            (ids[0],),
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        if not row[-1]:
            return "gone" if row[6] == "rejected" else None
        return _contributions(conn, [row[:-1]])[0]


def _target_clause(group: tuple[Reference, ...], params: dict[str, Any]) -> str:
    options = []
    for ref in group[:MAX_ALTERNATIVES]:
        key = f"t{len(params)}"
        params[key] = ref.id
        option = f"x.resource_id = %({key})s"
        if ref.resource_type:
            params[key + "t"] = ref.resource_type
            option += f" AND x.resource_type = %({key}t)s"
        if ref.version and ref.version.isdigit():
            params[key + "v"] = int(ref.version)
            option += f" AND x.version_id = %({key}v)s"
        elif ref.version:
            option += " AND false"
        options.append(f"({option})")
    if not options:
        return "false"
    return (
        "EXISTS (SELECT 1 FROM resources x WHERE x.document_id = d.document_id AND "
        f"({' OR '.join(options)}))"
    )


def search_provenance(conn: psycopg.Connection, query: Query) -> Page:
    clauses = [_HAS_RESOURCES]
    params: dict[str, Any] = {"limit": query.count, "offset": query.offset}
    for group in query.patients:
        key = f"p{len(params)}"
        clauses.append(f"d.patient_id = ANY(%({key})s)")
        params[key] = list(group[:MAX_ALTERNATIVES])
    for ids in query.ids:
        key = f"p{len(params)}"
        clauses.append(f"{PROVENANCE_ID_SQL} = ANY(%({key})s::uuid[])")
        params[key] = uuids(ids)
    clauses.extend(_target_clause(group, params) for group in query.targets)
    bounds(clauses, params, "d.updated_at", query)
    where = " AND ".join(clauses)
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM documents d WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents d WHERE {where} "
                f"ORDER BY {order_by(query, 'd.updated_at', 'd.document_id')} "
                "LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
        return Page(total, _contributions(conn, rows))


def read_model(
    conn: psycopg.Connection, device_id: str
) -> tuple[str | None, str | None, bool] | None:
    """(model name, version, fallback) of the extraction model with this Device id."""
    ids = uuids((device_id,))
    if not ids:
        return None
    row = conn.execute(
        f"SELECT d.model_name, d.model_version, d.is_fallback FROM documents d "
        f"WHERE {DEVICE_ID_SQL} = %s::uuid LIMIT 1",
        (ids[0],),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


@dataclass(frozen=True, slots=True)
class Everything:
    patient: PatientRow | None
    resources: list[StoredVersion]
    contributions: list[Contribution]


def patient_everything(
    conn: psycopg.Connection, patient_id: str, query: Query
) -> Everything | None:
    """The patient's record (None when no such patient): Patient, current resources (of
    `query.types` when given, updated since `query.updated.after`) and contributing documents."""
    with snapshot(conn):
        known = conn.execute(
            "SELECT 1 FROM patients WHERE patient_id = %s", (patient_id,)
        ).fetchone()
        if known is None:
            return None
        patient = read_patient(conn, patient_id)
        clauses = ["r.patient_id = %(pid)s"]
        params: dict[str, Any] = {"pid": patient_id}
        if query.types is not None:
            clauses.append("r.resource_type = ANY(%(types)s)")
            params["types"] = list(query.types)
        bounds(clauses, params, "r.last_updated", query)
        rows = conn.execute(
            f"SELECT r.resource_type, r.resource_id, r.version_id, r.body, r.last_updated, "
            f"{FACTS} FROM resources r JOIN documents d USING (document_id) "
            f"WHERE {' AND '.join(clauses)} ORDER BY r.resource_type, r.last_updated, "
            "r.resource_id",
            params,
        ).fetchall()
        docs = conn.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.patient_id = %s AND "
            f"{_HAS_RESOURCES} ORDER BY d.merged_at, d.document_id",
            (patient_id,),
        ).fetchall()
        contributions = _contributions(conn, docs)
    resources = [StoredVersion(r[0], r[1], r[2], r[3], facts_of(r[5:]), r[4], True) for r in rows]
    return Everything(patient, resources, contributions)
