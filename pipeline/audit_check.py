"""Checking the audit trail: every patient's hash chain recomputed in one snapshot, so a merge
committing meanwhile cannot look like a broken chain (docs/contract.md#audit-trail)."""

from __future__ import annotations

import psycopg

from domain.audit import ChainReport, verify_chains
from storage.audit import read_chains
from storage.db import snapshot


def verify_audit_chains(conn: psycopg.Connection, patient_id: str | None = None) -> ChainReport:
    """Every patient's chain (or one patient's). Opens its own snapshot unless the caller is
    in a transaction already (whose snapshot it then shares)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return _verify(conn, patient_id)
    with snapshot(conn):
        return _verify(conn, patient_id)


def _verify(conn: psycopg.Connection, patient_id: str | None) -> ChainReport:
    stored = read_chains(conn, patient_id)
    return verify_chains(stored.chains, stored.heads, stored.last_entries)
