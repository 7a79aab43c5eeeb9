"""Monitoring proven: a real Prometheus scrapes a real `optimerge worker --metrics-port` and the
app, loads the alert rules, and answers the Grafana dashboard's own flag-rate and lag queries
(read from deploy/grafana/optimerge-dashboard.json) with the figures PostgreSQL holds."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from config import ResolvedSettings
from optimerge.infra._ports import free_ports
from storage.db import connect
from streams.topics import Topics
from tests.integration.webapp.conftest import app_parts
from webapp import create_app

from ..pipeline._helpers import demo_feed, publish, wait_until_processed
from ..webapp._server import AppServer
from ._prometheus import ALERTS, Prometheus

DASHBOARD = ALERTS.parents[1] / "grafana" / "optimerge-dashboard.json"


def dashboard_queries(title: str) -> list[str]:
    """The PromQL of a dashboard panel, as Grafana would send it for a 1 m rate interval."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    [panel] = [p for p in panels if p.get("title") == title]
    return [t["expr"].replace("$__rate_interval", "1m") for t in panel["targets"]]


def _database_figures(settings: ResolvedSettings) -> tuple[int, int, Counter[str]]:
    """Merged documents, flagged ones and the rules that fired, as PostgreSQL stores them."""
    with connect(settings.migration_url) as conn:
        rows = conn.execute(
            "SELECT review_status, flag_reasons FROM documents WHERE processing_status = 'COMPLETE'"
        ).fetchall()
    rules: Counter[str] = Counter()
    for _, reasons in rows:
        rules.update({r["rule"] for r in reasons})
    return len(rows), sum(1 for status, _ in rows if status == "flagged"), rules


def _stored_windows(settings: ResolvedSettings) -> tuple[int, int, Counter[str]]:
    """What the console reads: the pipeline.metrics windows the app keeps in PostgreSQL."""
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(documents), 0), coalesce(sum(flagged), 0) FROM metrics_windows"
        ).fetchone()
        reasons = conn.execute(
            "SELECT r.key, sum(r.value::int) FROM metrics_windows, jsonb_each_text(reasons) r "
            "GROUP BY 1"
        ).fetchall()
    assert row is not None
    return int(row[0]), int(row[1]), Counter({k: int(n) for k, n in reasons})


def test_prometheus_scrapes_worker_and_app_and_answers_the_dashboard_queries(
    settings: ResolvedSettings,
    start_worker: Callable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = demo_feed(settings, 40, seed=31)
    monkeypatch.setenv("OPTIMERGE_METRICS_WINDOW_SECONDS", "1")
    [metrics_port] = free_ports(1)
    start_worker(None, "--metrics-port", str(metrics_port))
    # The app also keeps the windows for its console: both views must tell the same story.
    app_settings, parts = app_parts(settings, live_updates=False)
    assert parts.metrics_token is not None
    app = create_app(app_settings, parts)
    with AppServer(app) as server:
        prometheus = Prometheus(
            tmp_path / "prometheus",
            workers=[f"127.0.0.1:{metrics_port}"],
            apps=[f"127.0.0.1:{server.port}"],
            app_token=parts.metrics_token.get_secret_value(),
        )
        try:
            prometheus.wait_ready()
            up = prometheus.wait_until(
                "up", lambda r: len(r) == 2 and all(s["value"][1] == "1" for s in r), 60
            )
            assert {s["metric"]["job"] for s in up} == {"optimerge-worker", "optimerge-app"}
            rules = {r["name"] for r in prometheus.rules() if r["type"] == "alerting"}
            assert "OptimergeNoWorkersConsuming" in rules and len(rules) >= 15
            # A few scrapes of the counters at zero before the feed: rates start from there.
            time.sleep(2.5)

            publish(settings, (d.result for d in docs))
            wait_until_processed(settings, len(docs))
            merged, flagged, rules_fired = _database_figures(settings)
            assert 0 < flagged < merged
            prometheus.wait_until(
                "sum(optimerge_documents_total)",
                lambda r: r and float(r[0]["value"][1]) == merged,
            )
            time.sleep(2)  # two more scrapes: the latest sample is the final count

            [flag_rate] = dashboard_queries("Flag rate (1 h)")
            assert abs(prometheus.scalar(flag_rate) - flagged / merged) < 1e-9
            by_rule = {
                s["metric"]["rule"]: float(s["value"][1])
                for s in prometheus.query("sum by (rule) (optimerge_flags_total)")
            }
            assert {r: n for r, n in by_rule.items() if n} == {
                r: float(n) for r, n in rules_fired.items()
            }
            reasons_rate = dashboard_queries("Flag reasons / s")[0]
            assert {s["metric"]["rule"] for s in prometheus.query(reasons_rate)} >= set(rules_fired)

            [lag_total] = dashboard_queries("Consumer lag")
            [lag_by_partition] = dashboard_queries("Consumer lag by partition")
            partitions = prometheus.wait_until(
                lag_by_partition, lambda r: r and all(s["value"][1] == "0" for s in r)
            )
            assert {s["metric"]["topic"] for s in partitions} <= set(
                Topics(settings.topic_prefix).inputs()
            )
            assert prometheus.scalar(lag_total) == 0
            [consuming] = dashboard_queries("Partitions consumed")
            assert prometheus.scalar(consuming) == 6

            # The console's store of pipeline.metrics windows agrees with the counters.
            deadline = time.monotonic() + 30
            while _stored_windows(settings)[0] < merged:
                assert time.monotonic() < deadline, "the windows were not all stored"
                time.sleep(0.25)
            assert _stored_windows(settings) == (merged, flagged, rules_fired)

            # The app's queue gauges, read from PostgreSQL at scrape time.
            assert prometheus.scalar("max(optimerge_flagged_documents)") == flagged
        finally:
            prometheus.close()
