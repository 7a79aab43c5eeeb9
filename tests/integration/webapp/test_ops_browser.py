"""The operator's side in a real headless Chromium, against a real uvicorn server, real
`optimerge worker` processes, Kafka and PostgreSQL: a feed with a known flag mix and poison
events; the console shows the flag rate and the per-reason counts PostgreSQL holds; the DLQ page
shows the poison events by kind; once the cause of one is fixed (the worker's size limit
raised), retrying it merges it and the page says so live; a reviewer is refused /ops/.
Saves docs/screenshots/ops-console.png and ops-dead-letters.png."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from config import ResolvedSettings
from storage.db import connect
from streams.producer import EventProducer
from streams.topics import Topics
from webapp import create_app

from ..pipeline._helpers import demo_feed, publish, wait_until_processed
from ._server import AppServer
from ._support import PASSWORD, add_user
from .conftest import app_parts
from .test_browser import SCREENSHOTS, VIEWPORT, browser  # noqa: F401 (the fixture)

BIG = "ops-big-document"


def _merged_figures(settings: ResolvedSettings) -> tuple[int, int, Counter[str]]:
    with connect(settings.migration_url) as conn:
        rows = conn.execute(
            "SELECT review_status, flag_reasons FROM documents WHERE processing_status = 'COMPLETE'"
        ).fetchall()
    reasons: Counter[str] = Counter()
    for _, found in rows:
        reasons.update({r["rule"] for r in found})
    return len(rows), sum(1 for status, _ in rows if status == "flagged"), reasons


def _stored_window_documents(settings: ResolvedSettings) -> int:
    with connect(settings.migration_url) as conn:
        row = conn.execute("SELECT coalesce(sum(documents), 0) FROM metrics_windows").fetchone()
    return int(row[0]) if row else 0


def _wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.25)


def _login(page: Page, name: str) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_operator_console_and_dead_letters_in_chromium(
    settings: ResolvedSettings,
    start_worker: Callable,
    browser: Browser,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = demo_feed(settings, 40, seed=22)
    encoded = [d.result.model_dump_json().encode() for d in docs]
    # The worker takes events up to `limit` bytes: every document of the feed, but not the big
    # one (a copy of the first with a long extra field), which is dead-lettered whole.
    limit = max(1024, max(len(e) for e in encoded) + 256)
    big = orjson.loads(encoded[0]) | {"document_id": BIG, "scan_notes": "n" * (limit + 2000)}
    patient = docs[0].result.patient_id
    for name, role in (("olga", "operator"), ("ana", "reviewer")):
        add_user(settings.app_url, name, role)
    monkeypatch.setenv("OPTIMERGE_METRICS_WINDOW_SECONDS", "1")
    monkeypatch.setenv("OPTIMERGE_MAX_EVENT_BYTES", str(limit))
    worker = start_worker()
    publish(settings, (d.result for d in docs))
    source = Topics(settings.topic_prefix).extraction_results.name
    with EventProducer(settings.kafka_endpoint) as producer:
        for poison in (
            b"{not json",
            orjson.dumps({"document_id": "ops-poison-schema", "confidence": "high"}),
            orjson.dumps(big),
        ):
            producer.send(source, poison, key=patient)

    app = create_app(*app_parts(settings))
    with AppServer(app) as server:
        wait_until_processed(settings, len(docs))
        merged, flagged, reasons = _merged_figures(settings)
        assert merged == len(docs) and 0 < flagged < merged and len(reasons) >= 3
        _wait("the metrics windows stored", lambda: _stored_window_documents(settings) == merged)

        # A reviewer is refused the console.
        context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
        page = context.new_page()
        _login(page, "ana")
        response = page.goto("/ops/")
        assert response is not None and response.status == 403
        expect(page.locator("main")).to_contain_text("may not use the operator console")
        context.close()

        # The operator lands on the console: the figures of PostgreSQL.
        context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
        page = context.new_page()
        _login(page, "olga")
        expect(page).to_have_url(f"{server.url}/ops/")
        expect(page.get_by_test_id("documents")).to_have_text(str(merged))
        expect(page.get_by_test_id("flagged")).to_have_text(str(flagged))
        expect(page.get_by_test_id("value-flag_rate")).to_have_text(
            f"{flagged / merged * 100:.1f} %"
        )
        for rule, count in reasons.items():
            expect(page.get_by_test_id(f"reason-{rule}")).to_have_text(str(count))
        expect(page.get_by_test_id("dead-letters")).to_have_text("3")
        expect(page.get_by_test_id("workers-alive")).to_have_text("1")
        expect(page.get_by_test_id("total-lag")).to_have_text("0")
        assert page.locator("svg.chart").count() >= 10
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "ops-console.png"), full_page=True)

        # The dead letters, by kind.
        page.get_by_role("link", name="Dead letters").first.click()
        expect(page).to_have_url(f"{server.url}/ops/dlq/")
        for kind in ("invalid_json", "schema", "too_large"):
            expect(page.get_by_test_id(f"kind-{kind}")).to_have_text("1")
        expect(page.get_by_test_id("kind-merge_error")).to_have_text("0")
        rows = page.locator("[data-testid=letters] tbody tr")
        expect(rows).to_have_count(3)
        too_large = page.locator("tr[data-ref][data-kind=too_large]")
        ref = too_large.get_attribute("data-ref")
        assert ref is not None

        # The fix: the size limit raised (a worker restarted with the default of 2 MiB).
        assert worker.stop() == 0
        monkeypatch.delenv("OPTIMERGE_MAX_EVENT_BYTES")
        start_worker()

        # Retry the fixed letter, and the invalid JSON too (which fails again): both live.
        too_large.locator("input[type=checkbox]").check()
        page.locator("tr[data-ref][data-kind=invalid_json] input[type=checkbox]").check()
        page.get_by_test_id("retry-selected").click()
        expect(page.get_by_test_id("sent-banner")).to_contain_text("Sent 2 letter(s)")
        # Version 2: the refusal of the oversized event was recorded on the document it names
        # (version 1, FAILED), as the input contract says; the fixed retry merges it.
        expect(page.get_by_test_id(f"outcome-{ref}")).to_contain_text(
            "Merged: version 2",
            timeout=60_000,
        )
        invalid_ref = page.locator("tr[data-ref][data-kind=invalid_json]").get_attribute("data-ref")
        expect(page.get_by_test_id(f"outcome-{invalid_ref}")).to_contain_text(
            "Dead-lettered again (Invalid JSON)", timeout=30_000
        )
        page.screenshot(path=str(SCREENSHOTS / "ops-dead-letters.png"), full_page=True)
        with connect(settings.migration_url) as conn:
            row = conn.execute(
                "SELECT processing_status, is_merged FROM documents WHERE document_id = %s", (BIG,)
            ).fetchone()
            audited = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action = 'dlq_retry' AND actor = 'olga'"
            ).fetchone()
        assert row == ("COMPLETE", True)
        assert audited == (2,)

        # Its processing status page, from the retries panel.
        page.locator(f"[data-testid=retries] a[href$='{BIG}/status/']").first.click()
        expect(page.get_by_test_id("status")).to_have_text("COMPLETE")
        context.close()
