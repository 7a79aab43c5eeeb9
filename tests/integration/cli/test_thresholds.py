"""`optimerge thresholds` on a reviewed history written as production writes it: the history
read back is the one written (labels, judging versions, flags at any thresholds); evaluate
writes nothing and says what the pure replay says; recommend saves a version, apply activates
it, list shows who did what."""

from __future__ import annotations

import orjson
import pytest

from config import ResolvedSettings
from domain.replay import Replayer
from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from optimerge.demo import load_sample
from optimerge.demo.history import DEFAULTS, build_history
from pipeline.thresholds import evaluate_history
from storage.db import connect
from storage.history import Scope, replay_cases
from tests.cli_runner import run_optimerge

from ..storage._history import store_reviewed

CANDIDATES = [
    RuleThresholds(),
    RuleThresholds(min_confidence=0.75, few_resources_count=2),
    RuleThresholds(min_confidence=0.9, name_similarity_min=90),
]


def _tables(database_url: str) -> tuple[object, ...]:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM rule_sets), (SELECT count(*) FROM rule_set_activations), "
            "(SELECT max(updated_at) FROM documents), (SELECT count(*) FROM review_verdicts)"
        ).fetchone()
    return tuple(row or ())


def test_a_stored_history_replays_as_judged_and_evaluate_recommend_apply_list(
    database_url: str, settings: ResolvedSettings
) -> None:
    sample = load_sample()
    reviewed = build_history(sample, 1_000, seed=9)
    with connect(database_url) as conn:
        store_reviewed(conn, sample, reviewed)
        # Read back: the labels, the judging versions, the flags at any thresholds.
        cases = {c.document_id: c for c in replay_cases(conn, Scope())}
    assert len(cases) == len(reviewed)
    for h in reviewed:
        case = cases[h.document.result.document_id]
        assert (case.label, case.rule_set_version) == (h.label, h.judged_by.version)
    for thresholds in CANDIDATES:
        stored, built = Replayer(RuleSet(1, thresholds)), Replayer(RuleSet(1, thresholds))
        differ = [
            h.document.result.document_id
            for h in reviewed
            if stored.fired(cases[h.document.result.document_id]) != built.fired(h.case())
        ]
        assert differ == [], thresholds

    # The commands run as the app role, as deployed (the owner only stored the history).
    env = {"DATABASE_URL": settings.database_url, "OPTIMERGE_APP_DATABASE_URL": settings.app_url}
    before = _tables(database_url)
    done = run_optimerge(
        "thresholds", "evaluate", "--set", "min_confidence=0.75", "--set",
        "few_resources_count=2", "--json", **env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert _tables(database_url) == before  # nothing written
    candidate, current = evaluate_history(
        [h.case() for h in reviewed], RuleSet(-1, CANDIDATES[1]), DEFAULTS
    )
    figures = report["figures"]
    assert report["current"]["version"] == DEFAULTS.version  # the active one
    for name, judged in (("candidate", candidate), ("current", current)):
        shown = figures[name]
        assert (shown["flagged"], shown["reviewed"], shown["false_positives"]) == (
            judged.figures.flagged, judged.figures.reviewed, judged.figures.false_positives
        )  # fmt: skip
        assert shown["missed_problems"] == judged.figures.missed_problems
        assert shown["estimated_false_positive_rate"] == pytest.approx(judged.estimate.rate)
        assert set(shown["rules"]) == set(judged.figures.by_rule)
    assert figures["change"]["flagged"] == candidate.figures.flagged - current.figures.flagged

    done = run_optimerge(
        "thresholds", "recommend", "--target-flag-rate", "0.12", "--save", "--actor", "ana",
        "--reason", "12 % from 1,000 reviewed documents", "--json", **env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    proposal = orjson.loads(done.stdout)
    assert proposal["sufficient"] and proposal["saved_version"] == 3
    assert abs(proposal["expected"]["flag_rate"] - 0.12) <= 0.0025
    assert proposal["minimums"]["verdicts"] == 100

    done = run_optimerge(
        "thresholds", "apply", "3", "--actor", "ana", "--reason", "as recommended", **env
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["version"] == 3
    listed = orjson.loads(run_optimerge("thresholds", "list", "--json", **env).stdout)
    assert listed["active"] == 3
    [newest, *_] = listed["versions"]
    assert (newest["version"], newest["created_by"], newest["active"]) == (3, "ana", True)
    assert newest["thresholds"] == proposal["proposed"]["thresholds"]
    assert newest["expected"]["flag_rate"] == proposal["expected"]["flag_rate"]
    assert listed["activations"][0]["reason"] == "as recommended"

    unknown = run_optimerge("thresholds", "apply", "9", "--actor", "a", "--reason", "r", **env)
    assert unknown.returncode == 1 and "version 9 does not exist" in unknown.stderr
    bad = run_optimerge("thresholds", "evaluate", "--set", "confidence=1", **env)
    assert bad.returncode == 2 and "unknown threshold 'confidence'" in bad.stderr


def test_recommend_says_plainly_when_the_history_is_too_thin(database_url) -> None:
    sample = load_sample()
    with connect(database_url) as conn:
        store_reviewed(conn, sample, build_history(sample, 150, seed=9))
    done = run_optimerge(
        "thresholds", "recommend", "--target-flag-rate", "0.12", DATABASE_URL=database_url
    )
    assert done.returncode == 1
    assert "NOT ENOUGH DATA" in done.stdout and "needs at least 100 verdicts" in done.stdout
