"""The reviewer app's reads: the flagged queue, a document's patient and record, the outcome of
a review action."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class FlaggedFilters:
    """Received on or after `since`, on or before `until` (whole UTC days), one flag rule, and
    a patient given by id or by words of the name (each word must match)."""

    since: date | None = None
    until: date | None = None
    reason: str | None = None
    patient: str | None = None


@dataclass(frozen=True, slots=True)
class QueueSummary:
    count: int
    oldest: datetime | None
    overdue: int
    by_reason: dict[str, int] = field(default_factory=dict)


def queue_summary(conn: psycopg.Connection, overdue_before: datetime) -> QueueSummary:
    row = conn.execute(
        "SELECT count(*), min(created_at), count(*) FILTER (WHERE created_at < %s) "
        "FROM documents WHERE review_status = 'flagged'",
        (overdue_before,),
    ).fetchone()
    count, oldest, overdue = row if row else (0, None, 0)
    reasons = conn.execute(
        "SELECT r->>'rule', count(DISTINCT d.document_id) FROM documents d, "
        "jsonb_array_elements(d.flag_reasons) r WHERE d.review_status = 'flagged' "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return QueueSummary(count, oldest, overdue, dict(reasons))


def _like_escape(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def day_start(day: date) -> datetime:
    """Midnight UTC of `day`: date filters are whole UTC days."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def add_day_range(
    clauses: list[sql.Composable],
    params: dict[str, Any],
    column: str,
    since: date | None,
    until: date | None,
) -> None:
    """`column` within the whole UTC days `since` through `until` (either may be open)."""
    if since is not None:
        clauses.append(sql.SQL(f"{column} >= %(since)s"))
        params["since"] = day_start(since)
    if until is not None:
        clauses.append(sql.SQL(f"{column} < %(until)s"))
        params["until"] = day_start(until + timedelta(days=1))


def _flagged_where(filters: FlaggedFilters) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("d.review_status = 'flagged'")]
    params: dict[str, Any] = {}
    add_day_range(clauses, params, "d.created_at", filters.since, filters.until)
    if filters.reason:
        clauses.append(sql.SQL("d.flag_reasons @> %(reason)s"))
        params["reason"] = Jsonb([{"rule": filters.reason}])
    if filters.patient:
        words = filters.patient.replace(",", " ").split()[:5]
        params["patient_exact"] = filters.patient.strip()
        name_clauses: list[sql.Composable] = []
        for i, word in enumerate(words):
            key = f"w{i}"
            params[key] = f"%{_like_escape(word)}%"
            name_clauses.append(
                sql.SQL(
                    "(p.family ILIKE {k} OR array_to_string(p.given, ' ') ILIKE {k} "
                    "OR coalesce(d.extraction_head, d.extraction)->'patient'->'name'->>'family' "
                    "ILIKE {k} OR (coalesce(d.extraction_head, d.extraction)->'patient'->'name'"
                    "->'given')::text ILIKE {k})"
                ).format(k=sql.Placeholder(key))
            )
        by_name = sql.SQL(" AND ").join(name_clauses) if name_clauses else sql.SQL("false")
        clauses.append(sql.SQL("(d.patient_id = %(patient_exact)s OR ({}))").format(by_name))
    return sql.SQL(" AND ").join(clauses), params


_FLAGGED_COLUMNS = sql.SQL(
    "d.document_id, d.patient_id, d.version, d.flag_reasons, d.confidence, d.model_name, "
    "d.model_version, d.is_fallback, d.resource_count, d.processing_status, d.created_at, "
    # extraction_head since migration 0009; the jsonb extraction of rows stored before.
    "d.uploaded_at, coalesce(d.extraction_head, d.extraction)->'document'->>'title' AS title, "
    "coalesce(d.extraction_head, d.extraction)->'document'->>'type' AS document_type, "
    "coalesce(d.extraction_head, d.extraction)->'patient' AS patient_as_read, "
    "p.family, p.given, p.birth_date, "
    "(p.record IS NOT NULL) AS patient_known"
)


def flagged_page(
    conn: psycopg.Connection, filters: FlaggedFilters, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the flagged queue, oldest first, and how many match in all."""
    where, params = _flagged_where(filters)
    base = sql.SQL("FROM documents d JOIN patients p ON p.patient_id = d.patient_id WHERE {}")
    count_row = conn.execute(sql.SQL("SELECT count(*) ") + base.format(where), params).fetchone()
    total = int(count_row[0]) if count_row else 0
    query = (
        sql.SQL("SELECT ")
        + _FLAGGED_COLUMNS
        + sql.SQL(" ")
        + base.format(where)
        + sql.SQL(" ORDER BY d.created_at, d.document_id LIMIT %(limit)s OFFSET %(offset)s")
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {**params, "limit": limit, "offset": offset})
        return cur.fetchall(), total


def next_flagged(conn: psycopg.Connection, after_document_id: str) -> str | None:
    """The oldest flagged document other than this one: where a reviewer goes next."""
    row = conn.execute(
        "SELECT document_id FROM documents WHERE review_status = 'flagged' "
        "AND document_id <> %s ORDER BY created_at, document_id LIMIT 1",
        (after_document_id,),
    ).fetchone()
    return None if row is None else str(row[0])


# --- review actions and patients -----------------------------------------------------------


def action_outcome(
    conn: psycopg.Connection, document_id: str, action_id: uuid.UUID
) -> dict[str, Any] | None:
    """What the merge agent made of one review action, once it has applied (or refused) it."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT action_id, document_id, action, reviewer, outcome, reason, version_after, "
            "applied_at FROM review_actions WHERE action_id = %s AND document_id = %s",
            (action_id, document_id),
        )
        return cur.fetchone()


def patient_row(conn: psycopg.Connection, patient_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT patient_id, record, family, given, birth_date FROM patients "
            "WHERE patient_id = %s",
            (patient_id,),
        )
        return cur.fetchone()


def patient_resources(conn: psycopg.Connection, patient_id: str) -> list[dict[str, Any]]:
    """The patient's current record: every stored resource, with the document it came from."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT r.resource_type, r.document_id, r.body, "
            "coalesce(d.extraction_head, d.extraction)->'document'->>'title' AS document_title "
            "FROM resources r "
            "JOIN documents d ON d.document_id = r.document_id WHERE r.patient_id = %s "
            "ORDER BY r.resource_type, r.last_updated DESC, r.resource_id",
            (patient_id,),
        )
        return cur.fetchall()
