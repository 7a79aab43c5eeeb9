"""The operator's pages against a real PostgreSQL and Kafka (no worker): the console's figures
from stored windows, the dead-letter list, counts and retries (through the stream, audited, the
payload an admin's only), GET /api/dlq/stats and `optimerge dlq stats`, the status page, and
who may see what."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from starlette.testclient import TestClient

from config import ResolvedSettings
from schemas import DeadLetter
from schemas.metrics import PipelineMetricsWindow
from storage.db import connect
from storage.metrics_store import record_windows
from streams.consumers import assign_all, read_to_end, tail_consumer
from streams.dead_letters import REPLAY_HEADER, REPLAYED_BY_HEADER, read_dead_letters
from streams.producer import EventProducer
from streams.topics import Topics
from tests.audit_helpers import verify_trail
from tests.cli_runner import cli_env, run_optimerge
from webapp import create_app

from ._support import add_user, login, page_token, seed_documents
from .conftest import app_parts

NOW = datetime.now(UTC).replace(microsecond=0)


def _letters(topics: Topics, patient: str) -> list[DeadLetter]:
    base = {"source_topic": topics.extraction_results.name, "key": patient, "source_partition": 0}
    return [
        DeadLetter(**base, source_offset=10, reason="invalid JSON: unexpected character",
                   error_kind="invalid_json", payload="{not json"),
        DeadLetter(**base, source_offset=11, reason="not a valid ExtractionResult: confidence",
                   error_kind="schema", payload='{"document_id": "poison-1"}',
                   document_id="poison-1"),
        DeadLetter(**base, source_offset=12, reason="not a valid ExtractionResult: resources",
                   error_kind="schema", payload='{"document_id": "poison-2"}',
                   document_id="poison-2"),
        DeadLetter(source_topic=topics.extraction_results.name, key=None, reason="empty message",
                   error_kind="schema", payload=""),
    ]  # fmt: skip


def _replay_headers(settings: ResolvedSettings, topic: str) -> list[dict[str, bytes]]:
    consumer = tail_consumer(settings.kafka_endpoint, purpose="test")
    try:
        ends = assign_all(consumer, [topic], start="beginning")
        headers = []
        while len(headers) < sum(ends.values()):
            msg = consumer.poll(10)
            assert msg is not None, "the replayed messages are not all there"
            headers.append(dict(msg.headers() or []))
        return headers
    finally:
        consumer.close()


def _window(
    worker: str, documents: int, flagged: int, reasons: dict[str, int]
) -> PipelineMetricsWindow:
    start = NOW - timedelta(minutes=5)
    return PipelineMetricsWindow(
        worker_id=worker, window_start=start, window_end=start + timedelta(minutes=1),
        documents=documents, auto_approved=documents - flagged, flagged=flagged,
        flag_rate=flagged / documents, reasons=reasons, dead_letters=1,
    )  # fmt: skip


def test_operator_pages(settings: ResolvedSettings, as_principal: Callable) -> None:
    topics = Topics(settings.topic_prefix)
    docs = seed_documents(settings, 10, seed=22)
    patient = docs[0].result.patient_id
    # Dead letters come from workers: only their principal may write them.
    with EventProducer(as_principal("worker").kafka_endpoint) as producer:
        for letter in _letters(topics, patient):
            producer.publish(topics.dlq, letter)
    refs = {
        s.letter.error_kind + (s.letter.document_id or ""): s.ref
        for s in read_dead_letters(settings.kafka_endpoint, topics.dlq)
    }
    invalid, poison1, poison2 = refs["invalid_json"], refs["schemapoison-1"], refs["schemapoison-2"]
    windows = [
        _window("w1", 20, 4, {"low_confidence": 3, "name_mismatch": 1}),
        _window("w2", 10, 2, {"low_confidence": 2}),
    ]
    with connect(settings.migration_url) as conn:
        assert record_windows(conn, windows) == 2
        assert record_windows(conn, windows) == 0  # redelivered: stored once
    for name, role in (("olga", "operator"), ("ana", "reviewer"), ("adam", "admin")):
        add_user(settings.app_url, name, role)
    app = create_app(*app_parts(settings, live_updates=False, record_metrics=False))
    with TestClient(app, follow_redirects=False) as reviewer:
        login(reviewer, "ana")
        for path in ("/ops/", "/ops/dlq/", "/api/dlq/stats", f"/ops/dlq/letters/{invalid}"):
            assert reviewer.get(path).status_code == 403, path
        assert reviewer.get(f"/documents/{docs[0].result.document_id}/status/").status_code == 200

    with TestClient(app, follow_redirects=False) as operator:
        login(operator, "olga")
        assert operator.get("/").headers["location"] == "/ops/"  # an operator's home
        assert operator.get("/documents/flagged/").status_code == 403  # patient data
        console = operator.get("/ops/")
        assert console.status_code == 200
        assert 'data-testid="documents">30<' in console.text
        assert 'data-testid="value-flag_rate">20.0 %<' in console.text
        assert 'data-testid="reason-low_confidence">5<' in console.text
        assert 'data-target="flag_rate" data-met="yes"' in console.text
        assert 'data-target="auto_approval_rate" data-met="yes"' in console.text
        assert console.text.count("<svg") >= 10

        page = operator.get("/ops/dlq/")
        assert page.status_code == 200
        assert 'data-testid="kind-schema">3<' in page.text
        assert 'data-testid="kind-invalid_json">1<' in page.text
        assert operator.get("/ops/dlq/?kind=invalid_json").text.count("<tr data-ref=") == 1
        stats = operator.get("/api/dlq/stats").json()
        assert stats["total"] == 4 and stats["by_kind"] == {"schema": 3, "invalid_json": 1}
        assert sum(sum(k.values()) for k in stats["by_day"].values()) == 4
        assert operator.get("/api/dlq/stats?kind=schema&reason=resources").json()["total"] == 1
        letter = operator.get(f"/ops/dlq/letters/{invalid}")
        assert letter.status_code == 200 and "only admins see it" in letter.text
        assert "{not json" not in letter.text

        token = page_token(operator, "/ops/dlq/")
        refused = operator.post(
            "/ops/dlq/retry", data={"csrf_token": token, "ref": invalid, "fixed_payload": "{}"}
        )
        assert refused.status_code == 403  # a fixed payload is patient data: admins only
        sent = operator.post(
            "/ops/dlq/retry", data={"csrf_token": token, "ref": [invalid, poison1]}
        )
        assert sent.status_code == 303
        all_schema = operator.post(
            "/ops/dlq/retry", data={"csrf_token": token, "all_of_kind": "schema"}
        )
        assert all_schema.status_code == 303
        retries = operator.get("/ops/dlq/retries").text
        assert retries.count("<tr data-retry-id=") == 5
        assert "Waiting for a worker" in retries
        status = operator.get("/documents/poison-1/status/")
        assert status.status_code == 200 and 'data-testid="not-yet"' in status.text
        done = operator.get(f"/documents/{docs[0].result.document_id}/status/")
        assert 'data-testid="status">COMPLETE<' in done.text

    with TestClient(app, follow_redirects=False) as admin:
        login(admin, "adam")
        letter = admin.get(f"/ops/dlq/letters/{poison1}")
        assert 'data-testid="payload">{&#34;document_id&#34;: &#34;poison-1&#34;}<' in letter.text
        fixed = orjson.dumps({"document_id": "poison-1", "fixed": True}).decode()
        token = page_token(admin, "/ops/dlq/")
        assert (
            admin.post(
                "/ops/dlq/retry", data={"csrf_token": token, "ref": poison1, "fixed_payload": fixed}
            ).status_code
            == 303
        )

    # Every retry went to the source topic with the headers naming letter and operator.
    replayed = list(read_to_end(settings.kafka_endpoint, topics.extraction_results.name))
    assert len(replayed) == 6
    assert sorted(r.value for r in replayed).count(b"{not json") == 1
    assert fixed.encode() in {r.value for r in replayed}
    # Each retry of a letter with a patient is one audit entry in that patient's chain.
    with connect(settings.migration_url) as conn:
        entries = conn.execute(
            "SELECT actor, actor_kind, details->>'letter', details->>'fixed_payload' "
            "FROM audit_log WHERE action = 'dlq_retry' ORDER BY audit_id"
        ).fetchall()
        rows = conn.execute("SELECT state, requested_by FROM dlq_retries").fetchall()
        report = verify_trail(conn, None)
    assert [e[:2] for e in entries] == [("olga", "operator")] * 4 + [("adam", "operator")]
    assert [e[3] for e in entries] == ["false"] * 4 + ["true"]
    assert len(rows) == 6 and {r[0] for r in rows} == {"sent"}  # the keyless one: row, no entry
    assert report.ok

    done = run_optimerge("dlq", "stats", "--json", **cli_env(settings))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["by_kind"] == {"schema": 3, "invalid_json": 1}
    assert poison2 in {e[2] for e in entries}
    headers = _replay_headers(settings, topics.extraction_results.name)
    assert sorted(h[REPLAYED_BY_HEADER] for h in headers) == [b"adam"] + [b"olga"] * 5
    assert {h[REPLAY_HEADER].decode() for h in headers} == set(refs.values())
