"""A reviewed history (optimerge/demo/history.py) written as production writes it: its rule
sets stored and activated in turn, every document merged by the merge service judging with
the active version, every verdict a review action applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from domain.reports import IncomingExtraction
from domain.thresholds import RuleThresholds
from optimerge.demo import SampleData
from optimerge.demo.history import HistoryDocument
from pipeline.rule_sets import ActiveRuleSet
from pipeline.service import MergeService
from schemas import ReviewAction, ReviewActionKind
from storage import rule_sets
from storage.patients import import_patients
from tests.audit_helpers import shared_keyring

AT = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 200


def store_reviewed(
    conn: psycopg.Connection, sample: SampleData, history: Sequence[HistoryDocument]
) -> None:
    import_patients(conn, sample.patients)
    judges = sorted({h.judged_by.version: h.judged_by for h in history}.values(),
                    key=lambda r: r.version)  # fmt: skip
    for judge in judges:
        created = rule_sets.create_rule_set(
            conn, thresholds=judge.thresholds, by_model=judge.by_model, created_by="test",
            reason=f"judge {judge.version}", now=AT,
        )  # fmt: skip
        assert created == judge.version
    service = MergeService(ActiveRuleSet(RuleThresholds()), keyring=shared_keyring())
    active = None
    pending: list[IncomingExtraction] = []
    for h in history:
        if h.judged_by.version != active:
            if pending:
                service.merge(conn, pending)
                pending = []
            rule_sets.activate(conn, h.judged_by.version, activated_by="test", reason="r", now=AT)
            active = h.judged_by.version
        result = h.document.result
        pending.append(IncomingExtraction(result, AT, raw=result.model_dump_json().encode()))
        if len(pending) == BATCH:
            service.merge(conn, pending)
            pending = []
    if pending:
        service.merge(conn, pending)
    actions = [_action(h) for h in history if h.action is not None]
    for start in range(0, len(actions), BATCH):
        service.review(conn, actions[start : start + BATCH])


def _action(h: HistoryDocument) -> ReviewAction:
    result = h.document.result
    corrected = None
    if h.action == ReviewActionKind.CORRECT_DATA:
        corrected = [{"resourceType": "Condition", "code": {"text": "corrected"}}]
    return ReviewAction(
        document_id=result.document_id,
        patient_id=result.patient_id,
        action=h.action or ReviewActionKind.MARK_CORRECT,
        reviewer="reviewer",
        expected_version=1,
        corrected_resources=corrected,
    )
