"""`optimerge bench thresholds`: how fast `thresholds evaluate` and `recommend` replay a judged
history, on a scratch database filled with a reviewed history of N documents (optimerge/demo/
history.py): document rows as the merge writes them, the extraction stored whole, verdicts per
review. Resources are left out: no replay reads them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from config import ResolvedSettings
from domain.documents import merged_document
from domain.merge_plan import plan_merge
from domain.reports import IncomingExtraction
from domain.rule_sets import RuleSet
from domain.verdicts import Verdict
from optimerge.bench._env import scratch_database
from optimerge.demo import load_sample
from optimerge.demo.history import HistoryDocument, build_history
from pipeline.thresholds import evaluate_thresholds, load_cases, recommend_thresholds
from schemas import ActorKind, ReviewActionKind
from storage import documents as document_rows
from storage.db import connect
from storage.history import Scope
from storage.patients import import_patients
from storage.rule_sets import create_rule_set
from storage.verdicts import record_verdict

Say = Callable[[str], None]
CHUNK = 5_000


def store_history(
    conn: psycopg.Connection, history: Sequence[HistoryDocument], now: datetime
) -> None:
    """The history's documents and verdicts, written as the merge and the reviews write them
    (one COPY per chunk; the rule sets that judged them stored as versions 1 and 2)."""
    for rule_set in sorted({h.judged_by.version: h.judged_by for h in history}.values(),
                           key=lambda r: r.version):  # fmt: skip
        create_rule_set(
            conn,
            thresholds=rule_set.thresholds,
            by_model=rule_set.by_model,
            created_by="bench",
            reason="the history's judges",
            now=now,
        )
    for start in range(0, len(history), CHUNK):
        chunk = history[start : start + CHUNK]
        rows, verdicts = [], []
        for n, h in enumerate(chunk):
            result = h.document.result
            raw = result.model_dump_json().encode()
            item = IncomingExtraction(result, now, raw=raw)
            reasons = h.judged_by.judge(result, h.record)
            decision = plan_merge(result, None, reasons, now, raw)
            rows.append(merged_document(item, decision, None, now, 1.0, h.judged_by.version))
            if h.action is not None:
                verdicts.append(_verdict(h, item, reasons, now + timedelta(seconds=start + n)))
        with conn.transaction(), conn.cursor() as cur:
            document_rows.lock_patients(cur, [r.patient_id for r in rows])  # unknown ones too
            document_rows.insert_new_documents(cur, rows)
            for verdict in verdicts:
                record_verdict(cur, verdict)


def _verdict(
    h: HistoryDocument, item: IncomingExtraction, reasons: Sequence[Any], at: datetime
) -> Verdict:
    result = item.result
    rules = tuple(r.rule.value for r in reasons)
    return Verdict(
        action_id=uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{result.document_id}"),
        document_id=result.document_id,
        patient_id=result.patient_id,
        extraction_version=result.extraction_version,
        content_hash=item.content_hash(),
        document_version=1,
        rule_set_version=h.judged_by.version,
        flagged=bool(rules),
        rules=rules,
        action=h.action or ReviewActionKind.MARK_CORRECT,
        actor_kind=ActorKind.REVIEWER.value,
        reviewer="bench",
        decided_at=at,
    )


def run_thresholds_bench(
    settings: ResolvedSettings, documents: int, say: Say, *, target: float = 0.12
) -> dict[str, Any]:
    sample = load_sample()
    say(f"building a reviewed history of {documents} documents")
    history = build_history(sample, documents)
    now = datetime.now(UTC)
    with scratch_database(settings, "thresholds") as scratch:
        # The history is written as the owner (as merges and reviews would have, without Kafka),
        # then replayed as `thresholds evaluate` and `recommend` run: as the app role.
        with connect(scratch.migration_url) as owner:
            import_patients(owner, sample.patients)
            began = time.perf_counter()
            store_history(owner, history, now)
            stored = time.perf_counter() - began
        with connect(scratch.migration_url, autocommit=True) as maintenance:
            # Statistics as autovacuum would have them by then (the replay's plans need them).
            maintenance.execute("VACUUM ANALYZE documents, review_verdicts, patients")
        say(f"stored in {stored:.1f} s; replaying")
        current = history[-1].judged_by
        candidate = RuleSet(-1, current.thresholds.model_copy(update={"min_confidence": 0.75}))
        with connect(scratch.app_url) as conn:
            evaluation = evaluate_thresholds(conn, candidate, current, Scope())
            began = time.perf_counter()
            cases = load_cases(conn, Scope())
            loaded = time.perf_counter() - began
        proposal = recommend_thresholds(cases, current, target=target)
    chosen = proposal.recommendation.proposed
    return {
        "config": {"documents": documents, "target_flag_rate": target},
        "store_seconds": stored,
        "evaluate": {
            "documents": evaluation.documents,
            "read_seconds": evaluation.load_seconds,
            "rules_seconds": evaluation.replay_seconds,
            "total_seconds": evaluation.load_seconds + evaluation.replay_seconds,
            "us_per_document": (evaluation.load_seconds + evaluation.replay_seconds)
            / max(1, evaluation.documents)
            * 1e6,
        },
        "recommend": {
            "read_seconds": loaded,
            "search_seconds": proposal.seconds,
            "thresholds": chosen.thresholds.model_dump() if chosen else None,
            "flag_rate": chosen.flag_rate if chosen else None,
            "estimated_false_positive_rate": chosen.estimate.rate if chosen else None,
        },
    }
