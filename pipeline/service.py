"""The merge service: the use cases that change a document, each one transaction with its audit
entries. It locks, loads, asks the pure rules and planners, and has storage/ write what they
decided; storage holds no policy, the planners no I/O (docs/contract.md#merge-semantics)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import psycopg

from domain.audit_entries import failure_entry, merge_entry, review_entry
from domain.documents import failed_document, merged_document
from domain.failure_plan import plan_failure
from domain.flag_rules import evaluate, foreign_reference
from domain.merge_plan import ChangeSet, MergeDecision, plan_merge
from domain.patients import PatientRecord
from domain.references import Target, foreign_references, ids_to_look_up, references_in
from domain.reports import (
    FailedEvent,
    IncomingExtraction,
    MergeReport,
    RefusedExtraction,
    ReviewReport,
)
from domain.resources import local_reference_map, resource_ids_for
from domain.review_plan import (
    REFUSED_BY_DATABASE,
    ReviewDecision,
    ReviewOutcome,
    invalid,
    plan_review,
)
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, FlagReason, ReviewAction
from schemas.events import Clock, utc_now
from storage import documents, resources, review_actions
from storage.audit import append_audit
from storage.db import is_transient, transaction
from storage.documents import LockedPatient

log = logging.getLogger(__name__)

# The flag rules as the service asks them: what is doubtful about this extraction for this record.
Judge = Callable[[ExtractionResult, PatientRecord | None], Sequence[FlagReason]]


def judge_with(thresholds: RuleThresholds) -> Judge:
    """The flag rules of docs/contract.md#flag-rules at these thresholds."""
    return lambda result, record: evaluate(result, record, thresholds)


