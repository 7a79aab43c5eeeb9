"""What the audit verification reads, inside the caller's snapshot: the chain heads kept on
patient rows, how many entries each patient has, and the entries themselves (all of them, or
each patient's from a given seq on), streamed through a server-side cursor."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from enum import StrEnum
from typing import Any, TypeVar, cast

import orjson
import psycopg

from domain.audit import AuditAction, AuditEntry
from domain.audit_verify import StoredEntry
from schemas import ActorKind

Heads = dict[str, tuple[int, str]]
E = TypeVar("E", bound=StrEnum)


def _known(kind: type[E], value: str) -> E:
    # A value no code writes (a forged row) is kept as it is: its MAC then fails, it is named.
    try:
        return kind(value)
    except ValueError:
        return cast(E, value)


def _where(patients: str | Collection[str] | None) -> tuple[str, tuple[Any, ...]]:
    if patients is None:
        return "", ()
    if isinstance(patients, str):
        return "WHERE patient_id = %s", (patients,)
    return "WHERE patient_id = ANY(%s)", (list(patients),)


def read_heads(conn: psycopg.Connection, patients: str | Collection[str] | None = None) -> Heads:
    """(audit_seq, audit_head) of every patient row (or of these)."""
    where, params = _where(patients)
    rows = conn.execute(
        f"SELECT patient_id, audit_seq, audit_head FROM patients {where}", params
    ).fetchall()
    return {pid: (seq, head) for pid, seq, head in rows}


def entry_counts(
    conn: psycopg.Connection, patients: str | Collection[str] | None = None
) -> dict[str, int]:
    """Entries per patient (an index-only scan: cheap beside reading the entries)."""
    where, params = _where(patients)
    rows = conn.execute(
        f"SELECT patient_id, count(*) FROM audit_log {where} GROUP BY patient_id", params
    ).fetchall()
    return {pid: int(n) for pid, n in rows}


def unsettled_patients(
    conn: psycopg.Connection, checkpoints: Mapping[str, tuple[int, str]]
) -> set[str]:
    """The patients whose chain is not exactly as their checkpoint (seq, head) left it: a head
    that moved, an entry count that is not the checkpoint's seq, the checkpointed entry gone or
    another; and every patient with entries or a head but no checkpoint. The others need no
    entry read at all. One statement, the comparisons in PostgreSQL."""
    ids = list(checkpoints)
    rows = conn.execute(
        "WITH c AS (SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[]) "
        "AS c(patient_id, seq, head)) "
        "SELECT c.patient_id FROM c "
        "LEFT JOIN patients p ON p.patient_id = c.patient_id "
        "LEFT JOIN audit_log a ON a.patient_id = c.patient_id AND a.seq = c.seq "
        "WHERE p.patient_id IS NULL OR p.audit_seq <> c.seq OR p.audit_head <> c.head "
        "OR a.hash IS DISTINCT FROM c.head "
        "OR (SELECT count(*) FROM audit_log x WHERE x.patient_id = c.patient_id) <> c.seq "
        "UNION SELECT p.patient_id FROM patients p LEFT JOIN c ON c.patient_id = p.patient_id "
        "WHERE c.patient_id IS NULL AND (p.audit_seq <> 0 OR p.audit_head <> '' "
        "OR EXISTS (SELECT 1 FROM audit_log x WHERE x.patient_id = p.patient_id))",
        (ids, [checkpoints[p][0] for p in ids], [checkpoints[p][1] for p in ids]),
    ).fetchall()
    return {r[0] for r in rows}


_COLUMNS = (
    # details as text, read as it was MAC'd (floats as floats, not exact decimals).
    "a.patient_id, a.seq, a.document_id, a.action, a.actor_kind, a.actor, a.details::text, "
    "a.occurred_at, a.prev_hash, a.hash, a.key_id"
)


def all_entries(
    conn: psycopg.Connection, patient_id: str | None = None
) -> Iterator[tuple[str, list[StoredEntry]]]:
    """Every entry, grouped by patient in seq order. Run inside a transaction."""
    where, params = _where(patient_id)
    return _grouped(
        conn, f"SELECT {_COLUMNS} FROM audit_log a {where} ORDER BY a.patient_id, a.seq", params
    )


def entries_from(
    conn: psycopg.Connection, starts: Mapping[str, int]
) -> Iterator[tuple[str, list[StoredEntry]]]:
    """Each patient's entries from its start seq on, grouped by patient in seq order."""
    ids = sorted(starts)
    return _grouped(
        conn,
        f"SELECT {_COLUMNS} FROM unnest(%s::text[], %s::bigint[]) AS s(patient_id, seq) "
        "JOIN audit_log a ON a.patient_id = s.patient_id AND a.seq >= s.seq "
        "ORDER BY a.patient_id, a.seq",
        (ids, [starts[p] for p in ids]),
    )


def _grouped(
    conn: psycopg.Connection, query: str, params: tuple[Any, ...]
) -> Iterator[tuple[str, list[StoredEntry]]]:
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(query, params)
        current: str | None = None
        rows: list[StoredEntry] = []
        for pid, seq, doc, action, kind, actor, details, at, prev, digest, key_id in cur:
            if pid != current:
                if current is not None:
                    yield current, rows
                current, rows = pid, []
            entry = AuditEntry(
                pid, doc, _known(AuditAction, action), _known(ActorKind, kind), actor,
                orjson.loads(details), at,
            )  # fmt: skip
            rows.append(StoredEntry(seq, prev, digest, key_id, entry))
        if current is not None:
            yield current, rows
