"""The legacy import: mapped records written batch by batch, one transaction and one audit entry
each, idempotent. The one writer besides the stream, for a one-off migration
(docs/contract.md#legacy-import)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice

import psycopg

from domain.audit_keys import AuditKeyring
from domain.legacy import LegacyMapping, Unmapped, legacy_audit_entry, plan_legacy_resources
from domain.legacy_report import ImportReport, legacy_document
from domain.merge_plan import ChangeSet
from schemas.events import Clock, utc_now
from storage import documents, resources
from storage.audit import append_audit
from storage.legacy import lock_stored_owners

Progress = Callable[[int], None]

BATCH_SIZE = 500


def _batches(
    items: Iterable[LegacyMapping | Unmapped], size: int
) -> Iterator[list[LegacyMapping | Unmapped]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def import_legacy(
    conn: psycopg.Connection,
    items: Iterable[LegacyMapping | Unmapped],
    *,
    actor: str,
    keyring: AuditKeyring,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    clock: Clock = utc_now,
    progress: Progress | None = None,
) -> ImportReport:
    """Import mapped records batch by batch; Unmapped items are only counted and reported.

    A document already stored (by an earlier import or by the pipeline) is skipped and counted
    as already present, so re-running an import writes nothing. With `dry_run` every batch is
    rolled back: the same report, nothing written. Batches committed before an error stay."""
    report = ImportReport()
    for batch in _batches(items, batch_size):
        for item in batch:
            report.count_read(item)
        mappings = [item for item in batch if isinstance(item, LegacyMapping)]
        if mappings:
            _import_batch(conn, mappings, actor, keyring, clock(), dry_run, report)
        if progress is not None:
            progress(len(batch))
    return report


def _import_batch(
    conn: psycopg.Connection,
    mappings: Sequence[LegacyMapping],
    actor: str,
    keyring: AuditKeyring,
    now: datetime,
    dry_run: bool,
    report: ImportReport,
) -> None:
    with conn.transaction() as tx, conn.cursor() as cur:
        # Locked first: with its patient locked, nobody else can store one of our documents.
        locked = documents.lock_patients(cur, [m.patient_id for m in mappings])
        owners = lock_stored_owners(cur, [m.document_id for m in mappings])
        fresh = [m for m in mappings if m.document_id not in owners]
        planned = [(m, plan_legacy_resources(m, now)) for m in fresh]
        if planned:
            documents.insert_documents_strictly(
                cur, [legacy_document(m, len(c.inserts), now) for m, c in planned]
            )
            resources.apply_resource_changes(
                cur,
                [ChangeSet(m.patient_id, m.document_id, c) for m, c in planned if c.inserts],
                now,
            )
            append_audit(
                cur,
                locked,
                [legacy_audit_entry(m, c, actor=actor, now=now) for m, c in planned],
                keyring,
            )
        if dry_run:
            raise psycopg.Rollback(tx)
    # Counted once the batch is through: a failed batch raises and counts nothing as imported.
    report.tally(mappings, owners, planned)
