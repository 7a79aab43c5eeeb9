"""Component health with a real worker, Kafka and PostgreSQL: `optimerge status` and
GET /api/health go red within 30 s of the last worker stopping and green after a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.testclient import TestClient

from config import ResolvedSettings
from tests.cli_runner import cli_env, run_optimerge
from tests.integration.webapp.conftest import app_parts
from webapp import create_app

from ..pipeline._helpers import demo_feed, publish, wait_until_processed
from ..webapp._support import add_user, login

RED_WITHIN_SECONDS = 30


def _env(settings: ResolvedSettings) -> dict[str, str]:
    return cli_env(settings)  # the operator, who may describe the group and read heartbeats


def _status(settings: ResolvedSettings) -> tuple[int, dict]:
    done = run_optimerge("status", "--json", timeout=60, **_env(settings))
    return done.returncode, json.loads(done.stdout)


def _wait_status(settings: ResolvedSettings, want: str, timeout: float) -> tuple[float, dict]:
    started = time.monotonic()
    report: dict = {}
    while time.monotonic() - started < timeout:
        code, report = _status(settings)
        if report["status"] == want:
            assert code == (0 if want == "ok" else 1)
            return time.monotonic() - started, report
        time.sleep(0.5)
    raise AssertionError(f"status not {want} within {timeout} s: {json.dumps(report, indent=1)}")


def test_status_goes_red_when_the_last_worker_stops_and_green_after_a_restart(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    docs = demo_feed(settings, 12, seed=5)
    worker = start_worker()
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, len(docs))
    _, report = _wait_status(settings, "ok", 60)
    deadline = time.monotonic() + 20
    # Offsets commit every second; a heartbeat after the batches comes within 5 s.
    while (
        report["components"]["consumer_group"]["total_lag"]
        or report["components"]["workers"]["workers"][0]["batches"] == 0
    ):
        assert time.monotonic() < deadline, f"lag or heartbeat never settled: {report}"
        time.sleep(0.5)
        _, report = _status(settings)
    components = report["components"]
    assert components["postgresql"]["latency_ms"] >= 0
    assert components["kafka"]["brokers"] == 1
    group = components["consumer_group"]
    assert group["members"] == 1 and group["unassigned_partitions"] == 0
    # Two co-partitioned inputs of 3 partitions each, everything consumed.
    assert len(group["partitions"]) == 6
    assert group["total_lag"] == 0
    assert {p["lag"] for p in group["partitions"]} == {0}
    [seen] = components["workers"]["workers"]
    assert seen["alive"] and seen["assigned_partitions"] == 6 and seen["batches"] >= 1

    # The app says the same to an operator, and refuses a reviewer.
    add_user(settings.app_url, "olga", "operator")
    add_user(settings.app_url, "ana", "reviewer")
    app = create_app(*app_parts(settings, live_updates=False))
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        login(client, "ana")
        assert client.get("/api/health").status_code == 403
        login(client, "olga")
        health = client.get("/api/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        assert worker.stop() == 0
        stopped = time.monotonic()
        took, report = _wait_status(settings, "down", RED_WITHIN_SECONDS)
        assert time.monotonic() - stopped <= RED_WITHIN_SECONDS
        assert report["components"]["workers"]["status"] == "down"
        assert report["components"]["postgresql"]["status"] == "ok"
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "down"

        # Work arriving while nobody consumes shows as lag.
        publish(settings, (d.result for d in demo_feed(settings, 4, seed=6)))
        deadline = time.monotonic() + 20
        while client.get("/api/health").json()["components"]["consumer_group"]["total_lag"] < 4:
            assert time.monotonic() < deadline, "the lag of 4 new events never showed"
            time.sleep(0.5)

        start_worker()
        _wait_status(settings, "ok", 60)
        assert client.get("/api/health").status_code == 200
    print(f"status went red {took:.1f} s after the last worker stopped")
