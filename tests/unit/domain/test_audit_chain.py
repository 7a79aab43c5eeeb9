"""The audit chain (pure): MACs under the audit key, legacy hashes sealed by checkpoints, and
the verifier naming the first bad entry of an altered, forged, truncated or rewritten chain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.audit import AuditAction, AuditEntry, chain_hash, entry_mac
from domain.audit_checkpoints import (
    VerifiedHead,
    checkpoint_valid,
    newest_checkpoints,
    sign_checkpoint,
)
from domain.audit_keys import AuditKeyring
from domain.audit_verify import BreakKind, StoredEntry, verify_patient
from schemas import ActorKind

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEY = AuditKeyring.from_secrets("k" * 40)
OTHER = AuditKeyring.from_secrets("o" * 40)


def entry(seq: int) -> AuditEntry:
    return AuditEntry(
        "p-1", f"doc-{seq}", AuditAction.MERGE, ActorKind.SYSTEM, "agent", {"n": seq}, T0
    )


def chain(n: int, *, keyring: AuditKeyring = KEY, legacy: int = 0) -> list[StoredEntry]:
    rows, prev = [], ""
    for seq in range(1, n + 1):
        if seq <= legacy:
            key_id, mac = None, chain_hash(prev, seq, entry(seq))
        else:
            key_id, mac = entry_mac(keyring, prev, seq, entry(seq))
        rows.append(StoredEntry(seq, prev, mac, key_id, entry(seq)))
        prev = mac
    return rows


def check(rows, *, checkpoint=None, full=True, count=None, head=None, keyring=KEY):
    last = (rows[-1].seq, rows[-1].hash) if rows else (0, "")
    return verify_patient(
        "p-1",
        rows,
        keyring,
        checkpoint=checkpoint,
        stored_head=last if head is None else head,
        full=full,
        count=len(rows) if count is None else count,
    )


def test_an_untouched_chain_verifies_and_says_where_it_stands():
    rows = chain(5)
    result = check(rows)
    assert result.broken is None and result.checked == 5
    assert result.verified == VerifiedHead("p-1", 5, rows[-1].hash, 0)


def test_an_altered_entry_is_named():
    rows = chain(5)
    rows[2] = replace(rows[2], entry=replace(rows[2].entry, details={"n": 99}))
    broken = check(rows).broken
    assert broken is not None and (broken.seq, broken.kind) == (3, BreakKind.CONTENT)


def test_an_entry_recomputed_without_the_key_is_named():
    rows = chain(5)
    # A database attacker rewrites entry 4 and recomputes what they can: an unkeyed hash.
    forged = replace(rows[3].entry, actor="mallory")
    rows[3] = StoredEntry(4, rows[2].hash, chain_hash(rows[2].hash, 4, forged), None, forged)
    broken = check(rows).broken
    assert broken is not None and (broken.seq, broken.kind) == (4, BreakKind.UNKEYED)


def test_a_mac_under_another_key_is_a_forgery_or_a_missing_retired_key():
    broken = check(chain(3, keyring=OTHER)).broken
    assert broken is not None and (broken.seq, broken.kind) == (1, BreakKind.UNKNOWN_KEY)


def test_a_removed_entry_is_detected():
    rows = chain(5)
    del rows[1]
    broken = check(rows).broken
    assert broken is not None and (broken.seq, broken.kind) == (2, BreakKind.SEQUENCE)


def test_a_head_that_is_not_the_last_entry_is_named():
    rows = chain(5)
    broken = check(rows, head=(4, rows[3].hash)).broken
    assert broken is not None and broken.kind == BreakKind.HEAD


def test_legacy_entries_verify_unkeyed_as_a_prefix_then_only_as_far_as_the_seal():
    rows = chain(5, legacy=3)
    first = check(rows)
    assert first.broken is None and first.verified is not None
    assert first.verified.legacy_seq == 3
    sealed = VerifiedHead("p-1", 5, rows[-1].hash, legacy_seq=2)
    broken = check(rows, checkpoint=sealed).broken
    assert broken is not None and (broken.seq, broken.kind) == (3, BreakKind.UNKEYED)


def test_incremental_verification_starts_at_the_checkpoint_and_trusts_it():
    rows = chain(8)
    at_5 = VerifiedHead("p-1", 5, rows[4].hash)
    rows[1] = replace(rows[1], entry=replace(rows[1].entry, actor="mallory"))
    # Entry 2 is behind the checkpoint: an incremental run does not look; a full one does.
    result = check(rows[4:], checkpoint=at_5, full=False, count=8)
    assert result.broken is None and result.checked == 3
    broken = check(rows, checkpoint=at_5).broken
    assert broken is not None and broken.seq == 2


@pytest.mark.parametrize("full", [False, True])
def test_entries_deleted_since_a_checkpoint_are_truncation(full: bool):
    rows = chain(8)
    at_6 = VerifiedHead("p-1", 6, rows[5].hash)
    kept = rows[:4]
    result = check(kept if full else [], checkpoint=at_6, full=full, count=4)
    broken = result.broken
    assert broken is not None and broken.kind == BreakKind.TRUNCATED


def test_a_chain_replaced_consistently_differs_from_its_checkpoint():
    rows = chain(6)
    at_4 = VerifiedHead("p-1", 4, rows[3].hash)
    replaced = chain(6, keyring=OTHER)
    broken = check(replaced[3:], checkpoint=at_4, full=False, count=6).broken
    assert broken is not None and (broken.seq, broken.kind) == (4, BreakKind.REWRITTEN)


def test_entries_deleted_before_the_checkpoint_show_in_the_count():
    rows = chain(8)
    at_5 = VerifiedHead("p-1", 5, rows[4].hash)
    broken = check(rows[4:], checkpoint=at_5, full=False, count=7).broken
    assert broken is not None and broken.kind == BreakKind.SEQUENCE


def test_checkpoints_are_signed_and_the_newest_valid_one_counts():
    rows = chain(6)
    old = sign_checkpoint(KEY, VerifiedHead("p-1", 3, rows[2].hash), T0)
    new = sign_checkpoint(KEY, VerifiedHead("p-1", 6, rows[5].hash), T0 + timedelta(minutes=1))
    forged = sign_checkpoint(OTHER, VerifiedHead("p-1", 9, "f" * 64), T0)
    edited = new.model_copy(update={"seq": 7})
    assert checkpoint_valid(KEY, new) and not checkpoint_valid(KEY, edited)
    found = newest_checkpoints(KEY, [new, old, forged, edited])  # a replayed old one too
    assert found.newest["p-1"] == new
    assert found.forged == [forged, edited]


def test_a_retired_key_still_verifies_what_it_signed():
    rows = chain(3, keyring=OTHER)
    rotated = AuditKeyring.from_secrets("n" * 40, ["o" * 40])
    assert check(rows, keyring=rotated).broken is None
    assert rotated.current.key_id != OTHER.current.key_id


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32"):
        AuditKeyring.from_secrets("short")
