"""The /fhir/ API's reads: current resources, their history, searches, the patient, the
document Provenance and model Devices. Every call reads in one snapshot; nothing writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from domain.bundle import Contribution
from domain.fhir_ai import Extraction
from domain.fhir_search import Query, Reference
from storage.db import snapshot
from storage.read import CONTRIBUTION_COLUMNS, contribution

FACTS = "d.document_id, d.confidence, d.model_name, d.model_version, d.is_fallback, d.review_status"
FACTS += ", d.reviewer"
# The same expressions as the indexes of migration 0006 (domain/fhir_ai.py md5_uuid).
PROVENANCE_ID_SQL = "(md5('provenance' || chr(31) || d.document_id)::uuid)"
DEVICE_ID_SQL = (
    "(md5('device' || chr(31) || coalesce(d.model_name, '') || chr(31) || "
    "coalesce(d.model_version, '') || chr(31) || "
    "CASE WHEN d.is_fallback THEN 'fallback' ELSE 'primary' END)::uuid)"
)
MAX_ALTERNATIVES = 100


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a stored resource; `body` None for the deletion that ended its life."""

    resource_type: str
    resource_id: str
    version_id: int
    body: dict[str, Any] | None
    facts: Extraction
    last_updated: datetime
    current: bool


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    items: list[Any]


def _facts(row: tuple[Any, ...]) -> Extraction:
    return Extraction(*row)


def _uuids(values: tuple[str, ...]) -> list[str]:
    out = []
    for value in values[:MAX_ALTERNATIVES]:
        try:
            out.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return out


def read_stored(conn: psycopg.Connection, rtype: str, rid: str) -> StoredVersion | None:
    """The current version, or the deletion marker of a removed one (body None), or None."""
    with snapshot(conn):
        row = conn.execute(
            f"SELECT r.version_id, r.body, r.last_updated, {FACTS} FROM resources r "
            "JOIN documents d USING (document_id) "
            "WHERE r.resource_id = %s AND r.resource_type = %s",
            (rid, rtype),
        ).fetchone()
        if row is not None:
            return StoredVersion(rtype, rid, row[0], row[1], _facts(row[3:]), row[2], True)
        gone = conn.execute(
            f"SELECT h.version_id, h.superseded_at, {FACTS} FROM resource_history h "
            "JOIN documents d USING (document_id) "
            "WHERE h.resource_id = %s AND h.resource_type = %s AND h.superseded_by = 'delete' "
            "ORDER BY h.version_id DESC LIMIT 1",
            (rid, rtype),
        ).fetchone()
    if gone is None:
        return None
    return StoredVersion(rtype, rid, gone[0], None, _facts(gone[2:]), gone[1], False)


def stored_history(conn: psycopg.Connection, rtype: str, rid: str) -> list[StoredVersion]:
    """Every version, newest first, a deletion listed after the version it removed."""
    with snapshot(conn):
        current = conn.execute(
            f"SELECT r.version_id, r.body, r.last_updated, {FACTS} FROM resources r "
            "JOIN documents d USING (document_id) "
            "WHERE r.resource_id = %s AND r.resource_type = %s",
            (rid, rtype),
        ).fetchall()
        prior = conn.execute(
            f"SELECT h.version_id, h.body, h.last_updated, h.superseded_at, h.superseded_by, "
            f"{FACTS} FROM resource_history h JOIN documents d USING (document_id) "
            "WHERE h.resource_id = %s AND h.resource_type = %s",
            (rid, rtype),
        ).fetchall()
    versions = [StoredVersion(rtype, rid, r[0], r[1], _facts(r[3:]), r[2], True) for r in current]
    for v, body, updated, superseded, why, *facts in prior:
        versions.append(StoredVersion(rtype, rid, v, body, _facts(tuple(facts)), updated, False))
        if why == "delete":
            versions.append(
                StoredVersion(rtype, rid, v, None, _facts(tuple(facts)), superseded, False)
            )
    # Newest first: by time, the deletion of a version after that version.
    versions.sort(key=lambda s: (s.last_updated, s.version_id, s.body is None), reverse=True)
    return versions


def _resource_where(rtype: str, query: Query) -> tuple[str, dict[str, Any]]:
    clauses = ["r.resource_type = %(type)s"]
    params: dict[str, Any] = {"type": rtype}
    groups = (("r.patient_id", query.patients), ("r.resource_id", query.ids))
    for column, occurrences in (*groups, ("r.document_id", query.documents)):
        for group in occurrences:
            key = f"p{len(params)}"
            clauses.append(f"{column} = ANY(%({key})s)")
            params[key] = list(group[:MAX_ALTERNATIVES])
    _bounds(clauses, params, "r.last_updated", query)
    return " AND ".join(clauses), params


def _bounds(clauses: list[str], params: dict[str, Any], column: str, query: Query) -> None:
    if query.updated.after is not None:
        clauses.append(f"{column} >= %(after)s")
        params["after"] = query.updated.after
    if query.updated.before is not None:
        clauses.append(f"{column} < %(before)s")
        params["before"] = query.updated.before


def _order(query: Query, updated: str, key: str) -> str:
    column, desc = query.sort or ("last_updated", False)
    direction = " DESC" if desc else ""
    if column == "id":
        return f"{key}{direction}"
    return f"{updated}{direction}, {key}{direction}"


def _wants_rows(query: Query) -> bool:
    return not query.summary_count and query.count > 0


def search_stored(conn: psycopg.Connection, rtype: str, query: Query) -> Page:
    where, params = _resource_where(rtype, query)
    params |= {"limit": query.count, "offset": query.offset}
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if _wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT r.resource_id, r.version_id, r.body, r.last_updated, {FACTS} "
                f"FROM resources r JOIN documents d USING (document_id) WHERE {where} "
                f"ORDER BY {_order(query, 'r.last_updated', 'r.resource_id')} "
                "LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
    items = [StoredVersion(rtype, r[0], r[1], r[2], _facts(r[4:]), r[3], True) for r in rows]
    return Page(total, items)


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
    _bounds(clauses, params, "p.updated_at", query)
    where = " AND ".join(clauses)
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM patients p WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if _wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT p.patient_id, p.record, p.updated_at FROM patients p WHERE {where} "
                f"ORDER BY {_order(query, 'p.updated_at', 'p.patient_id')} "
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


_DOC_COLUMNS = ", ".join(f"d.{c.strip()}" for c in CONTRIBUTION_COLUMNS.split(", "))
_HAS_RESOURCES = "EXISTS (SELECT 1 FROM resources x WHERE x.document_id = d.document_id)"


def read_provenance(conn: psycopg.Connection, provenance_id: str) -> Contribution | str | None:
    """The document's contribution; 'gone' when the document was rolled back; else None."""
    ids = _uuids((provenance_id,))
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
        params[key] = _uuids(ids)
    clauses.extend(_target_clause(group, params) for group in query.targets)
    _bounds(clauses, params, "d.updated_at", query)
    where = " AND ".join(clauses)
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM documents d WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if _wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents d WHERE {where} "
                f"ORDER BY {_order(query, 'd.updated_at', 'd.document_id')} "
                "LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
        return Page(total, _contributions(conn, rows))


def read_model(
    conn: psycopg.Connection, device_id: str
) -> tuple[str | None, str | None, bool] | None:
    """(model name, version, fallback) of the extraction model with this Device id."""
    ids = _uuids((device_id,))
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
        _bounds(clauses, params, "r.last_updated", query)
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
    resources = [StoredVersion(r[0], r[1], r[2], r[3], _facts(r[5:]), r[4], True) for r in rows]
    return Everything(patient, resources, contributions)
