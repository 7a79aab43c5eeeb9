"""The append-only audit trail: appended in the caller's transaction, read back for the chain
check and the audit pages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from domain.audit import AuditAction, AuditEntry, ChainRow, chain_hash
from schemas import ActorKind
from storage.documents import LockedPatient
from storage.queue import day_start


def append_audit(
    cur: psycopg.Cursor, locked: dict[str, LockedPatient], entries: Sequence[AuditEntry]
) -> None:
    """Append entries for patients whose rows the caller holds locked; move their chain heads."""
    if not entries:
        return
    touched: set[str] = set()
    with cur.copy(
        "COPY audit_log (patient_id, seq, document_id, action, actor_kind, actor, details, "
        "occurred_at, prev_hash, hash) FROM STDIN"
    ) as copy:
        for entry in entries:
            head = locked[entry.patient_id]
            seq = head.audit_seq + 1
            digest = chain_hash(head.audit_head, seq, entry)
            copy.write_row(
                (
                    entry.patient_id,
                    seq,
                    entry.document_id,
                    entry.action.value,
                    entry.actor_kind.value,
                    entry.actor,
                    orjson.dumps(entry.details).decode(),
                    entry.occurred_at,
                    head.audit_head,
                    digest,
                )
            )
            head.audit_seq, head.audit_head = seq, digest
            touched.add(entry.patient_id)
    cur.executemany(
        "UPDATE patients SET audit_seq = %s, audit_head = %s WHERE patient_id = %s",
        [(locked[p].audit_seq, locked[p].audit_head, p) for p in sorted(touched)],
    )


@dataclass(frozen=True, slots=True)
class StoredChains:
    """What the chain check reads, in one snapshot: the entries, the heads kept on patient rows,
    and each patient's last entry."""

    chains: Iterator[tuple[str, list[ChainRow]]]
    heads: list[tuple[str, int, str]]
    last_entries: dict[str, tuple[int, str]]


def read_chains(conn: psycopg.Connection, patient_id: str | None = None) -> StoredChains:
    """Run inside a transaction: the entries stream through a server-side cursor."""
    where, params = ("WHERE patient_id = %s", (patient_id,)) if patient_id else ("", ())
    heads = [
        (pid, seq, head)
        for pid, seq, head in conn.execute(
            f"SELECT patient_id, audit_seq, audit_head FROM patients {where}", params
        ).fetchall()
    ]
    last = {
        pid: (seq, h)
        for pid, seq, h in conn.execute(
            "SELECT DISTINCT ON (patient_id) patient_id, seq, hash FROM audit_log "
            f"{where} ORDER BY patient_id, seq DESC",
            params,
        ).fetchall()
    }
    return StoredChains(_chains(conn, where, params), heads, last)


def _chains(
    conn: psycopg.Connection, where: str, params: tuple[Any, ...]
) -> Iterator[tuple[str, list[ChainRow]]]:
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(
            # details as text, read as it was hashed (floats as floats, not exact decimals).
            "SELECT patient_id, seq, document_id, action, actor_kind, actor, details::text, "
            f"occurred_at, prev_hash, hash FROM audit_log {where} ORDER BY patient_id, seq",
            params,
        )
        current: str | None = None
        rows: list[ChainRow] = []
        for pid, seq, doc, action, kind, actor, details, at, prev, digest in cur:
            if pid != current:
                if current is not None:
                    yield current, rows
                current, rows = pid, []
            body = orjson.loads(details)
            entry = AuditEntry(pid, doc, AuditAction(action), ActorKind(kind), actor, body, at)
            rows.append((seq, prev, digest, entry))
        if current is not None:
            yield current, rows


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
        params["since"] = day_start(filters.since)
    if filters.until is not None:
        clauses.append(sql.SQL("occurred_at < %(until)s"))
        params["until"] = day_start(filters.until + timedelta(days=1))
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
