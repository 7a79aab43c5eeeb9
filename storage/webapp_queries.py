"""The reviewer app's reads and its few writes (accounts, API tokens): its SQL stays in storage/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads


@contextmanager
def snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """Several reads that must agree (a document's state and the outcome of an action on it)
    in one read-only REPEATABLE READ transaction: a merge agent committing between them cannot
    make the page contradict itself."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def configure_connection(conn: psycopg.Connection) -> None:
    """The same JSON codecs as `storage.db.connect`, for connections a pool makes."""
    set_json_dumps(lambda obj: orjson.dumps(obj).decode(), context=conn)
    set_json_loads(orjson.loads, context=conn)


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_at: datetime


class UserExistsError(ValueError):
    pass


def create_user(conn: psycopg.Connection, name: str, role: str, password_hash: str) -> None:
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)",
                (name, role, password_hash),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise UserExistsError(f"user {name} already exists") from exc


def get_user(conn: psycopg.Connection, name: str) -> UserRow | None:
    row = conn.execute(
        "SELECT name, role, password_hash, created_at FROM users WHERE name = %s", (name,)
    ).fetchone()
    return None if row is None else UserRow(*row)


def list_users(conn: psycopg.Connection) -> list[UserRow]:
    rows = conn.execute(
        "SELECT name, role, password_hash, created_at FROM users ORDER BY name"
    ).fetchall()
    return [UserRow(*row) for row in rows]


def update_password_hash(conn: psycopg.Connection, name: str, password_hash: str) -> None:
    """Store a rehashed password (argon2 parameters grew since it was hashed)."""
    conn.execute(
        "UPDATE users SET password_hash = %s, updated_at = now() WHERE name = %s",
        (password_hash, name),
    )


def create_api_token(conn: psycopg.Connection, user: str, token_hash: str, label: str) -> None:
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_name, label) VALUES (%s, %s, %s)",
        (token_hash, user, label),
    )


def user_for_token(conn: psycopg.Connection, token_hash: str) -> UserRow | None:
    row = conn.execute(
        "UPDATE api_tokens SET last_used_at = now() FROM users "
        "WHERE api_tokens.token_hash = %s AND users.name = api_tokens.user_name "
        "RETURNING users.name, users.role, users.password_hash, users.created_at",
        (token_hash,),
    ).fetchone()
    return None if row is None else UserRow(*row)


# --- the flagged queue ---------------------------------------------------------------------


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


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _flagged_where(filters: FlaggedFilters) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("d.review_status = 'flagged'")]
    params: dict[str, Any] = {}
    if filters.since is not None:
        clauses.append(sql.SQL("d.created_at >= %(since)s"))
        params["since"] = _day_start(filters.since)
    if filters.until is not None:
        clauses.append(sql.SQL("d.created_at < %(until)s"))
        params["until"] = _day_start(filters.until + timedelta(days=1))
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
                    "OR d.extraction->'patient'->'name'->>'family' ILIKE {k} "
                    "OR (d.extraction->'patient'->'name'->'given')::text ILIKE {k})"
                ).format(k=sql.Placeholder(key))
            )
        by_name = sql.SQL(" AND ").join(name_clauses) if name_clauses else sql.SQL("false")
        clauses.append(sql.SQL("(d.patient_id = %(patient_exact)s OR ({}))").format(by_name))
    return sql.SQL(" AND ").join(clauses), params


_FLAGGED_COLUMNS = sql.SQL(
    "d.document_id, d.patient_id, d.version, d.flag_reasons, d.confidence, d.model_name, "
    "d.model_version, d.is_fallback, d.resource_count, d.processing_status, d.created_at, "
    "d.uploaded_at, d.extraction->'document'->>'title' AS title, "
    "d.extraction->'document'->>'type' AS document_type, "
    "d.extraction->'patient' AS patient_as_read, p.family, p.given, p.birth_date, "
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
            "d.extraction->'document'->>'title' AS document_title FROM resources r "
            "JOIN documents d ON d.document_id = r.document_id WHERE r.patient_id = %s "
            "ORDER BY r.resource_type, r.last_updated DESC, r.resource_id",
            (patient_id,),
        )
        return cur.fetchall()


# --- the audit trail -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilters:
    patient: str | None = None
    document: str | None = None
    actor: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


def _audit_where(filters: AuditFilters) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, Any] = {}
    for column, key, value in (
        ("patient_id", "patient", filters.patient),
        ("document_id", "document", filters.document),
        ("actor", "actor", filters.actor),
        ("action", "action", filters.action),
    ):
        if value:
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(key)))
            params[key] = value
    if filters.since is not None:
        clauses.append(sql.SQL("occurred_at >= %(since)s"))
        params["since"] = _day_start(filters.since)
    if filters.until is not None:
        clauses.append(sql.SQL("occurred_at < %(until)s"))
        params["until"] = _day_start(filters.until + timedelta(days=1))
    return sql.SQL(" AND ").join(clauses), params


def audit_page(
    conn: psycopg.Connection, filters: AuditFilters, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Audit entries, newest first, and how many match in all."""
    where, params = _audit_where(filters)
    count_row = conn.execute(
        sql.SQL("SELECT count(*) FROM audit_log WHERE {}").format(where), params
    ).fetchone()
    total = int(count_row[0]) if count_row else 0
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT audit_id, patient_id, seq, document_id, action, actor_kind, actor, "
                "details, occurred_at FROM audit_log WHERE {} "
                "ORDER BY occurred_at DESC, audit_id DESC LIMIT %(limit)s OFFSET %(offset)s"
            ).format(where),
            {**params, "limit": limit, "offset": offset},
        )
        return cur.fetchall(), total


def audit_actions(conn: psycopg.Connection) -> list[str]:
    """The action names the trail holds (merge, rollback, ...), for the filter's choices."""
    return [r[0] for r in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1")]


def schema_ready(conn: psycopg.Connection) -> bool:
    """True once the app's tables exist (`optimerge migrate` has run)."""
    row = conn.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()
    return bool(row and row[0])
