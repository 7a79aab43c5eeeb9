"""The threshold search: its shortcut counts exactly what the rules flag, it proposes nothing on
too little reviewed history, and it says when a target would flag what nobody reviewed."""

import random

import pytest

from domain.fp_estimate import estimate_of, features_of
from domain.recommend import Grid, recommend, tradeoff_curves
from domain.replay import fired
from domain.rule_sets import RuleSet
from domain.search_space import totals_at
from domain.thresholds import RuleThresholds
from optimerge.demo import load_sample
from optimerge.demo.history import DEFAULTS, build_history

from ._cases import case


@pytest.fixture(scope="module")
def history():
    return build_history(load_sample(), 2_000, seed=4)


def test_the_search_shortcut_counts_what_the_rules_flag(history):
    cases = [h.case() for h in history]
    base = RuleThresholds()
    grid = Grid().including(base)
    features = features_of(cases, base, grid.name_similarity_min)
    rng = random.Random(1)
    for _ in range(10):
        thresholds = base.model_copy(
            update={name: rng.choice(getattr(grid, name)) for name in (
                "min_confidence", "few_resources_count", "few_resources_min_confidence",
                "name_similarity_min",
            )}
        )  # fmt: skip
        flags = [bool(fired(c, RuleSet(1, thresholds))) for c in cases]
        found, rules = totals_at(features, thresholds, grid).estimate, estimate_of(features, flags)
        assert (found.flagged, found.supported, found.verdicts) == (
            rules.flagged,
            rules.supported,
            rules.verdicts,
        ), thresholds
        assert found.false_positives == pytest.approx(rules.false_positives)


def test_too_few_verdicts_is_said_plainly_and_nothing_is_proposed():
    cases = [case(n, 0.5 + n / 1000, None) for n in range(300)]
    features = features_of(cases, RuleThresholds(), Grid().name_similarity_min)
    recommendation = recommend(features, RuleThresholds(), target=0.12)
    assert recommendation.proposed is None
    assert "only 0 reviewed documents" in recommendation.problems[0]


def test_a_target_that_flags_what_nobody_reviewed_is_refused(history):
    # Judged by the defaults alone: nothing above 0.80 was reviewed as a flag.
    plain = build_history(load_sample(), 1_500, seed=4, judges=(DEFAULTS,))
    cases = [h.case() for h in plain]
    base = RuleThresholds()
    features = features_of(cases, base, Grid().including(base).name_similarity_min)
    recommendation = recommend(features, base, target=0.40)
    assert recommendation.proposed is None
    assert "unlike any reviewed" in recommendation.problems[0]


def test_the_tradeoff_curves_rise_with_min_confidence(history):
    cases = [h.case() for h in history]
    base = RuleThresholds()
    grid = Grid().including(base)
    features = features_of(cases, base, grid.name_similarity_min)
    curves = {c.threshold: c for c in tradeoff_curves(features, base)}
    confidence = curves["min_confidence"]
    assert confidence.current == 0.80 and confidence.proposed is None
    assert list(confidence.flag_rates) == sorted(confidence.flag_rates)
    assert (
        len(confidence.values) == len(confidence.false_positive_rates) == len(grid.min_confidence)
    )


def test_per_model_thresholds_only_where_a_model_can_reach_the_target():
    from optimerge.demo.mix import FeedMix
    from pipeline.thresholds import recommend_thresholds

    # A fifth of the documents from the fallback model: every one of them is flagged by
    # fallback_model, whatever the thresholds, so that model gets none of its own.
    mix = FeedMix(fallback_model=0.2, low_confidence=0.07)
    cases = [h.case() for h in build_history(load_sample(), 3_000, seed=6, mix=mix)]
    proposal = recommend_thresholds(cases, DEFAULTS, target=0.25, per_model=True)
    large, small = proposal.by_model["extractor-large"], proposal.by_model["extractor-small"]
    assert large.reached and large.proposed is not None
    assert abs(large.proposed.flag_rate - 0.25) <= 0.0025
    assert not small.reached and "no set of the grid flags" in small.notes[0]
    rule_set = proposal.rule_set()
    assert rule_set is not None and set(rule_set.by_model) == {"extractor-large"}
    assert rule_set.by_model["extractor-large"] == large.proposed.thresholds
