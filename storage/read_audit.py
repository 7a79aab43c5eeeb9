"""The read audit (append-only): one INSERT per request that showed patient data; the pages
of it the auditor filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from domain.read_audit import ReadEntry
from storage.queue import add_day_range


def record_read(conn: psycopg.Connection, entry: ReadEntry) -> None:
    """One row; the patients of the documents it names are added in the same statement."""
    with conn.transaction():
        _insert(conn, entry)


def _insert(conn: psycopg.Connection, entry: ReadEntry) -> None:
    conn.execute(
        "INSERT INTO read_audit (actor, actor_role, channel, what, patient_ids, document_ids, "
        "resource_count, client_addr, user_agent) "
        "SELECT %(actor)s, %(role)s, %(channel)s, %(what)s, "
        "ARRAY(SELECT DISTINCT p FROM unnest(%(patients)s::text[] || ARRAY(SELECT patient_id "
        "FROM documents WHERE document_id = ANY(%(documents)s::text[]))) AS p ORDER BY 1), "
        "%(documents)s::text[], %(count)s, %(addr)s, %(agent)s",
        {
            "actor": entry.actor,
            "role": entry.actor_role,
            "channel": entry.channel.value,
            "what": entry.what,
            "patients": list(entry.patient_ids),
            "documents": list(entry.document_ids),
            "count": entry.resource_count,
            "addr": entry.client_addr,
            "agent": entry.user_agent,
        },
    )


@dataclass(frozen=True, slots=True)
class ReadFilters:
    patient: str | None = None
    document: str | None = None
    actor: str | None = None
    channel: str | None = None
    since: date | None = None
    until: date | None = None


def _where(filters: ReadFilters) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, Any] = {}
    if filters.patient:
        clauses.append(sql.SQL("%(patient)s = ANY(patient_ids)"))
        params["patient"] = filters.patient
    if filters.document:
        clauses.append(sql.SQL("%(document)s = ANY(document_ids)"))
        params["document"] = filters.document
    for column, value in (("actor", filters.actor), ("channel", filters.channel)):
        if value:
            clauses.append(
                sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
            )
            params[column] = value
    add_day_range(clauses, params, "occurred_at", filters.since, filters.until)
    return sql.SQL(" AND ").join(clauses), params


def read_page(
    conn: psycopg.Connection, filters: ReadFilters, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Read entries, newest first, and how many match in all."""
    where, params = _where(filters)
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM read_audit WHERE {}").format(where), params
    ).fetchone()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT read_id, occurred_at, actor, actor_role, channel, what, patient_ids, "
                "document_ids, resource_count, client_addr, user_agent FROM read_audit "
                "WHERE {} ORDER BY occurred_at DESC, read_id DESC "
                "LIMIT %(limit)s OFFSET %(offset)s"
            ).format(where),
            {**params, "limit": limit, "offset": offset},
        )
        return cur.fetchall(), int(row[0]) if row else 0
