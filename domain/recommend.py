"""Thresholds for a target flag rate, from the reviewed history (pure; docs/contract.md#rule-sets).

The search tries every combination of a grid of min_confidence, few_resources_count,
few_resources_min_confidence and name_similarity_min (name_typo_min_length stays) and keeps,
among the sets whose flag rate on the history is within a quarter point of the target, the one
with the lowest estimated false-positive rate (domain/fp_estimate.py); sets within half a point
of the lowest count as equal and the one closest to the target, then to the current thresholds,
wins, so noise does not move thresholds nobody needs to move. Flagging the target share with the
fewest false positives is flagging it with the most true problems. min_confidence is also tried
just above every confidence the history holds, so a target between two grid steps is reached
where confidences are dense. The grid and the grouped history: domain/search_space.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.fp_estimate import CaseFeatures
from domain.search_space import SEARCHED, TOLERANCE, Grid, Space, Totals, fine_confidences
from domain.thresholds import RuleThresholds

__all__ = ["SEARCHED", "TOLERANCE", "Grid", "Recommendation", "Totals", "Tradeoff", "recommend"]

EQUAL_FP = 0.005
# What a recommendation needs: reviewed flags in the history, and the share of the documents
# it would flag whose false-positive estimate rests on reviewed documents like them.
MIN_VERDICTS = 100
MIN_COVERAGE = 0.8


@dataclass(frozen=True, slots=True)
class Tradeoff:
    """Flag rate and estimated false-positive rate against one threshold, the others held at
    the proposed (else current) values; for the console's plot."""

    threshold: str
    values: tuple[float, ...]
    flag_rates: tuple[float, ...]
    false_positive_rates: tuple[float | None, ...]
    current: float
    proposed: float | None


@dataclass(frozen=True, slots=True)
class Recommendation:
    target: float
    max_false_positive: float | None
    current: Totals
    # None when the history does not support any proposal (`problems` says why).
    proposed: Totals | None
    verdicts: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tradeoffs: tuple[Tradeoff, ...] = field(default_factory=tuple)
    # False when no set of the grid flags the target share (the closest was proposed).
    reached: bool = True


def _distance(a: RuleThresholds, b: RuleThresholds, grid: Grid) -> float:
    """How far apart two sets are, each threshold in units of its grid's range."""
    total = 0.0
    for name in SEARCHED:
        values = getattr(grid, name)
        span = (max(values) - min(values)) or 1
        total += abs(getattr(a, name) - getattr(b, name)) / span
    return total


def recommend(
    features: Sequence[CaseFeatures],
    current: RuleThresholds,
    *,
    target: float,
    max_false_positive: float | None = None,
    grid: Grid | None = None,
) -> Recommendation:
    grid = (grid or Grid()).including(current)
    space = Space(features, grid, fine_confidences(features))
    now = space.totals(current)
    verdicts = sum(f.own_verdict for f in features)
    problems: list[str] = []
    notes: list[str] = []
    if verdicts < MIN_VERDICTS:
        problems.append(
            f"only {verdicts} reviewed documents in this history: a recommendation needs at "
            f"least {MIN_VERDICTS} verdicts (mark correct, correct data, remove) to go on"
        )
        return Recommendation(
            target,
            max_false_positive,
            now,
            None,
            verdicts,
            tuple(problems),
            tradeoffs=tradeoffs(space, current, None),
        )
    near, closest = space.candidates(current, target)
    reached = bool(near)
    if not near and closest is not None:
        notes.append(
            f"no set of the grid flags {target:.1%} of this history; the closest flags "
            f"{closest.flag_rate:.1%}"
        )
        near = [closest]
    supported = [t for t in near if t.estimate.coverage >= MIN_COVERAGE]
    if not supported:
        best = max(near, key=lambda t: t.estimate.coverage)
        problems.append(
            f"every set that flags about {target:.0%} would flag documents unlike any reviewed "
            f"one: at best {best.estimate.coverage:.0%} of what it flags is like reviewed "
            f"documents, {MIN_COVERAGE:.0%} is needed. Review more of what is auto-approved "
            "near the thresholds, or run a more cautious rule set for a while"
        )
        return Recommendation(
            target,
            max_false_positive,
            now,
            None,
            verdicts,
            tuple(problems),
            tuple(notes),
            tradeoffs(space, current, None),
            reached,
        )
    chosen = _choose(supported, target, current, grid, max_false_positive, notes)
    return Recommendation(
        target,
        max_false_positive,
        now,
        chosen,
        verdicts,
        tuple(problems),
        tuple(notes),
        tradeoffs(space, current, chosen.thresholds),
        reached,
    )


def _choose(
    candidates: Sequence[Totals],
    target: float,
    current: RuleThresholds,
    grid: Grid,
    max_false_positive: float | None,
    notes: list[str],
) -> Totals:
    def rate(t: Totals) -> float:
        return t.estimate.rate if t.estimate.rate is not None else 1.0

    lowest = min(rate(t) for t in candidates)
    if max_false_positive is not None and lowest > max_false_positive:
        notes.append(
            f"no set at this flag rate keeps false positives at or below "
            f"{max_false_positive:.0%}: the lowest estimate is {lowest:.1%}"
        )
    limit = lowest + EQUAL_FP
    if max_false_positive is not None and lowest <= max_false_positive:
        limit = min(limit, max_false_positive)
    equal = [t for t in candidates if rate(t) <= limit]
    return min(
        equal,
        key=lambda t: (
            round(abs(t.flag_rate - target), 3),
            _distance(t.thresholds, current, grid),
            rate(t),
        ),
    )


def tradeoffs(
    space: Space, current: RuleThresholds, proposed: RuleThresholds | None
) -> tuple[Tradeoff, ...]:
    held = proposed or current
    curves = []
    for name in SEARCHED:
        values = tuple(getattr(space.grid, name))
        points = [space.totals(held.model_copy(update={name: value})) for value in values]
        curves.append(
            Tradeoff(
                threshold=name,
                values=tuple(float(v) for v in values),
                flag_rates=tuple(p.flag_rate for p in points),
                false_positive_rates=tuple(p.estimate.rate for p in points),
                current=float(getattr(current, name)),
                proposed=float(getattr(proposed, name)) if proposed is not None else None,
            )
        )
    return tuple(curves)


def tradeoff_curves(
    features: Sequence[CaseFeatures],
    current: RuleThresholds,
    proposed: RuleThresholds | None = None,
    grid: Grid | None = None,
) -> tuple[Tradeoff, ...]:
    base = (grid or Grid()).including(current)
    if proposed is not None:
        base = base.including(proposed)
    return tradeoffs(Space(features, base), current, proposed)
