"""Threshold tuning, the use cases (docs/contract.md#rule-sets): evaluate a candidate set on the
judged history, recommend one for a target flag rate, store a version, activate one. The pure
halves are domain/replay.py, domain/fp_estimate.py and domain/recommend.py; storage/ reads the
history and keeps the versions."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from domain.fp_estimate import CaseFeatures, Estimate, estimate_of, features_of
from domain.recommend import Grid, Recommendation, recommend
from domain.replay import Figures, ReplayCase, Replayer, figures_of
from domain.rule_sets import SETTINGS_VERSION, Activation, RuleSet, settings_rule_set
from domain.thresholds import RuleThresholds
from schemas.events import Clock, utc_now
from storage import rule_sets
from storage.history import Scope, replay_cases


def active_rule_set(conn: psycopg.Connection, settings_thresholds: RuleThresholds) -> RuleSet:
    """The rule set that judges merges now (the settings' thresholds while none is active)."""
    with conn.transaction(), conn.cursor() as cur:
        version = rule_sets.active_version(cur)
        if version == SETTINGS_VERSION:
            return settings_rule_set(settings_thresholds)
        return rule_sets.load_rule_set(cur, version)


def load_cases(conn: psycopg.Connection, scope: Scope) -> list[ReplayCase]:
    return list(replay_cases(conn, scope))


@dataclass(frozen=True, slots=True)
class Judged:
    """One rule set's flags on the history, their worth against the verdicts, the estimate."""

    rule_set: RuleSet
    figures: Figures
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class Evaluation:
    candidate: Judged
    current: Judged
    documents: int
    load_seconds: float
    replay_seconds: float


def history_features(
    cases: Sequence[ReplayCase], current: RuleSet, grid: Grid | None = None
) -> list[CaseFeatures]:
    """The estimates of the history, the same for `evaluate` and `recommend` (both group
    documents by the search grid's name verdicts)."""
    search = (grid or Grid()).including(current.thresholds)
    return features_of(cases, current.thresholds, search.name_similarity_min)


def judge_history(
    cases: Sequence[ReplayCase], rule_set: RuleSet, features: Sequence[CaseFeatures]
) -> Judged:
    replayer = Replayer(rule_set)
    flags = [replayer.fired(case) for case in cases]
    return Judged(
        rule_set, figures_of(cases, flags), estimate_of(features, [bool(f) for f in flags])
    )


def evaluate_history(
    cases: Sequence[ReplayCase], candidate: RuleSet, current: RuleSet
) -> tuple[Judged, Judged]:
    # One set of estimates for both: they rest on the same verdicts, whatever judges.
    features = history_features(cases, current)
    return judge_history(cases, candidate, features), judge_history(cases, current, features)


def evaluate_thresholds(
    conn: psycopg.Connection, candidate: RuleSet, current: RuleSet, scope: Scope
) -> Evaluation:
    """Replay the history in scope at `candidate` and at `current`; writes nothing."""
    started = time.perf_counter()
    cases = load_cases(conn, scope)
    loaded = time.perf_counter()
    judged_candidate, judged_current = evaluate_history(cases, candidate, current)
    return Evaluation(
        judged_candidate,
        judged_current,
        len(cases),
        loaded - started,
        time.perf_counter() - loaded,
    )


@dataclass(frozen=True, slots=True)
class Proposal:
    """A recommendation, with the proposed set replayed through the rules themselves (so the
    figures shown are the rules', not the search's shortcut) and per model where it can."""

    recommendation: Recommendation
    current: RuleSet
    judged_current: Judged
    proposed: Judged | None
    documents: int
    seconds: float
    by_model: Mapping[str, Recommendation] = field(default_factory=dict)

    def rule_set(self, version: int = 0) -> RuleSet | None:
        """The proposal as a rule set: the current thresholds replaced, model sets added."""
        chosen = self.recommendation.proposed
        if chosen is None:
            return None
        models = {
            model: r.proposed.thresholds
            for model, r in self.by_model.items()
            if r.proposed is not None and r.reached
        }
        return RuleSet(version, chosen.thresholds, {**self.current.by_model, **models})


# Reviewed documents one model needs before it gets thresholds of its own.
MIN_MODEL_VERDICTS = 200


def recommend_thresholds(
    cases: Sequence[ReplayCase],
    current: RuleSet,
    *,
    target: float,
    max_false_positive: float | None = None,
    per_model: bool = False,
    grid: Grid | None = None,
) -> Proposal:
    started = time.perf_counter()
    search = (grid or Grid()).including(current.thresholds)
    features = history_features(cases, current, grid)
    recommendation = recommend(
        features,
        current.thresholds,
        target=target,
        max_false_positive=max_false_positive,
        grid=search,
    )
    by_model: dict[str, Recommendation] = {}
    if per_model:
        for model in sorted({c.model_name for c in cases}):
            own = [c for c in cases if c.model_name == model]
            base = current.thresholds_for(model)
            model_grid = (grid or Grid()).including(base)
            model_features = features_of(own, base, model_grid.name_similarity_min)
            if sum(f.own_verdict for f in model_features) < MIN_MODEL_VERDICTS:
                continue
            by_model[model] = recommend(
                model_features,
                base,
                target=target,
                max_false_positive=max_false_positive,
                grid=model_grid,
            )
    judged_current = judge_history(cases, current, features)
    proposal = Proposal(recommendation, current, judged_current, None, len(cases), 0.0, by_model)
    rule_set = proposal.rule_set()
    judged = judge_history(cases, rule_set, features) if rule_set is not None else None
    return Proposal(
        recommendation,
        current,
        judged_current,
        judged,
        len(cases),
        time.perf_counter() - started,
        by_model,
    )


def save_rule_set(
    conn: psycopg.Connection,
    rule_set: RuleSet,
    *,
    actor: str,
    reason: str,
    expected: Mapping[str, Any] | None = None,
    clock: Clock = utc_now,
) -> int:
    return rule_sets.create_rule_set(
        conn,
        thresholds=rule_set.thresholds,
        by_model=rule_set.by_model,
        created_by=actor,
        reason=reason,
        now=clock(),
        expected=expected,
    )


def apply_rule_set(
    conn: psycopg.Connection, version: int, *, actor: str, reason: str, clock: Clock = utc_now
) -> Activation:
    """Activate `version`: every merge transaction from the commit on judges by it."""
    return rule_sets.activate(conn, version, activated_by=actor, reason=reason, now=clock())


def expected_figures(proposal: Proposal) -> dict[str, Any]:
    """What a saved recommendation is expected to do, kept with its version."""
    judged = proposal.proposed
    if judged is None:
        return {}
    estimate = judged.estimate
    return {
        "target_flag_rate": proposal.recommendation.target,
        "flag_rate": judged.figures.flag_rate,
        "false_positive_rate": estimate.rate,
        "false_positive_interval": list(estimate.interval or ()),
        "coverage": estimate.coverage,
        "documents": proposal.documents,
        "verdicts": proposal.recommendation.verdicts,
    }
