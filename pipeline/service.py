"""The merge service: the use cases that change a document, each one transaction with its audit
entries. It locks, loads, asks the pure rules and planners, and has storage/ write what they
decided; storage holds no policy, the planners no I/O (docs/contract.md#merge-semantics)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import psycopg

from domain.audit_entries import failure_entry, merge_entry
from domain.audit_keys import AuditKeyring
from domain.documents import failed_document, merged_document
from domain.failure_plan import plan_failure
from domain.flag_rules import evaluate
from domain.merge_plan import ChangeSet, MergeDecision, plan_merge, resources_for
from domain.patients import PatientRecord
from domain.reports import (
    FailedEvent,
    IncomingExtraction,
    MergeReport,
    RefusedExtraction,
    ReviewReport,
)
from domain.rule_sets import SETTINGS_VERSION
from domain.thresholds import RuleThresholds
from pipeline import reviews
from pipeline.foreign import ForeignReferences
from pipeline.rule_sets import RuleSetSource
from schemas import ExtractionResult, FlagReason, ReviewAction
from schemas.events import Clock, utc_now
from storage import documents, resources
from storage.audit import append_audit
from storage.db import Send, is_transient, transaction
from storage.errors import describe_error

log = logging.getLogger(__name__)

# The flag rules as the service asks them: what is doubtful about this extraction for this record.
Judge = Callable[[ExtractionResult, PatientRecord | None], Sequence[FlagReason]]


def judge_with(thresholds: RuleThresholds) -> Judge:
    """The flag rules of docs/contract.md#flag-rules at these thresholds."""
    return lambda result, record: evaluate(result, record, thresholds)


