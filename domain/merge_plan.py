"""What to write when an extraction arrives: the pure half of the merge (storage/ does the I/O).

Given the stored state of a document (or none) and an incoming extraction, decide: a first merge,
a re-merge of a newer extraction_version, a redelivered duplicate (no-op), or a stale version
(refused). A re-merge replaces exactly the resources that document contributed before.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.resource_text import links_to_any, stamp_meta, stamped_text
from domain.resources import (
    CURRENT_ID_SCHEME,
    DocumentResources,
    FhirResource,
    content_of,
    document_source,
    fhir_instant,
    prepare_resources,
    rewrite_local_references,
    stamp,
)
from schemas import ExtractionResult, FlagReason, ProcessingStatus, ReviewStatus
from schemas.exact_json import dumps_exact


class MergeOutcome(StrEnum):
    MERGED = "merged"
    REMERGED = "remerged"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_id: str
    resource_type: str
    version_id: int
    body: FhirResource


@dataclass(frozen=True, slots=True)
class LastMerge:
    """The merge that made a stored document what it is, when nothing has changed it since:
    its event redelivered announces it again with these facts (the same output events)."""

    event_id: uuid.UUID
    merged_at: datetime
    received_at: datetime | None
    processing_ms: float | None


def last_merge_of(
    *,
    event_id: uuid.UUID | None,
    is_merged: bool,
    processing_status: ProcessingStatus,
    merged_at: datetime | None,
    received_at: datetime | None,
    processing_ms: float | None,
    changed_at: Sequence[datetime | None],
) -> LastMerge | None:
    """The document's last merge, if no review or failure (`changed_at`) came after it."""
    if event_id is None or merged_at is None or not is_merged:
        return None
    if processing_status != ProcessingStatus.COMPLETE:
        return None
    if any(at is not None and at > merged_at for at in changed_at):
        return None
    return LastMerge(event_id, merged_at, received_at, processing_ms)


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """The part of a document's stored state that merge and review decisions depend on."""

    document_id: str
    patient_id: str
    extraction_version: int
    version: int
    review_status: ReviewStatus
    processing_status: ProcessingStatus
    is_merged: bool
    flag_reasons: tuple[FlagReason, ...] = ()
    attempts: int = 1
    content_hash: str | None = None
    resources: tuple[StoredResource, ...] = ()
    # The last version of each resource removed from the document (its removal's history row),
    # so one removed by a rollback and merged again continues its version sequence. A stored
    # resource needs none: its version is above every one in its history (numbered below).
    retired_versions: Mapping[str, int] = field(default_factory=dict)
    # How its resource ids are derived (domain/resources.py): kept for the document's life.
    id_scheme: int = CURRENT_ID_SCHEME
    # The rule-set version that judged its current extraction (None: not judged by the rules).
    rule_set_version: int | None = None
    last_merge: LastMerge | None = None


@dataclass(frozen=True, slots=True)
class ResourceWrite:
    resource_id: str
    resource_type: str
    version_id: int
    # The resource as planned (local links rewritten), before our id and meta are stamped.
    source: FhirResource
    document_id: str
    last_updated: str
    # The stored body as JSON text, when the event's own text could be used (no re-serialising).
    text: bytes | None = None

    @property
    def body(self) -> FhirResource:
        """The resource as stored: our id, and meta naming its source document."""
        return stamp(
            self.source,
            resource_id=self.resource_id,
            document_id=self.document_id,
            version_id=self.version_id,
            last_updated=self.last_updated,
        )

    def json_text(self) -> bytes:
        return self.text if self.text is not None else dumps_exact(self.body)


