"""`optimerge bench audit`: the audit trail's costs on a scratch database and topics. Entries are
appended as the worker appends them (its role, `audit_append()`, batches of 500) and, for the
ceiling, by COPY as the owner; then a full verification of every chain (signing checkpoints),
more entries, and an incremental verification from those checkpoints, as
`optimerge audit verify` runs them (checkpoints read back from Kafka included)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from config import ResolvedSettings
from domain.audit import SYSTEM_ACTOR, AuditAction, AuditEntry, entry_mac
from domain.audit_keys import AuditKeyring
from optimerge.bench._env import scratch_database, scratch_topics
from pipeline.audit_check import load_checkpoints, verify_audit
from pipeline.audit_checkpointer import AuditCheckpointer
from schemas import ActorKind
from storage.audit import append_audit
from storage.db import connect, transaction
from storage.documents import lock_patients

Say = Callable[[str], None]
BATCH = 500


@dataclass(frozen=True, slots=True)
class AuditBenchConfig:
    entries: int = 100_000
    patients: int = 10_000
    new_entries: int = 1_000


def _entries(patients: list[str], count: int, rng: random.Random) -> list[AuditEntry]:
    now = datetime.now(UTC)
    return [
        AuditEntry(
            rng.choice(patients),
            f"bench-doc-{rng.randrange(10**9)}",
            AuditAction.MERGE,
            ActorKind.SYSTEM,
            SYSTEM_ACTOR,
            # About what a merge entry holds.
            {
                "extraction_version": 1,
                "document_version": 1,
                "review_status": "auto_approved",
                "flag_reasons": [],
                "resources": {"added": {"Condition": 4, "Observation": 6}},
                "resource_count": 10,
                "model": "extractor-large 2026.10",
                "event_id": f"{rng.getrandbits(128):032x}",
            },
            now,
        )
        for _ in range(count)
    ]


def _append(url: str, entries: list[AuditEntry], keyring: AuditKeyring) -> float:
    """Entries per second through audit_append(), BATCH a transaction, as the worker does."""
    started = time.perf_counter()
    with connect(url) as conn:
        for start in range(0, len(entries), BATCH):
            batch = entries[start : start + BATCH]
            with transaction(conn) as cur:
                locked = lock_patients(cur, [e.patient_id for e in batch])
                append_audit(cur, locked, batch, keyring)
    return len(entries) / (time.perf_counter() - started)


def _copy(url: str, entries: list[AuditEntry], keyring: AuditKeyring) -> float:
    """The same entries as the owner wrote them before roles (COPY, then the heads moved by an
    UPDATE per patient): the path audit_append() replaced."""
    heads: dict[str, tuple[int, str]] = {}
    started = time.perf_counter()
    with connect(url) as conn:
        for start in range(0, len(entries), BATCH):
            batch = entries[start : start + BATCH]
            with transaction(conn) as cur:
                lock_patients(cur, [e.patient_id for e in batch])
                with cur.copy(
                    "COPY audit_log (patient_id, seq, document_id, action, actor_kind, actor, "
                    "details, occurred_at, prev_hash, hash, key_id) FROM STDIN"
                ) as copy:
                    for e in batch:
                        seq, prev = heads.get(e.patient_id, (0, ""))
                        key_id, mac = entry_mac(keyring, prev, seq + 1, e)
                        copy.write_row(
                            (e.patient_id, seq + 1, e.document_id, e.action.value,
                             e.actor_kind.value, e.actor, orjson.dumps(e.details).decode(),
                             e.occurred_at, prev, mac, key_id)
                        )  # fmt: skip
                        heads[e.patient_id] = (seq + 1, mac)
                touched = sorted({e.patient_id for e in batch})
                cur.executemany(
                    "UPDATE patients SET audit_seq = %s, audit_head = %s WHERE patient_id = %s",
                    [(*heads[p], p) for p in touched],
                )
    return len(entries) / (time.perf_counter() - started)


def _verify_ms(settings: ResolvedSettings, keyring: AuditKeyring, *, full: bool) -> dict[str, Any]:
    started = time.perf_counter()
    checkpoints = load_checkpoints(settings, keyring)
    read = time.perf_counter()
    with connect(settings.app_url) as conn:
        report = verify_audit(conn, keyring, checkpoints, full=full)
    done = time.perf_counter()
    assert report.ok, report.breaks[:3]
    return {
        "total_ms": (done - started) * 1000,
        "checkpoints_read_ms": (read - started) * 1000,
        "verify_ms": (done - read) * 1000,
        "entries_checked": report.entries,
        "patients": report.patients,
    }


def run_audit_bench(
    settings: ResolvedSettings, config: AuditBenchConfig, say: Say
) -> dict[str, Any]:
    keyring = settings.audit_keyring()
    rng = random.Random(13)  # noqa: S311 (a reproducible feed, not a secret)
    patients = [f"bench-p-{n:06d}" for n in range(config.patients)]
    entries = _entries(patients, config.entries, rng)
    more = _entries(patients, config.new_entries, rng)
    with scratch_database(settings, "copy") as scratch:
        say(f"{config.entries:,} entries as the owner, by COPY (the path before roles)")
        copy_rate = _copy(scratch.migration_url, entries, keyring)
    with scratch_database(settings, "audit") as scratch, scratch_topics(settings, "audit") as t:
        run = scratch.with_overrides(topic_prefix=t.prefix)
        say(f"appending {config.entries:,} entries of {config.patients:,} patients as the worker")
        append_rate = _append(run.database_url, entries, keyring)
        # Statistics as autovacuum keeps them on a table that grows steadily, not in bulk.
        with connect(run.migration_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE audit_log, patients")
        say("full verification, signing every chain's head")
        checkpointer = AuditCheckpointer(run, keyring)
        started = time.perf_counter()
        first = checkpointer.run_once(full=True)
        checkpoint_ms = (time.perf_counter() - started) * 1000
        say("audit verify --full, then incremental after more entries")
        full = _verify_ms(run, keyring, full=True)
        _append(run.database_url, more, keyring)
        incremental = _verify_ms(run, keyring, full=False)
        # The checkpointer's own run: its checkpoints in memory, new ones signed and published.
        steady = checkpointer.run_once()
    return {
        "config": {
            "entries": config.entries,
            "patients": config.patients,
            "new_entries": config.new_entries,
            "batch": BATCH,
        },
        "append_entries_per_s": append_rate,
        "copy_entries_per_s": copy_rate,
        "first_checkpoint_ms": checkpoint_ms,
        "checkpoints_published": first.published,
        "full": full,
        "incremental": incremental,
        "incremental_over_full": incremental["total_ms"] / full["total_ms"],
        "checkpointer_incremental_ms": steady.elapsed_ms,
        "checkpointer_published": steady.published,
    }
