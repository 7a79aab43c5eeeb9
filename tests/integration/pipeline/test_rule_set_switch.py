"""Issue 16 acceptance: a rule-set version applied while a feed runs through two real workers on
the real broker. Documents merged before the apply are judged by the old version, documents sent
after it by the new one, each by its recorded version and by its flags; on every partition the
versions only move forward; nothing is merged twice; no worker restarts; the metrics windows
count each version apart."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest

from config import ResolvedSettings
from domain.patients import patient_record_from_fhir
from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from optimerge.demo import DemoDocument, load_sample
from pipeline.thresholds import save_rule_set
from storage.db import connect
from streams.producer import EventProducer
from streams.topics import Topics
from tests.cli_runner import cli_env, run_optimerge

from ._helpers import demo_feed, publish, read_topic, wait_until_processed

FEED = 800
WARM_UP = 50
STRICT = RuleThresholds(min_confidence=0.92, few_resources_min_confidence=0.99)

pytestmark = pytest.mark.slow


def _steady_feed(
    settings: ResolvedSettings, docs: list[DemoDocument], applied: threading.Event
) -> tuple[threading.Thread, set[str]]:
    """About 100 documents a second in the background; which ones were sent after the apply."""
    sent_after: set[str] = set()
    topic = Topics(settings.topic_prefix).extraction_results.name

    def run() -> None:
        with EventProducer(settings.kafka_endpoint) as producer:
            for n, doc in enumerate(docs):
                if applied.is_set():
                    sent_after.add(doc.result.document_id)
                producer.send(
                    topic, doc.result.model_dump_json().encode(), key=doc.result.patient_id
                )
                if n % 10 == 9:
                    producer.flush()
                    time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, sent_after


def test_a_rule_set_applied_mid_feed_judges_what_follows_without_a_restart(
    settings: ResolvedSettings, start_worker: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTIMERGE_METRICS_WINDOW_SECONDS", "2")
    docs = demo_feed(settings, FEED, seed=21)
    with connect(settings.app_url) as conn:  # as `thresholds create` and the console do
        version = save_rule_set(conn, RuleSet(0, STRICT), actor="ops", reason="stricter")
    workers = [start_worker(), start_worker()]
    pids = [w.proc.pid for w in workers]
    publish(settings, (d.result for d in docs[:WARM_UP]))
    wait_until_processed(settings, WARM_UP)

    applied = threading.Event()
    thread, sent_after = _steady_feed(settings, docs[WARM_UP:], applied)
    wait_until_processed(settings, WARM_UP + 150)
    with connect(settings.migration_url) as conn:
        merged_before = {d for (d,) in conn.execute("SELECT document_id FROM documents").fetchall()}
    done = run_optimerge(
        "thresholds", "apply", str(version), "--actor", "ops", "--reason", "mid-feed",
        **cli_env(settings),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    applied.set()
    thread.join(60)
    wait_until_processed(settings, FEED)
    assert [w.proc.poll() for w in workers] == [None, None]  # never restarted, never stopped
    assert [w.proc.pid for w in workers] == pids

    records = {p["id"]: patient_record_from_fhir(p) for p in load_sample().patients}
    judges = {0: RuleSet(0, RuleThresholds()), version: RuleSet(version, STRICT)}
    with connect(settings.migration_url) as conn:
        stored = {
            d: (v, {r["rule"] for r in reasons}, doc_version)
            for d, v, reasons, doc_version in conn.execute(
                "SELECT document_id, rule_set_version, flag_reasons, version FROM documents"
            ).fetchall()
        }
        merges = conn.execute(
            "SELECT a.patient_id, a.document_id FROM audit_log a "
            "WHERE a.action IN ('merge', 'remerge') ORDER BY a.patient_id, a.seq"
        ).fetchall()
    assert len(stored) == FEED and {v for _, _, v in stored.values()} == {1}
    assert Counter(d for _, d in merges) == Counter(dict.fromkeys(stored, 1))  # merged once each

    wrong = []
    for doc in docs:
        judged_by, flags, _ = stored[doc.result.document_id]
        expected = judges[judged_by].judge(doc.result, records.get(doc.result.patient_id))
        if flags != {r.rule.value for r in expected}:
            wrong.append((doc.result.document_id, judged_by, flags))
    assert wrong == []
    assert {stored[d][0] for d in merged_before} == {0}
    assert len(sent_after) > 100 and {stored[d][0] for d in sent_after} == {version}
    differ = [
        d for d in docs
        if d.result.document_id in sent_after
        and judges[0].judge(d.result, records.get(d.result.patient_id))
        != judges[version].judge(d.result, records.get(d.result.patient_id))
    ]  # fmt: skip
    assert len(differ) > 20  # the new version did judge differently
    versions = Counter(v for v, _, _ in stored.values())
    print(
        f"merged before the apply {len(merged_before)} (all v0), sent after it {len(sent_after)} "
        f"(all v{version}), judged differently by v{version} {len(differ)}; by version {versions}"
    )

    # A patient's documents share a partition: in their order the version never goes back.
    per_patient: dict[str, list[int]] = defaultdict(list)
    for patient, document in merges:
        per_patient[patient].append(stored[document][0])
    assert all(versions == sorted(versions) for versions in per_patient.values())

    for worker in workers:
        assert worker.stop() == 0, worker.log_text()[-2000:]
    windows = read_topic(settings, Topics(settings.topic_prefix).pipeline_metrics.name)
    per_version: Counter[int] = Counter()
    for window in {w["event_id"]: w for w in windows}.values():
        per_version[window["rule_set_version"]] += window["documents"]
    assert dict(per_version) == dict(Counter(v for v, _, _ in stored.values()))