@dataclass
class MergeService:
    # A plain judge counts as the settings' thresholds (version 0); a rule-set source (the
    # worker's ActiveRuleSet) is asked per transaction which version judges.
    judge: Judge | RuleSetSource
    clock: Clock = utc_now
    # Every entry is MAC'd with the current audit key (domain/audit_keys.py).
    keyring: AuditKeyring = field(kw_only=True)

    def _ask_judge(self, send: Send) -> Callable[[psycopg.Cursor], tuple[int, Judge]]:
        """Which version judges, asked with the merge's lock: no wait of its own."""
        if isinstance(self.judge, RuleSetSource):
            read = self.judge.ask(send)

            def judge_for(cur: psycopg.Cursor) -> tuple[int, Judge]:
                rule_set = read(cur)
                return rule_set.version, rule_set.judge

            return judge_for
        judge = self.judge
        return lambda cur: (SETTINGS_VERSION, judge)

    def merge(
        self, conn: psycopg.Connection, items: Sequence[IncomingExtraction]
    ) -> list[MergeReport]:
        """Merge a batch in one transaction; any database error rolls all of it back and
        raises (the caller then finds the bad document by merging one at a time)."""
        reports: list[MergeReport] = []
        with transaction(conn) as cur:
            for segment in _segments(items):
                reports.extend(self._merge_segment(cur, segment))
        return reports

    def _merge_segment(
        self, cur: psycopg.Cursor, items: Sequence[IncomingExtraction]
    ) -> list[MergeReport]:
        started = time.perf_counter()
        locked, stored, judge_for = documents.lock_and_load_asking(
            cur,
            [i.result.patient_id for i in items],
            [i.result.document_id for i in items],
            self._ask_judge,
        )
        now = self.clock()
        rule_set_version, judge = judge_for(cur)
        # Ids, links and texts of each document's resources, worked out once for the segment.
        prepared = [
            (item, resources_for(item.result, stored.get(item.document_id), item.raw))
            for item in items
        ]
        foreign = ForeignReferences(cur, prepared)
        decisions: list[tuple[IncomingExtraction, MergeDecision]] = []
        for item, its_resources in prepared:
            result = item.result
            reasons = list(judge(result, locked[result.patient_id].record))
            previous = stored.get(result.document_id)
            pointing = foreign.reason(item, its_resources)
            if pointing is not None:
                reasons.append(pointing)
            decision = plan_merge(result, previous, reasons, now, item.raw, its_resources)
            decisions.append((item, decision))
        writes = [(i, d) for i, d in decisions if d.writes]
        elapsed_ms = (time.perf_counter() - started) * 1000
        rows = [
            merged_document(i, d, stored.get(d.document_id), now, elapsed_ms, rule_set_version)
            for i, d in writes
        ]
        # Document rows first: resources reference them.
        documents.insert_new_documents(cur, [r for r in rows if r.document_id not in stored])
        documents.upsert_documents(cur, [r for r in rows if r.document_id in stored])
        resources.apply_resource_changes(
            cur,
            [ChangeSet(d.patient_id, d.document_id, d.changes) for _, d in writes if d.changes],
            now,
        )
        append_audit(cur, locked, [merge_entry(d, i.result, now) for i, d in writes], self.keyring)
        return [
            MergeReport(
                decision=d,
                incoming=i,
                merged_at=now if d.writes else None,
                processing_ms=elapsed_ms,
                review_status=d.review_status,
                resource_count=len(i.result.resources) if d.writes else 0,
                rule_set_version=rule_set_version if d.writes else None,
            )
            for i, d in decisions
        ]

    def record_failure(self, conn: psycopg.Connection, item: FailedEvent, error: str) -> int:
        """Flag a document that could not be merged (or whose event was refused at the edge),
        in its own transaction; returns its version. When the extraction itself is what the
        database refuses, a stand-in is stored instead (the event as received goes to the
        dead-letter topic)."""
        try:
            return self._record_failure(conn, item, error)
        except Exception as exc:
            if is_transient(exc) or isinstance(item, RefusedExtraction):
                raise
            stand_in = RefusedExtraction(
                document_id=item.document_id,
                patient_id=item.patient_id,
                reason=f"the extraction could not be stored ({describe_error(exc)})",
                payload_sha256=item.content_hash(),
                payload_bytes=len(item.extraction_json().encode()),
                received_at=item.received_at,
                extraction_version=item.extraction_version,
                attempts=item.attempts,
                event_id=item.event_id,
            )
            return self._record_failure(conn, stand_in, error)

    def _record_failure(self, conn: psycopg.Connection, item: FailedEvent, error: str) -> int:
        with transaction(conn) as cur:
            locked, stored = documents.lock_and_load(cur, [item.patient_id], [item.document_id])
            decision = plan_failure(item, stored.get(item.document_id), error)
            if not decision.writes:
                return decision.version
            now = self.clock()
            if decision.is_new:
                documents.upsert_documents(cur, [failed_document(item, decision, error, now)])
            else:
                documents.mark_failed(
                    cur, item.document_id, decision, error, item.content_hash(), now
                )
            append_audit(cur, locked, [failure_entry(item, decision, error, now)], self.keyring)
        return decision.version

    def review(
        self, conn: psycopg.Connection, actions: Sequence[ReviewAction]
    ) -> list[ReviewReport]:
        """Apply actions in order, in one transaction; a redelivered action_id is answered as
        it was the first time, never applied twice; an action the database refuses is rolled
        back alone and answered `invalid` (pipeline/reviews.py)."""
        return reviews.apply_reviews(conn, actions, self.clock, self.keyring)

    def refuse_action(
        self,
        conn: psycopg.Connection,
        *,
        action_id: uuid.UUID,
        document_id: str,
        patient_id: str,
        action: str,
        reviewer: str,
        reason: str,
    ) -> int:
        """Answer an action refused at the edge `invalid` (pipeline/reviews.py)."""
        return reviews.refuse_action(
            conn,
            self.clock,
            action_id=action_id,
            document_id=document_id,
            patient_id=patient_id,
            action=action,
            reviewer=reviewer,
            reason=reason,
        )


def _segments(items: Sequence[IncomingExtraction]) -> Iterator[list[IncomingExtraction]]:
    """Cut the batch where a document repeats, so each segment sees the previous one's writes."""
    segment: list[IncomingExtraction] = []
    seen: set[str] = set()
    for item in items:
        if item.result.document_id in seen:
            yield segment
            segment, seen = [], set()
        segment.append(item)
        seen.add(item.result.document_id)
    if segment:
        yield segment
