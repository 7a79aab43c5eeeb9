"""The append-only audit trail: appended in the caller's transaction (through audit_append(),
the only way the worker and app roles may), read back for the audit pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from domain.audit import AuditEntry, entry_mac
from domain.audit_keys import AuditKeyring
from storage.documents import LockedPatient
from storage.queue import add_day_range


def append_audit(
    cur: psycopg.Cursor,
    locked: dict[str, LockedPatient],
    entries: Sequence[AuditEntry],
    keyring: AuditKeyring,
) -> None:
    """Append entries for patients whose rows the caller holds locked, each with its MAC, in
    one call of audit_append() (which checks that they continue the chains and moves the
    heads); the caller's `locked` heads move along."""
    if not entries:
        return
    rows = []
    for entry in entries:
        head = locked[entry.patient_id]
        seq = head.audit_seq + 1
        key_id, mac = entry_mac(keyring, head.audit_head, seq, entry)
        rows.append(
            {
                "patient_id": entry.patient_id,
                "seq": seq,
                "document_id": entry.document_id,
                "action": entry.action.value,
                "actor_kind": entry.actor_kind.value,
                "actor": entry.actor,
                "details": entry.details,
                # Microseconds as the MAC has them (RFC 3339 keeps all six digits).
                "occurred_at": entry.occurred_at,
                "prev_hash": head.audit_head,
                "hash": mac,
                "key_id": key_id,
            }
        )
        head.audit_seq, head.audit_head = seq, mac
    # One JSON text: orjson writes it at C speed, PostgreSQL parses it once.
    cur.execute("SELECT audit_append(%s::jsonb)", (orjson.dumps(rows).decode(),))


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
    add_day_range(clauses, params, "occurred_at", filters.since, filters.until)
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
