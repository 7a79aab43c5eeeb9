"""The /fhir/ API's reads of stored resources: the current version, every version, searches.
Every call reads in one snapshot; nothing writes. Derived resources: storage/fhir_derived.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from domain.fhir_ai import Extraction
from domain.fhir_search import Query
from storage.db import snapshot

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


def facts_of(row: tuple[Any, ...]) -> Extraction:
    return Extraction(*row)


def uuids(values: tuple[str, ...]) -> list[str]:
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
            return StoredVersion(rtype, rid, row[0], row[1], facts_of(row[3:]), row[2], True)
        gone = conn.execute(
            f"SELECT h.version_id, h.superseded_at, {FACTS} FROM resource_history h "
            "JOIN documents d USING (document_id) "
            "WHERE h.resource_id = %s AND h.resource_type = %s AND h.superseded_by = 'delete' "
            "ORDER BY h.version_id DESC LIMIT 1",
            (rid, rtype),
        ).fetchone()
    if gone is None:
        return None
    return StoredVersion(rtype, rid, gone[0], None, facts_of(gone[2:]), gone[1], False)


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
    versions = [StoredVersion(rtype, rid, r[0], r[1], facts_of(r[3:]), r[2], True) for r in current]
    for v, body, updated, superseded, why, *facts in prior:
        versions.append(StoredVersion(rtype, rid, v, body, facts_of(tuple(facts)), updated, False))
        if why == "delete":
            versions.append(
                StoredVersion(rtype, rid, v, None, facts_of(tuple(facts)), superseded, False)
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
    bounds(clauses, params, "r.last_updated", query)
    return " AND ".join(clauses), params


def bounds(clauses: list[str], params: dict[str, Any], column: str, query: Query) -> None:
    if query.updated.after is not None:
        clauses.append(f"{column} >= %(after)s")
        params["after"] = query.updated.after
    if query.updated.before is not None:
        clauses.append(f"{column} < %(before)s")
        params["before"] = query.updated.before


def order_by(query: Query, updated: str, key: str) -> str:
    column, desc = query.sort or ("last_updated", False)
    direction = " DESC" if desc else ""
    if column == "id":
        return f"{key}{direction}"
    return f"{updated}{direction}, {key}{direction}"


def wants_rows(query: Query) -> bool:
    return not query.summary_count and query.count > 0


def search_stored(conn: psycopg.Connection, rtype: str, query: Query) -> Page:
    where, params = _resource_where(rtype, query)
    params |= {"limit": query.count, "offset": query.offset}
    with snapshot(conn):
        row = conn.execute(f"SELECT count(*) FROM resources r WHERE {where}", params).fetchone()
        total = row[0] if row else 0
        rows = []
        if wants_rows(query) and query.offset < total:
            rows = conn.execute(
                f"SELECT r.resource_id, r.version_id, r.body, r.last_updated, {FACTS} "
                f"FROM resources r JOIN documents d USING (document_id) WHERE {where} "
                f"ORDER BY {order_by(query, 'r.last_updated', 'r.resource_id')} "
                "LIMIT %(limit)s OFFSET %(offset)s",
                params,
            ).fetchall()
    items = [StoredVersion(rtype, r[0], r[1], r[2], facts_of(r[4:]), r[3], True) for r in rows]
    return Page(total, items)
