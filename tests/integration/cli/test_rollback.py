"""`optimerge document rollback` writes through the stream like a reviewer's action: a real worker
applies it in order, document.status carries the outcome, the flagged item resolves live in the
app's event stream, and the audit entry names the operator."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import orjson

from config import ResolvedSettings
from schemas import ActorKind
from storage.accounts import create_api_token
from storage.db import connect
from storage.patients import import_patients
from streams.topics import Topics
from tests.cli_runner import cli_env, run_optimerge
from tests.signing import key_of
from webapp import create_app
from webapp.passwords import new_api_token

from ..pipeline._helpers import publish, read_topic, wait_until_processed
from ..storage._factories import extraction, incoming, merge
from ..webapp._server import AppServer
from ..webapp._support import add_user
from ..webapp.conftest import app_identity, make_app_settings

PATIENT = {
    "resourceType": "Patient",
    "id": "p-rollback-1",
    "name": [{"use": "official", "family": "Olivares", "given": ["Caridad"]}],
    "birthDate": "1985-02-11",
}


def _optimerge(
    settings: ResolvedSettings, *args: str, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return run_optimerge(*args, timeout=timeout, **cli_env(settings))


def _token(database_url: str) -> str:
    add_user(database_url, "ana", "reviewer")
    token, digest = new_api_token()
    with connect(database_url) as conn:
        create_api_token(conn, "ana", digest, "tests", datetime.now(UTC) + timedelta(hours=1))
        conn.commit()
    return token


def _listen(base: str, token: str, seen: list[dict], ready: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{base}/events?kinds=flagged", headers=headers, timeout=60
    ) as response:
        for line in response.iter_lines():
            if line.startswith(": connected"):
                ready.set()
            if line.startswith("data: "):
                seen.append(orjson.loads(line.removeprefix("data: ")))
                if seen[-1].get("kind") == "resolved":
                    return


def test_an_operator_rollback_travels_the_stream_and_leaves_the_open_queue_live(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    with connect(settings.migration_url) as conn:
        import_patients(conn, [PATIENT])
    token = _token(settings.app_url)
    worker = start_worker()
    publish(settings, [extraction("doc-rb", PATIENT["id"], confidence=0.5)])  # flagged
    wait_until_processed(settings, 1, timeout=90)

    with AppServer(create_app(app_identity(settings), make_app_settings())) as server:
        headers = {"Authorization": f"Bearer {token}"}
        queue = httpx.get(f"{server.url}/api/flagged", headers=headers, timeout=10).json()
        assert [i["document_id"] for i in queue["items"]] == ["doc-rb"]

        seen: list[dict] = []
        ready = threading.Event()
        listener = threading.Thread(target=_listen, args=(server.url, token, seen, ready))
        listener.start()
        assert ready.wait(20), "the app's event stream did not connect"
        time.sleep(1)  # the app's live feed assigns its partitions at their end

        run = _optimerge(
            settings,
            "document",
            "rollback",
            "doc-rb",
            "--actor",
            "ops-oncall",
            "--note",
            "wrong patient",
        )
        assert run.returncode == 0, run.stderr + worker.log_text()[-2000:]
        printed = orjson.loads(run.stdout)
        assert (printed["outcome"], printed["review_status"], printed["resources_removed"]) == (
            "applied",
            "rejected",
            3,
        )

        listener.join(30)
        assert [(e["kind"], e["document_id"]) for e in seen] == [("resolved", "doc-rb")]
        assert seen[0]["resolution"] == "rollback" and seen[0]["reviewer"] == "ops-oncall"
        queue = httpx.get(f"{server.url}/api/flagged", headers=headers, timeout=10).json()
        assert queue["items"] == []

    statuses = read_topic(settings, Topics(settings.topic_prefix).document_status.name)
    outcome = [s for s in statuses if s.get("action_id") == printed["action_id"]]
    assert [(s["outcome"], s["status"]) for s in outcome] == [("applied", "COMPLETE")]
    with connect(settings.migration_url) as conn:
        entry = conn.execute(
            "SELECT actor_kind, actor, details->>'note', details->>'signed_by' FROM audit_log "
            "WHERE action = 'rollback' AND document_id = 'doc-rb'"
        ).fetchone()
    # Signed by the operator's key, verified by the worker before it was applied.
    operator_key = key_of(settings, ActorKind.OPERATOR).key_id
    assert entry == ("operator", "ops-oncall", "wrong patient", operator_key)

    again = _optimerge(settings, "document", "rollback", "doc-rb", "--actor", "x")
    assert again.returncode == 0 and orjson.loads(again.stdout)["outcome"] == "already_removed"


def test_rollback_without_a_worker_says_so_and_leaves_the_action_queued(
    settings: ResolvedSettings,
) -> None:
    with connect(settings.migration_url) as conn:
        import_patients(conn, [PATIENT])
    with connect(settings.migration_url) as conn:
        merge(conn, [incoming(extraction("doc-idle", PATIENT["id"]))])
    run = _optimerge(
        settings, "document", "rollback", "doc-idle", "--actor", "ops", "--timeout", "3"
    )
    assert run.returncode == 1
    assert "no worker answered within 3 s" in run.stderr
    assert "will be applied when a worker runs" in run.stderr
    queued = read_topic(settings, Topics(settings.topic_prefix).review_actions.name)
    assert [(a["document_id"], a["actor_kind"]) for a in queued] == [("doc-idle", "operator")]
