"""What a processed batch counts for in the metrics (pure): one mapping for the windows of
pipeline.metrics and for the Prometheus counters, so both always tell the same story.

Only MERGED and REMERGED count as documents (a redelivered DUPLICATE is no new document, a STALE
version was refused); replayed review actions were counted when first applied; every message sent
to the dead-letter topic counts as a dead letter, merge failures (kind merge_error) included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.merge_plan import MergeOutcome
from domain.metrics_window import WindowedMetrics
from domain.review_plan import ReviewOutcome
from pipeline.batch import BatchResult
from schemas.events import ReviewStatus

_NEW_DOCUMENT = (MergeOutcome.MERGED, MergeOutcome.REMERGED)
MERGE_ERROR_KIND = "merge_error"
ACTION_ERROR_KIND = "action_error"
STUCK_KIND = "stuck"


@dataclass(frozen=True, slots=True)
class MergedDocument:
    at: datetime
    review_status: str
    flag_rules: tuple[str, ...]
    merge_ms: float
    upload_to_merged_ms: float
    rule_set_version: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewVerdict:
    action: str
    outcome: str
    false_positive: bool
    # The version that judged the document reviewed.
    rule_set_version: int | None = None


@dataclass(frozen=True, slots=True)
class BatchFacts:
    documents: tuple[MergedDocument, ...]
    reviews: tuple[ReviewVerdict, ...]
    # The error_kind of every message the batch sent to the dead-letter topic.
    dead_letter_kinds: tuple[str, ...]
    merge_failures: int
    # Input records in the batch: each ends up a merge report, a review, a rejection or a failure.
    size: int


def batch_facts(batch: BatchResult, now: datetime) -> BatchFacts:
    documents = []
    for report in batch.merges:
        decision = report.decision
        if decision.outcome not in _NEW_DOCUMENT:
            continue
        merged_at = report.merged_at or now
        uploaded_at = report.incoming.result.uploaded_at
        documents.append(
            MergedDocument(
                at=merged_at,
                review_status=(decision.review_status or ReviewStatus.PENDING).value,
                flag_rules=tuple(r.rule.value for r in decision.flag_reasons),
                merge_ms=report.processing_ms,
                # Extractor clocks may run ahead of ours: never report a negative latency.
                upload_to_merged_ms=max(0.0, (merged_at - uploaded_at).total_seconds() * 1000),
                rule_set_version=report.rule_set_version,
            )
        )
    reviews = tuple(
        ReviewVerdict(
            action=r.decision.action.action.value,
            outcome=r.decision.outcome.value,
            false_positive=r.decision.false_positive,
            rule_set_version=r.rule_set_version,
        )
        for r in batch.reviews
        if not r.replayed
    )
    kinds: list[str] = [r.dead_letter.error_kind for r in batch.rejected]
    kinds.extend(MERGE_ERROR_KIND for f in batch.failures if f.dead_letter)
    kinds.extend(
        ACTION_ERROR_KIND
        for r in batch.reviews
        if r.decision.outcome == ReviewOutcome.INVALID and not r.replayed
    )
    kinds.extend(STUCK_KIND for _ in batch.stuck)
    # A refused extraction is both a rejection and a failure recorded on its document.
    refused_and_recorded = sum(1 for f in batch.failures if not f.dead_letter)
    return BatchFacts(
        documents=tuple(documents),
        reviews=reviews,
        dead_letter_kinds=tuple(kinds),
        merge_failures=len(batch.failures),
        size=len(batch.merges)
        + len(batch.reviews)
        + len(batch.rejected)
        + len(batch.failures)
        - refused_and_recorded
        + len(batch.stuck),
    )


def observe_batch(metrics: WindowedMetrics, batch: BatchResult, now: datetime) -> None:
    """File a processed batch under the tumbling windows; `now` is when it was processed."""
    facts = batch_facts(batch, now)
    for doc in facts.documents:
        metrics.observe_document(
            at=doc.at,
            review_status=doc.review_status,
            flag_rules=doc.flag_rules,
            merge_ms=doc.merge_ms,
            upload_to_merged_ms=doc.upload_to_merged_ms,
            rule_set_version=doc.rule_set_version,
        )
    for _ in range(facts.merge_failures):
        metrics.observe_merge_failure(now)
    for _ in facts.dead_letter_kinds:
        metrics.observe_dead_letter(now)
    for review in facts.reviews:
        metrics.observe_review(
            at=now,
            action=review.action,
            outcome=review.outcome,
            false_positive=review.false_positive,
            rule_set_version=review.rule_set_version,
        )
