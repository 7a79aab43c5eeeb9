"""The audit hash chain detects an altered, removed or reordered entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from domain.audit import AuditEntry, chain_hash, verify_chain

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def chain(n: int) -> list[tuple[int, str, str, AuditEntry]]:
    rows, prev = [], ""
    for seq in range(1, n + 1):
        entry = AuditEntry("p-1", f"doc-{seq}", "merge", "system", "agent", {"n": seq}, T0)
        digest = chain_hash(prev, seq, entry)
        rows.append((seq, prev, digest, entry))
        prev = digest
    return rows


def test_an_untouched_chain_verifies():
    assert verify_chain("p-1", chain(5)) is None


def test_an_altered_entry_is_named():
    rows = chain(5)
    seq, prev, digest, entry = rows[2]
    rows[2] = (seq, prev, digest, replace(entry, details={"n": 99}))
    broken = verify_chain("p-1", rows)
    assert broken is not None and broken.seq == 3


def test_a_removed_entry_is_detected():
    rows = chain(5)
    del rows[1]
    broken = verify_chain("p-1", rows)
    assert broken is not None and broken.seq == 3