@dataclass
class MergeService:
    judge: Judge
    clock: Clock = utc_now

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
        locked = documents.lock_patients(cur, [i.result.patient_id for i in items])
        stored = documents.load_documents(
            cur, [i.result.document_id for i in items], for_update=True
        )
        now = self.clock()
        targets = {id(i): _targets(i) for i in items}
        owners = resources.owners_of(cur, ids_to_look_up(t for ts in targets.values() for t in ts))
        decisions: list[tuple[IncomingExtraction, MergeDecision]] = []
        for item in items:
            result = item.result
            reasons = list(self.judge(result, locked[result.patient_id].record))
            previous = stored.get(result.document_id)
            foreign = _foreign(item, previous, targets[id(item)], owners)
            if foreign is not None:
                reasons.append(foreign)
            decisions.append((item, plan_merge(result, previous, reasons, now, item.raw)))
        writes = [(i, d) for i, d in decisions if d.writes]
        elapsed_ms = (time.perf_counter() - started) * 1000
        rows = [
            merged_document(i, d, stored.get(d.document_id), now, elapsed_ms) for i, d in writes
        ]
        # Document rows first: resources reference them.
        documents.insert_new_documents(cur, [r for r in rows if r.document_id not in stored])
        documents.upsert_documents(cur, [r for r in rows if r.document_id in stored])
        resources.apply_resource_changes(
            cur,
            [ChangeSet(d.patient_id, d.document_id, d.changes) for _, d in writes if d.changes],
            now,
        )
        append_audit(cur, locked, [merge_entry(d, i.result, now) for i, d in writes])
        return [
            MergeReport(
                decision=d,
                incoming=i,
                merged_at=now if d.writes else None,
                processing_ms=elapsed_ms,
                review_status=d.review_status,
                resource_count=len(i.result.resources) if d.writes else 0,
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
                reason=f"the extraction could not be stored ({type(exc).__name__})",
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
            locked = documents.lock_patients(cur, [item.patient_id])
            stored = documents.load_documents(cur, [item.document_id], for_update=True)
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
            append_audit(cur, locked, [failure_entry(item, decision, error, now)])
        return decision.version

    def review(
        self, conn: psycopg.Connection, actions: Sequence[ReviewAction]
    ) -> list[ReviewReport]:
        """Apply actions in order, in one transaction; a redelivered action_id is answered as
        it was the first time, never applied twice. Each action runs in a savepoint: one the
        database refuses is rolled back alone and answered `invalid`; the others go on."""
        if not actions:
            return []
        with transaction(conn) as cur:
            locked = documents.lock_patients(cur, [a.patient_id for a in actions])
            return [self._review_isolated(conn, cur, locked, action) for action in actions]

    def _review_isolated(
        self,
        conn: psycopg.Connection,
        cur: psycopg.Cursor,
        locked: dict[str, LockedPatient],
        action: ReviewAction,
    ) -> ReviewReport:
        head = locked[action.patient_id]
        chain = (head.audit_seq, head.audit_head)
        try:
            with conn.transaction():
                return self._review_one(cur, locked, action)
        except Exception as exc:
            if is_transient(exc):
                raise
            # Rolled back to the savepoint: the chain head must be too.
            head.audit_seq, head.audit_head = chain
            error = f"{type(exc).__name__}: {exc}".strip()
            log.error("review action %s refused: %s", action.action_id, error)
        version = self._refuse(conn, cur, action, REFUSED_BY_DATABASE)
        return ReviewReport(invalid(action, version, REFUSED_BY_DATABASE), error=error)

    def _refuse(
        self, conn: psycopg.Connection, cur: psycopg.Cursor, action: ReviewAction, reason: str
    ) -> int:
        """Remember an action refused as invalid; returns the document's version (0: none)."""
        try:
            with conn.transaction():
                stored = documents.load_documents(cur, [action.document_id], for_update=False)
                version = stored[action.document_id].version if stored else 0
                review_actions.remember_refusal(
                    cur,
                    action_id=action.action_id,
                    document_id=action.document_id,
                    action=action.action.value,
                    reviewer=action.reviewer,
                    reason=reason,
                    version=version,
                    now=self.clock(),
                )
                return version
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("could not remember the refusal of action %s", action.action_id)
            return 0

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
        """Answer an action refused at the edge `invalid`, and remember it under its id;
        returns the document's version (0 when there is no such document)."""
        with transaction(conn) as cur:
            documents.lock_patients(cur, [patient_id])
            stored = documents.load_documents(cur, [document_id], for_update=False)
            version = stored[document_id].version if stored else 0
            if stored and stored[document_id].patient_id == patient_id:
                review_actions.remember_refusal(
                    cur,
                    action_id=action_id,
                    document_id=document_id,
                    action=action,
                    reviewer=reviewer,
                    reason=reason,
                    version=version,
                    now=self.clock(),
                )
            return version

    def _review_one(
        self, cur: psycopg.Cursor, locked: dict[str, LockedPatient], action: ReviewAction
    ) -> ReviewReport:
        seen = review_actions.decided_action(cur, action.action_id)
        if seen is not None:
            decision = ReviewDecision(
                ReviewOutcome(seen.outcome), action, reason=seen.reason, version=seen.version_after
            )
            return ReviewReport(decision, replayed=True)
        now = self.clock()
        stored = documents.load_documents(cur, [action.document_id], for_update=True)
        previous = stored.get(action.document_id)
        decision = plan_review(action, previous, now)
        if decision.writes:
            if decision.changes is not None:
                change = ChangeSet(action.patient_id, action.document_id, decision.changes)
                resources.apply_resource_changes(cur, [change], now)
            documents.record_review(cur, decision, now)
            append_audit(cur, locked, [review_entry(decision, now)])
        if previous is not None:
            # Conflicts are remembered too, so a redelivered action gets the same answer.
            review_actions.remember_decision(cur, decision, now)
        return ReviewReport(decision)


def _targets(item: IncomingExtraction) -> list[Target]:
    raw = item.raw
    if raw is not None and b'"reference"' not in raw and b"\\u" not in raw:
        return []  # the common case: nothing refers anywhere (one C-speed scan)
    return references_in(item.result.resources)


def _foreign(
    item: IncomingExtraction,
    stored: object,
    targets: list[Target],
    owners: dict[str, str],
) -> FlagReason | None:
    if not targets:
        return None
    result = item.result
    scheme = getattr(stored, "id_scheme", None)
    ids = resource_ids_for(
        result.document_id,
        result.resources,
        patient_id=result.patient_id,
        **({"scheme": scheme} if scheme else {}),
    )
    own = local_reference_map(result.resources, ids)
    found = foreign_references(result.patient_id, targets, owners, own_references=own)
    return foreign_reference(found)


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
