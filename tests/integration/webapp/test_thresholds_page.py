"""/ops/thresholds/ on a stored reviewed history: the recommendation with what supports it and a
trade-off plot per threshold (current and recommended marked); operators read it; only admins
save and activate versions, and what they activate judges the next merge."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from config import ResolvedSettings
from optimerge.demo import load_sample
from optimerge.demo.history import build_history
from storage import rule_sets
from storage.db import connect

from ..storage._history import store_reviewed
from ._support import add_user, login, page_token


def test_thresholds_page_and_admin_actions(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    sample = load_sample()
    with connect(settings.migration_url) as conn:  # the history, as the owner
        store_reviewed(conn, sample, build_history(sample, 800, seed=9))
    add_user(settings.app_url, "olga", "operator")
    add_user(settings.app_url, "root", "admin")
    operator, admin = make_client(), make_client()
    login(operator, "olga")
    login(admin, "root")

    page = operator.get("/ops/thresholds/?target=0.12&days=0")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="active-version">judging: v2' in html
    assert 'data-row="recommended"' in html and "not-enough-data" not in html
    for threshold in ("min_confidence", "few_resources_count", "name_similarity_min"):
        assert f'data-chart="{threshold}"' in html
    assert html.count('class="mark mark-current"') == 4
    assert 'class="mark mark-recommended"' in html
    assert "/ops/thresholds/apply" not in html  # operators read, admins act

    token = page_token(operator, "/ops/thresholds/?days=0")
    refused = operator.post(
        "/ops/thresholds/apply", data={"csrf_token": token, "version": "1", "reason": "x"}
    )
    assert refused.status_code == 403

    token = page_token(admin, "/ops/thresholds/?days=0")
    saved = admin.post(
        "/ops/thresholds/versions",
        data={"csrf_token": token, "target": "0.12", "max_fp": "0.1", "days": "0",
              "reason": "tuned on the history"},
    )  # fmt: skip
    assert saved.status_code == 303 and "version+3" in saved.headers["location"]
    applied = admin.post(
        "/ops/thresholds/apply",
        data={"csrf_token": token, "version": "3", "reason": "as recommended", "days": "0"},
    )
    assert applied.status_code == 303
    with connect(settings.migration_url) as conn:
        [latest, *_] = rule_sets.activations(conn)
        [newest, *_] = rule_sets.rule_set_versions(conn)
    assert (latest.version, latest.activated_by, latest.reason) == (3, "root", "as recommended")
    assert (newest.created_by, newest.active, newest.reason) == (
        "root",
        True,
        "tuned on the history",
    )
    assert admin.get("/ops/thresholds/?days=0").text.count('tag tag-ok">active') == 1
    missing = admin.post(
        "/ops/thresholds/apply", data={"csrf_token": token, "version": "42", "reason": "x"}
    )
    assert missing.status_code == 404