@dataclass(slots=True)
class ResourceChanges:
    """The writes that turn a document's stored resource set into a new one."""

    inserts: list[ResourceWrite] = field(default_factory=list)
    updates: list[ResourceWrite] = field(default_factory=list)
    # Stored resources replaced (by an update) or removed: their old version goes to history.
    superseded: list[tuple[StoredResource, str]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def deleted(self) -> list[StoredResource]:
        return [old for old, why in self.superseded if why == "delete"]

    def summary(self) -> dict[str, Any]:
        return {
            "added": _count_types(w.resource_type for w in self.inserts),
            "updated": _count_types(w.resource_type for w in self.updates),
            "removed": _count_types(r.resource_type for r in self.deleted),
            "unchanged": self.unchanged,
        }


def _count_types(types: Any) -> dict[str, int]:
    return dict(sorted(Counter(types).items()))


def plan_resource_changes(
    *,
    document_id: str,
    new_resources: Sequence[FhirResource],
    new_ids: Sequence[str],
    stored: Sequence[StoredResource],
    now: datetime,
    retired_versions: Mapping[str, int] | None = None,
    new_texts: Sequence[bytes | None] | None = None,
) -> ResourceChanges:
    """Replace exactly the stored set with the new one: same id and content is kept, same id and
    other content is updated (version + 1), new ids are inserted, missing ids are removed.
    `new_texts`, each new resource's JSON text where known, spares serialising it again."""
    by_id = {r.resource_id: r for r in stored}
    changes = ResourceChanges()
    kept: set[str] = set()
    last_updated = fhir_instant(now)
    source = document_source(document_id)
    for n, (resource, resource_id) in enumerate(zip(new_resources, new_ids, strict=True)):
        old = by_id.get(resource_id)
        kept.add(resource_id)
        if old is not None and content_of(old.body) == content_of(resource):
            changes.unchanged += 1
            continue
        previous = old.version_id if old is not None else 0
        version_id = max(previous, (retired_versions or {}).get(resource_id, 0)) + 1
        text = new_texts[n] if new_texts is not None else None
        own_meta = resource.get("meta")
        if text is not None and (own_meta is None or isinstance(own_meta, dict)):
            meta = stamp_meta(
                source=source, version_id=version_id, last_updated=last_updated, own=own_meta
            )
            text = stamped_text(text, resource_id=resource_id, meta=meta)
        else:
            text = None  # a meta that is not an object: the dict path says what to store
        write = ResourceWrite(
            resource_id=resource_id,
            resource_type=str(resource["resourceType"]),
            version_id=version_id,
            source=resource,
            document_id=document_id,
            last_updated=last_updated,
            text=text,
        )
        if old is None:
            changes.inserts.append(write)
        else:
            changes.updates.append(write)
            changes.superseded.append((old, "update"))
    changes.superseded.extend((old, "delete") for old in stored if old.resource_id not in kept)
    return changes


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Resource changes of one document, with whom they belong to."""

    patient_id: str
    document_id: str
    changes: ResourceChanges


@dataclass(frozen=True, slots=True)
class MergeDecision:
    outcome: MergeOutcome
    document_id: str
    patient_id: str
    reason: str = ""
    changes: ResourceChanges | None = None
    review_status: ReviewStatus | None = None
    flag_reasons: tuple[FlagReason, ...] = ()
    version: int = 0
    # The review status before this merge (None for a new document).
    previous_review_status: ReviewStatus | None = None
    id_scheme: int = CURRENT_ID_SCHEME
    # A duplicate that is the very event of the stored state's merge: the worker may have
    # committed it and died (or lost its connection during COMMIT) before announcing it, so
    # its outputs go out again, as first built (docs/contract.md#merge-semantics).
    announce: LastMerge | None = None

    @property
    def writes(self) -> bool:
        return self.outcome in (MergeOutcome.MERGED, MergeOutcome.REMERGED)

    @property
    def resolves_flag(self) -> bool:
        """A newer extraction of a flagged document that is no longer doubtful."""
        return (
            self.outcome == MergeOutcome.REMERGED
            and self.previous_review_status == ReviewStatus.FLAGGED
            and self.review_status != ReviewStatus.FLAGGED
        )


def plan_merge(
    result: ExtractionResult,
    stored: StoredDocument | None,
    flag_reasons: Sequence[FlagReason],
    now: datetime,
    raw: bytes | None = None,
    prepared: DocumentResources | None = None,
) -> MergeDecision:
    """Decide what merging `result` does, given what is stored for its document.

    `raw`, the event as received, lets the planner work from each resource's own text (links
    found and bodies written without serialising again); `prepared` is the document's
    resources as `resources_for` worked them out for this stored state."""
    doc_id, patient_id = result.document_id, result.patient_id
    if stored is not None:
        if stored.patient_id != result.patient_id:
            return MergeDecision(
                MergeOutcome.STALE,
                doc_id,
                patient_id,
                version=stored.version,
                reason=(
                    f"document {result.document_id} belongs to patient {stored.patient_id}, "
                    f"not {result.patient_id}; refused"
                ),
            )
        # A document that failed to merge (e.g. a DLQ replay), or a legacy one still awaiting
        # processing, is merged by the same version; a merged or rolled-back one is not.
        retry_failed = not stored.is_merged and stored.processing_status in (
            ProcessingStatus.FAILED,
            ProcessingStatus.PENDING,
        )
        if result.extraction_version < stored.extraction_version:
            return MergeDecision(
                MergeOutcome.STALE,
                doc_id,
                patient_id,
                version=stored.version,
                review_status=stored.review_status,
                reason=(
                    f"extraction_version {result.extraction_version} is older than the stored "
                    f"{stored.extraction_version}; ignored"
                ),
            )
        if result.extraction_version == stored.extraction_version and not retry_failed:
            last = stored.last_merge
            return MergeDecision(
                MergeOutcome.DUPLICATE,
                doc_id,
                patient_id,
                version=stored.version,
                review_status=stored.review_status,
                flag_reasons=stored.flag_reasons,
                reason=f"extraction_version {result.extraction_version} already processed",
                announce=last if last is not None and last.event_id == result.event_id else None,
            )
    reasons = tuple(flag_reasons)
    status = ReviewStatus.FLAGGED if reasons else ReviewStatus.AUTO_APPROVED
    scheme = _id_scheme(stored)
    if prepared is None:
        prepared = resources_for(result, stored, raw)
    mapping = prepared.local_links
    texts: Sequence[bytes | None] | None = prepared.texts
    # One scan of the whole event usually shows that no resource links to another (the walk
    # of each resource is then spared).
    if mapping and raw is not None and not links_to_any(raw, mapping):
        mapping = {}
    resources: Sequence[FhirResource] = result.resources
    if mapping:
        resources, texts = rewrite_local_references(result.resources, mapping, texts)
    changes = plan_resource_changes(
        document_id=result.document_id,
        new_resources=resources,
        new_ids=prepared.ids,
        stored=stored.resources if stored else (),
        now=now,
        retired_versions=stored.retired_versions if stored else None,
        new_texts=texts,
    )
    return MergeDecision(
        MergeOutcome.MERGED if stored is None else MergeOutcome.REMERGED,
        doc_id,
        patient_id,
        changes=changes,
        review_status=status,
        flag_reasons=reasons,
        version=1 if stored is None else stored.version + 1,
        previous_review_status=stored.review_status if stored else None,
        id_scheme=scheme,
    )


def _id_scheme(stored: StoredDocument | None) -> int:
    # A stored document keeps the id scheme it was first stored with.
    return stored.id_scheme if stored else CURRENT_ID_SCHEME


def resources_for(
    result: ExtractionResult, stored: StoredDocument | None, raw: bytes | None = None
) -> DocumentResources:
    """The extraction's resources as merging it over `stored` sees them: ids, local links and
    (from `raw`, the event as received) each one's text."""
    return prepare_resources(
        result.document_id,
        result.resources,
        patient_id=result.patient_id,
        scheme=_id_scheme(stored),
        raw=raw,
    )
