"""The pages against the real database: the widget, the list's filters and pages, the verify
page, and its forms (what they publish, and what they refuse to)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.testclient import TestClient

from config import ResolvedSettings
from schemas import ReviewAction
from streams.topics import Topics
from webapp import AppSettings

from ..pipeline._helpers import read_topic
from ._support import add_user, login, page_token, seed_documents

ROW = re.compile(r'<tr class="band-\w+" data-document-id="([^"]+)"')


def _rows(html: str) -> list[str]:
    return ROW.findall(html)


def test_widget_list_filters_and_pages(
    settings: ResolvedSettings, make_client: Callable[[], TestClient], app_settings: AppSettings
) -> None:
    docs = seed_documents(settings, 120, seed=22)
    flagged = [d.result for d in docs if d.intended_reasons]
    assert len(flagged) > 10, "the page size is 10: the list needs two pages"
    add_user(settings.app_url, "ana", "reviewer")
    client = make_client()
    login(client, "ana")

    dashboard = client.get("/")
    assert f'data-testid="flagged-count">{len(flagged)}<' in dashboard.text
    assert f"<title>Dashboard ({len(flagged)} flagged) – optimerge review</title>" in dashboard.text
    assert 'data-band="ok"' in dashboard.text

    first_page = client.get("/documents/flagged/")
    assert _rows(first_page.text) == [r.document_id for r in flagged[:10]]
    assert f"of <strong>{len(flagged)}</strong>" in first_page.text
    second = client.get("/documents/flagged/?page=2")
    assert _rows(second.text) == [r.document_id for r in flagged[10:20]]
    beyond = client.get("/documents/flagged/?page=99")
    assert _rows(beyond.text) == _rows(
        client.get(f"/documents/flagged/?page={-(-len(flagged) // 10)}").text
    )

    by_reason = client.get("/documents/flagged/?reason=few_resources_low_confidence")
    assert set(_rows(by_reason.text)) == {
        r.document_id for r in flagged if len(r.resources) < 3 and r.confidence < 0.95
    }
    patient = flagged[0].patient_id
    by_patient = client.get(f"/documents/flagged/?patient={patient}")
    assert set(_rows(by_patient.text)) == {
        r.document_id for r in flagged if r.patient_id == patient
    }
    name = client.get(f"/api/flagged?patient={patient}").json()["items"][0]["patient_name"]
    by_name = client.get("/documents/flagged/", params={"patient": name.split()[-1].lower()})
    assert set(_rows(by_patient.text)) <= set(_rows(by_name.text))
    today = datetime.now(UTC).date().isoformat()
    assert _rows(client.get(f"/documents/flagged/?to={today}").text) == _rows(first_page.text)
    none = client.get("/documents/flagged/?to=2000-01-01")
    assert _rows(none.text) == [] and "No flagged document matches these filters" in none.text
    bad = client.get("/documents/flagged/?from=yesterday")
    assert "must be a date like" in bad.text and _rows(bad.text) == _rows(first_page.text)

    # The fragment the page swaps in when flagged.items reports a change.
    fragment = client.get("/documents/flagged/rows?page=2")
    assert _rows(fragment.text) == _rows(second.text) and "<html" not in fragment.text

    headers = first_page.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"

    token = app_settings.metrics_token
    assert token is not None
    scrape = {"Authorization": f"Bearer {token.get_secret_value()}"}
    metrics = client.get("/metrics", headers=scrape).text
    assert f"optimerge_flagged_documents {float(len(flagged))}" in metrics


def test_verify_page_and_its_forms(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    docs = seed_documents(settings, 60, seed=22)
    target = next(d.result for d in docs if d.result.document_id == "demo-22-000019")
    add_user(settings.app_url, "ana", "reviewer")
    client = make_client()
    login(client, "ana")
    url = f"/documents/{target.document_id}/verify/"

    page = client.get(url)
    assert page.status_code == 200
    assert (
        f"<title>Verify Outpatient clinic note {target.document_id} – optimerge review</title>"
        in page.text
    )
    text = page.text
    assert text.index("Why it was flagged") < text.index("Extracted from the document")
    assert "Birth date on the document" in text and "differs" in text
    # The reason's evidence, under it: both dates and how they compare.
    evidence = text[text.index('data-testid="evidence-birth_date_conflict"') :]
    evidence = evidence[: evidence.index("</table>")]
    assert str(target.patient.birth_date) in evidence and "Birth date" in evidence
    snippet = target.source_snippets["0"][0].text
    assert snippet.replace("'", "&#39;") in text or snippet in text
    assert "Patient's current record" in text
    assert 'name="expected_version" value="1"' in text

    actions = f"/documents/{target.document_id}/actions"
    token = page_token(client, url)
    # A correction that is not valid JSON is refused and shown, and nothing is published. The
    # form shown again keeps the version the reviewer saw (here an older one than stored).
    bad = client.post(
        actions,
        data={
            "csrf_token": token,
            "action": "correct_data",
            "expected_version": "0",
            "corrected_resources": '[{"resourceType": "Condition",}]',
        },
    )
    assert bad.status_code == 422
    assert "Nothing was sent" in bad.text and "not valid JSON" in bad.text
    assert "[{&#34;resourceType&#34;: &#34;Condition&#34;,}]" in bad.text, "the edit is kept"
    assert 'name="expected_version" value="0"' in bad.text

    # Without the JavaScript dialog, a rollback asks on a page of its own first.
    ask = client.post(
        actions, data={"csrf_token": token, "action": "rollback", "expected_version": "1"}
    )
    assert ask.status_code == 200 and "Yes, remove from record" in ask.text
    topic = Topics(settings.topic_prefix).review_actions.name
    assert read_topic(settings, topic) == []

    sent = client.post(
        actions,
        data={"csrf_token": token, "action": "mark_correct", "expected_version": "1", "note": "ok"},
    )
    assert sent.status_code == 303
    location = sent.headers["location"]
    assert location.startswith(f"{url}?action=") and location.endswith("&kind=mark_correct#outcome")
    applying = client.get(location.split("#")[0])
    assert "Applying “Mark as correct”…" in applying.text
    assert "data-pending-action=" in applying.text
    [published] = [ReviewAction.model_validate(m) for m in read_topic(settings, topic)]
    assert (published.action, published.reviewer, published.expected_version, published.note) == (
        "mark_correct",
        "ana",
        1,
        "ok",
    )
    assert str(published.action_id) in location

    missing = client.get("/documents/no-such-document/verify/")
    assert missing.status_code == 404 and "There is no document no-such-document" in missing.text
    assert client.get("/no/such/page").status_code == 404
