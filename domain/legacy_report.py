"""What a legacy import did, and the document rows it writes (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.documents import DocumentWrite, extraction_head
from domain.legacy import LegacyMapping, Unmapped
from domain.merge_plan import ResourceChanges
from domain.reports import content_hash
from schemas import ReviewStatus

UNREADABLE_STATUS = "(unreadable)"


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

    def count_read(self, item: LegacyMapping | Unmapped) -> None:
        self.counts_in[item.old_status or UNREADABLE_STATUS] += 1
        if isinstance(item, Unmapped):
            self.unmapped.append(item)

    def tally(
        self,
        mappings: Sequence[LegacyMapping],
        owners: Mapping[str, str],
        planned: Sequence[tuple[LegacyMapping, ResourceChanges]],
    ) -> None:
        """Count a committed batch: what was stored before (or for someone else), what is new."""
        for m in mappings:
            owner = owners.get(m.document_id)
            if owner is None:
                continue
            if owner == m.patient_id:
                self.already_present.append(m.document_id)
                self.present_by_status[m.old_status] += 1
            else:
                reason = f"document already stored for patient {owner!r}, not {m.patient_id!r}"
                self.unmapped.append(Unmapped(reason, m.where, m.document_id, m.old_status))
        for m, changes in planned:
            self.imported[(m.old_status, m.review_status.value)] += 1
            self.resources.update(w.resource_type for w in changes.inserts)
            self.generic_flag_reasons += m.generic_flag_reasons


def legacy_document(mapping: LegacyMapping, stored_resources: int, now: datetime) -> DocumentWrite:
    record, extraction, status = mapping.record, mapping.extraction, mapping.review_status
    return DocumentWrite(
        document_id=mapping.document_id,
        patient_id=mapping.patient_id,
        extraction_version=extraction.extraction_version,
        version=1,
        review_status=status,
        auto_approved=status == ReviewStatus.AUTO_APPROVED,
        flag_reasons=tuple(mapping.flag_reasons),
        confidence=record.confidence,
        model_name=record.model,
        model_version=None,
        is_fallback=extraction.model.is_fallback,
        resource_count=stored_resources,
        processing_status=mapping.processing_status,
        # A pending record was never attempted here; the others count as processed once.
        attempts=0 if status == ReviewStatus.PENDING else 1,
        error=None,
        is_merged=mapping.is_merged,
        event_id=extraction.event_id,
        content_hash=content_hash(extraction),
        extraction=extraction.model_dump_json(),
        extraction_head=extraction_head(extraction),
        uploaded_at=extraction.uploaded_at,
        extracted_at=extraction.extracted_at,
        received_at=now,
        merged_at=now if mapping.is_merged else None,
        failed_at=None,
        processing_ms=None,
        reviewer=record.reviewed_by,
        reviewed_at=record.reviewed_at,
    )
