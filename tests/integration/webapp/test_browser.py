"""The reviewer app in a real headless Chromium, against a real uvicorn server, a real
`optimerge worker`, Kafka and PostgreSQL: log in, read the widget, filter the list, then mark one
document correct, correct another and remove a third; every outcome arrives through the stream
and shows on the page and in PostgreSQL. Saves the screenshots in docs/screenshots/."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from config import ResolvedSettings
from domain.documents import DocumentView
from storage.db import connect
from storage.read import document_state
from webapp import create_app

from ..pipeline._helpers import demo_feed, publish, wait_until_processed
from ._server import AppServer
from ._support import PASSWORD, add_user
from .conftest import make_app_settings

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these Chromium keeps dialling Google's hosts.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots land in docs/screenshots/ only when asked for, so a test run leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("OPTIMERGE_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "optimerge-screenshots"
)
VIEWPORT = {"width": 1440, "height": 960}

MARK_CORRECT = "demo-22-000019"  # birth date conflict
CORRECT = "demo-22-000024"  # fallback model, low confidence, 12 resources
ROLLBACK = "demo-22-000025"  # birth date conflict, fallback model; its patient has others
LIVE_ON_DASHBOARD = "demo-22-000046"
LIVE_ON_LIST = "demo-22-000047"
# Documents that have waited a while, so the widget shows what an ageing queue looks like.
WAITED_DAYS = {MARK_CORRECT: 9, "demo-22-000022": 4, CORRECT: 1}


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is not at {CHROMIUM}: run scripts/setup.sh "
            "(apt-get install chromium); the browser test never downloads a browser"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _db_state(settings: ResolvedSettings, document_id: str) -> DocumentView:
    with connect(settings.migration_url) as conn:
        state = document_state(conn, document_id)
    assert state is not None
    return state


def _resources_by_document(settings: ResolvedSettings, patient_id: str) -> dict[str, set[str]]:
    with connect(settings.migration_url) as conn:
        rows = conn.execute(
            "SELECT document_id, resource_id FROM resources WHERE patient_id = %s", (patient_id,)
        ).fetchall()
    out: dict[str, set[str]] = {}
    for document_id, resource_id in rows:
        out.setdefault(document_id, set()).add(resource_id)
    return out


def _flagged_count(settings: ResolvedSettings) -> int:
    with connect(settings.migration_url) as conn:
        row = conn.execute("SELECT count(*) FROM documents WHERE review_status = 'flagged'")
        return int(row.fetchone()[0])  # type: ignore[index]


def _backdate(settings: ResolvedSettings) -> None:
    with connect(settings.migration_url) as conn:
        for document_id, days in WAITED_DAYS.items():
            conn.execute(
                "UPDATE documents SET created_at = now() - make_interval(days => %s) "
                "WHERE document_id = %s",
                (days, document_id),
            )


def _wait_live(server: AppServer, page: Page) -> None:
    # /healthz says only up or down: ask the app's own feed (the server runs in this process).
    feed = server.server.config.app.state.ctx.feed
    if feed is None or not feed.wait_ready(20):
        raise AssertionError("the app's live feed did not start within 20 s")


def _open_verify(page: Page, server: AppServer, document_id: str) -> None:
    page.goto(f"{server.url}/documents/{document_id}/verify/")
    expect(page.locator("#reasons-title")).to_be_visible()


def _watch_for_script_errors(page: Page, errors: list[str]) -> None:
    """Uncaught exceptions and Content-Security-Policy refusals fail the test at the end."""
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )


def _wait_outcome(page: Page, level: str) -> None:
    outcome = page.get_by_test_id("outcome")
    expect(outcome).to_have_attribute("data-level", level, timeout=30_000)


def test_review_flow_in_chromium(
    settings: ResolvedSettings,
    app_principal: ResolvedSettings,
    start_worker: Callable,
    browser: Browser,
    tmp_path: Path,
) -> None:
    docs = demo_feed(settings, 60, seed=22)
    by_id = {d.result.document_id: d.result for d in docs}
    held_back = {LIVE_ON_DASHBOARD, LIVE_ON_LIST}
    add_user(settings.app_url, "ana", "reviewer")
    start_worker()
    publish(settings, (d.result for d in docs if d.result.document_id not in held_back))
    app = create_app(app_principal, make_app_settings(page_size=25))
    with AppServer(app) as server:
        context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
        page = context.new_page()
        script_errors: list[str] = []
        _watch_for_script_errors(page, script_errors)
        wait_until_processed(settings, len(docs) - len(held_back))
        _backdate(settings)
        _wait_live(server, page)

        # Not logged in: sent to the login page. Logging in works from the keyboard alone.
        page.goto("/documents/flagged/")
        expect(page).to_have_url(f"{server.url}/login?next=%2Fdocuments%2Fflagged%2F")
        expect(page).to_have_title("Log in – optimerge review")
        page.keyboard.type("ana")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{server.url}/documents/flagged/")

        # The dashboard widget: the flagged count of PostgreSQL, red for a 9-day-old document.
        page.get_by_role("link", name="Dashboard").click()
        widget = page.locator("#flagged-widget")
        expected = _flagged_count(settings)
        expect(page.get_by_test_id("flagged-count")).to_have_text(str(expected))
        expect(widget).to_have_attribute("data-band", "overdue")
        expect(widget).to_contain_text("Oldest waiting 9 days")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-widget.png"))
        # A newly flagged document reaches the widget live, without a reload.
        publish(settings, [by_id[LIVE_ON_DASHBOARD]])
        expect(page.get_by_test_id("flagged-count")).to_have_text(str(expected + 1))

        # The list: oldest first, filtered by reason, patient and date.
        widget.click()
        expect(page).to_have_title(f"Flagged documents ({expected + 1}) – optimerge review")
        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(expected + 1)
        expect(rows.first).to_have_attribute("data-document-id", MARK_CORRECT)
        page.select_option("#f-reason", "fallback_model")
        page.get_by_role("button", name="Apply filters").click()
        fallback = {d for d, r in by_id.items() if r.model.is_fallback} - {LIVE_ON_LIST}
        expect(rows).to_have_count(len(fallback))
        ids = set(rows.evaluate_all("rs => rs.map(r => r.dataset.documentId)"))
        assert ids == fallback
        page.get_by_role("link", name="Clear filters").click()
        same_patient = by_id[MARK_CORRECT].patient_id
        page.fill("#f-patient", same_patient)
        page.get_by_role("button", name="Apply filters").click()
        ids = set(rows.evaluate_all("rs => rs.map(r => r.dataset.documentId)"))
        assert ids == {"demo-22-000019", "demo-22-000034"}
        page.get_by_role("link", name="Clear filters").click()
        today = datetime.now(UTC).date().isoformat()
        page.fill("#f-from", today)
        page.get_by_role("button", name="Apply filters").click()
        expect(rows).to_have_count(expected + 1 - len(WAITED_DAYS))
        page.get_by_role("link", name="Clear filters").click()
        # A document flagged while the list is open appears in it live.
        publish(settings, [by_id[LIVE_ON_LIST]])
        expect(page.locator(f'tr[data-document-id="{LIVE_ON_LIST}"]')).to_be_visible()
        expect(rows).to_have_count(expected + 2)
        page.screenshot(path=str(SCREENSHOTS / "flagged-list.png"), full_page=True)

        # Verify and mark as correct. A second tab keeps the page as it was (version 1).
        page.locator(f'tr[data-document-id="{MARK_CORRECT}"] a.doc-link').click()
        expect(page).to_have_title(
            f"Verify Outpatient clinic note {MARK_CORRECT} – optimerge review"
        )
        expect(page.locator(".reason-list")).to_contain_text("Birth date")
        page.screenshot(path=str(SCREENSHOTS / "verify-page.png"), full_page=True)
        stale = context.new_page()
        _watch_for_script_errors(stale, script_errors)
        _open_verify(stale, server, MARK_CORRECT)
        page.get_by_role("button", name="Mark as correct").click()
        _wait_outcome(page, "success")
        expect(page.get_by_test_id("outcome")).to_contain_text("Done: Mark as correct.")
        expect(page.get_by_test_id("review-status")).to_have_text("Reviewed")
        state = _db_state(settings, MARK_CORRECT)
        assert (state.review_status, state.version, state.reviewer) == (
            "reviewed",
            2,
            "ana",
        )

        # The stale tab learns live that the document changed; acting on version 1 anyway, the
        # merge agent refuses and the page says why.
        expect(stale.locator("#changed-notice")).to_be_visible()
        expect(stale.locator("#changed-notice")).to_contain_text("now version 2")
        stale.get_by_role("button", name="Mark as correct").click()
        _wait_outcome(stale, "error")
        expect(stale.get_by_test_id("outcome")).to_contain_text(
            "expected version 1, current version 2"
        )
        assert _db_state(settings, MARK_CORRECT).version == 2
        stale.close()

        # Correct data: a wrong edit is caught before sending; a good one is applied.
        _open_verify(page, server, CORRECT)
        page.get_by_role("link", name="Correct data…").click()
        editor = page.locator("#corrected")
        expect(editor).to_be_focused()
        resources = json.loads(editor.input_value())
        assert len(resources) == 12
        editor.fill('[{"resourceType": "Condition"')
        page.get_by_role("button", name="Send correction").click()
        expect(page.locator("#correct-errors")).to_contain_text("not valid JSON")
        resources[0]["code"] = {"text": "Corrected by the reviewer"}
        kept = resources[:-1]
        editor.fill(json.dumps(kept, indent=2))
        page.get_by_role("button", name="Send correction").click()
        _wait_outcome(page, "success")
        expect(page.get_by_test_id("outcome")).to_contain_text("Done: Correct data.")
        page.screenshot(path=str(SCREENSHOTS / "verify-outcome.png"))
        state = _db_state(settings, CORRECT)
        assert (state.review_status, state.resource_count) == ("reviewed", 11)
        with connect(settings.migration_url) as conn:
            texts = [
                r[0]
                for r in conn.execute(
                    "SELECT body->'code'->>'text' FROM resources WHERE document_id = %s",
                    (CORRECT,),
                )
            ]
        assert "Corrected by the reviewer" in texts

        context.close()

        # Remove from record, on an app whose live feed is off: the pages fall back to polling.
        polling_app = create_app(app_principal, make_app_settings(live_updates=False))
        with AppServer(polling_app) as fallback:
            context = browser.new_context(viewport=VIEWPORT, base_url=fallback.url)
            page = context.new_page()
            _watch_for_script_errors(page, script_errors)
            page.goto("/login?next=%2Fdocuments%2Fflagged%2F")
            page.fill("#name", "ana")
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("[data-live-state]")).to_have_text("Updating every 15 s")

            patient = by_id[ROLLBACK].patient_id
            before = _resources_by_document(settings, patient)
            assert before[ROLLBACK] and len(before) > 1, "the patient needs other documents too"
            _open_verify(page, fallback, ROLLBACK)
            dialogs: list[str] = []

            def accept(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.accept()

            page.once("dialog", accept)
            page.get_by_role("button", name="Remove from record…").click()
            _wait_outcome(page, "success")
            assert dialogs and "Remove this document" in dialogs[0]
            expect(page.get_by_test_id("review-status")).to_have_text("Removed from record")
            state = _db_state(settings, ROLLBACK)
            assert (state.review_status, state.resource_count) == ("rejected", 0)

            # The bundle, read through the app's API with the browser's session, lost exactly
            # the rolled-back document's resources.
            bundle = page.request.get(f"/api/patients/{patient}/bundle").json()
            sources: dict[str, set[str]] = {}
            for entry in bundle["entry"]:
                resource = entry["resource"]
                source = (resource.get("meta") or {}).get("source")
                if source:
                    sources.setdefault(source.removeprefix("document_"), set()).add(resource["id"])
            assert sources == {d: ids for d, ids in before.items() if d != ROLLBACK}
            context.close()
    assert script_errors == []
