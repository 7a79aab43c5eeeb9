"""The thresholds page's view: rows for the current and the recommended set, the changes, and a
trade-off plot per searched threshold; a thin history shows its problem and no recommendation."""

from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from optimerge.demo import load_sample
from optimerge.demo.history import DEFAULTS, build_history
from pipeline.thresholds import recommend_thresholds
from webapp.thresholds_view import thresholds_view


def test_a_recommendation_shows_both_sets_their_changes_and_four_plots():
    cases = [h.case() for h in build_history(load_sample(), 1_500, seed=3)]
    proposal = recommend_thresholds(cases, DEFAULTS, target=0.12)
    view = thresholds_view(DEFAULTS, [], [], proposal)
    assert view.sufficient and [r.label for r in view.rows] == ["current (v2)", "recommended"]
    assert view.rows[1].flag_rate.endswith(" %") and view.changes
    assert [c.key for c in view.charts] == [
        "min_confidence", "few_resources_count", "few_resources_min_confidence",
        "name_similarity_min",
    ]  # fmt: skip
    assert all("mark-current" in c.svg for c in view.charts)


def test_a_thin_history_says_so_and_recommends_nothing():
    cases = [h.case() for h in build_history(load_sample(), 100, seed=3)]
    active = RuleSet(0, RuleThresholds())
    view = thresholds_view(active, [], [], recommend_thresholds(cases, active, target=0.12))
    assert not view.sufficient and "needs at least 100 verdicts" in view.problems[0]
    assert [r.label for r in view.rows] == ["current (v0)"]
    assert len(view.charts) == 4 and not any("mark-recommended" in c.svg for c in view.charts)
