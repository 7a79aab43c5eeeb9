"""Importing mapped legacy records: one transaction per batch, idempotent, one audit entry each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
import psycopg

from domain.legacy import LegacyMapping, Unmapped, legacy_audit_entry, plan_legacy_resources
from domain.merge_plan import ResourceChanges
from schemas import ReviewStatus
from schemas.events import Clock, utc_now
from storage._writes import DOCUMENT_UPSERT_COLUMNS, ChangeSet, apply_resource_changes
from storage.audit import append_audit
from storage.documents import lock_patients
from storage.merge import content_hash

Progress = Callable[[int], None]

BATCH_SIZE = 500
UNREADABLE_STATUS = "(unreadable)"

_COLUMNS = (*DOCUMENT_UPSERT_COLUMNS, "reviewer", "reviewed_at")
# No ON CONFLICT: a document stored concurrently by another writer must fail the batch (it is
# retried as a whole), never be half-imported next to that writer's state.
_INSERT_SQL = (
    f"INSERT INTO documents ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)


@dataclass(slots=True)
class ImportReport:
    """Counts in and out; `balanced` checks that every record read is accounted for."""

    counts_in: Counter[str] = field(default_factory=Counter)
    imported: Counter[tuple[str, str]] = field(default_factory=Counter)
    already_present: list[str] = field(default_factory=list)
    present_by_status: Counter[str] = field(default_factory=Counter)
    unmapped: list[Unmapped] = field(default_factory=list)
    resources: Counter[str] = field(default_factory=Counter)
    generic_flag_reasons: int = 0

    @property
    def total_in(self) -> int:
        return sum(self.counts_in.values())

    @property
    def total_imported(self) -> int:
        return sum(self.imported.values())

    @property
    def awaiting_processing(self) -> int:
        return sum(n for (_, new), n in self.imported.items() if new == ReviewStatus.PENDING)

    @property
    def balanced(self) -> bool:
        out = self.total_imported + len(self.already_present) + len(self.unmapped)
        return self.total_in == out


def _status_key(item: LegacyMapping | Unmapped) -> str:
    return item.old_status or UNREADABLE_STATUS


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
        mappings: list[LegacyMapping] = []
        for item in batch:
            report.counts_in[_status_key(item)] += 1
            if isinstance(item, Unmapped):
                report.unmapped.append(item)
            else:
                mappings.append(item)
        if mappings:
            _import_batch(conn, mappings, actor, clock(), dry_run, report)
        if progress is not None:
            progress(len(batch))
    return report


def _import_batch(
    conn: psycopg.Connection,
    mappings: Sequence[LegacyMapping],
    actor: str,
    now: datetime,
    dry_run: bool,
    report: ImportReport,
) -> None:
    with conn.transaction() as tx, conn.cursor() as cur:
        # Locked first: with its patient locked, nobody else can store one of our documents.
        locked = lock_patients(cur, [m.patient_id for m in mappings])
        cur.execute(
            "SELECT document_id, patient_id FROM documents WHERE document_id = ANY(%s) FOR UPDATE",
            ([m.document_id for m in mappings],),
        )
        owners: dict[str, str] = dict(cur.fetchall())
        fresh = [m for m in mappings if m.document_id not in owners]
        planned = [(m, plan_legacy_resources(m, now)) for m in fresh]
        if planned:
            cur.executemany(
                _INSERT_SQL, [_document_row(m, len(c.inserts), now) for m, c in planned]
            )
            apply_resource_changes(
                cur,
                [ChangeSet(m.patient_id, m.document_id, c) for m, c in planned if c.inserts],
                now,
            )
            append_audit(
                cur, locked, [legacy_audit_entry(m, c, actor=actor, now=now) for m, c in planned]
            )
        if dry_run:
            raise psycopg.Rollback(tx)
    # Counted once the batch is through: a failed batch raises and counts nothing as imported.
    _tally(report, mappings, owners, planned)


def _tally(
    report: ImportReport,
    mappings: Sequence[LegacyMapping],
    owners: dict[str, str],
    planned: Sequence[tuple[LegacyMapping, ResourceChanges]],
) -> None:
    for m in mappings:
        owner = owners.get(m.document_id)
        if owner is None:
            continue
        if owner == m.patient_id:
            report.already_present.append(m.document_id)
            report.present_by_status[m.old_status] += 1
        else:
            reason = f"document already stored for patient {owner!r}, not {m.patient_id!r}"
            report.unmapped.append(Unmapped(reason, m.where, m.document_id, m.old_status))
    for m, changes in planned:
        report.imported[(m.old_status, m.review_status.value)] += 1
        report.resources.update(w.resource_type for w in changes.inserts)
        report.generic_flag_reasons += m.generic_flag_reasons


def _document_row(mapping: LegacyMapping, stored_resources: int, now: datetime) -> tuple[Any, ...]:
    record, extraction, status = mapping.record, mapping.extraction, mapping.review_status
    row: dict[str, Any] = {
        "document_id": mapping.document_id,
        "patient_id": mapping.patient_id,
        "extraction_version": extraction.extraction_version,
        "version": 1,
        "review_status": status.value,
        "auto_approved": status == ReviewStatus.AUTO_APPROVED,
        "flag_reasons": orjson.dumps(
            [r.model_dump(mode="json") for r in mapping.flag_reasons]
        ).decode(),
        "confidence": record.confidence,
        "model_name": record.model,
        "model_version": None,
        "is_fallback": extraction.model.is_fallback,
        "resource_count": stored_resources,
        "processing_status": mapping.processing_status.value,
        # A pending record was never attempted here; the others count as processed once.
        "attempts": 0 if status == ReviewStatus.PENDING else 1,
        "error": None,
        "is_merged": mapping.is_merged,
        "event_id": extraction.event_id,
        "content_hash": content_hash(extraction),
        "extraction": orjson.dumps(extraction.model_dump(mode="json")).decode(),
        "uploaded_at": extraction.uploaded_at,
        "extracted_at": extraction.extracted_at,
        "received_at": now,
        "merged_at": now if mapping.is_merged else None,
        "failed_at": None,
        "processing_ms": None,
        "reviewer": record.reviewed_by,
        "reviewed_at": record.reviewed_at,
    }
    return tuple(row[c] for c in _COLUMNS)
