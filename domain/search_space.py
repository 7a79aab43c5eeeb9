"""The searched space of thresholds (pure): the grid, and the history summed into groups so
that any set of the grid is totalled in one pass over the groups, not over the documents
(docs/contract.md#rule-sets).

The movable rules compare confidence with grid values only, so every confidence between two
grid values behaves alike, and resource counts above the grid's largest few_resources_count
alike. A sweep over min_confidence per combination of the rest then costs one pass over the
groups, with running sums.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.fp_estimate import CaseFeatures, Estimate
from domain.thresholds import RuleThresholds

SEARCHED = (
    "min_confidence",
    "few_resources_count",
    "few_resources_min_confidence",
    "name_similarity_min",
)
# How close to the target a set's flag rate on the history must be to count as reaching it.
TOLERANCE = 0.0025
MIN_CONFIDENCE_RANGE = (0.50, 0.99)


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    count = round((high - low) / step)
    return tuple(round(low + i * step, 4) for i in range(count + 1))


@dataclass(frozen=True, slots=True)
class Grid:
    min_confidence: tuple[float, ...] = _steps(*MIN_CONFIDENCE_RANGE, 0.01)
    few_resources_count: tuple[int, ...] = (1, 2, 3, 4, 5)
    few_resources_min_confidence: tuple[float, ...] = _steps(0.80, 1.00, 0.01)
    name_similarity_min: tuple[float, ...] = _steps(60.0, 95.0, 5.0)

    def including(self, thresholds: RuleThresholds) -> Grid:
        """This grid with the values of `thresholds` added (the current set is a candidate)."""
        return Grid(
            *(tuple(sorted({*getattr(self, name), getattr(thresholds, name)})) for name in SEARCHED)
        )

    @property
    def confidences(self) -> tuple[float, ...]:
        return tuple(sorted({*self.min_confidence, *self.few_resources_min_confidence}))


@dataclass(slots=True)
class _Group:
    rank: int  # how many grid confidences are <= the documents' confidence
    count: int  # resource count, capped at the grid's largest few_resources_count
    fixed: bool
    names: tuple[bool, ...]
    documents: int = 0
    supported: int = 0
    false_positives: float = 0.0
    verdicts: int = 0
    problems: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    """A candidate's figures on the history: flagged documents, the false-positive estimate,
    and the true problems known from verdicts that it leaves unflagged."""

    thresholds: RuleThresholds
    documents: int
    estimate: Estimate
    missed_problems: int

    @property
    def flag_rate(self) -> float:
        return self.estimate.flagged / self.documents if self.documents else 0.0


class Space:
    """The grouped history and the grid, to total any candidate of the grid. `fine` adds
    min_confidence values to the search (not to the plots): just above every confidence the
    history holds, so a flag rate between two grid steps can be reached where confidences are
    dense."""

    def __init__(
        self, features: Sequence[CaseFeatures], grid: Grid, fine: Sequence[float] = ()
    ) -> None:
        if any(len(f.name_mismatch) != len(grid.name_similarity_min) for f in features[:1]):
            raise ValueError("features were computed for another grid's name_similarity_min")
        self.grid = grid
        self.sweep = tuple(sorted({*grid.min_confidence, *fine}))
        self.confidences = tuple(sorted({*grid.confidences, *self.sweep}))
        self._position = {value: i for i, value in enumerate(self.confidences)}
        self.documents = len(features)
        cap = max(grid.few_resources_count)
        groups: dict[tuple[int, int, bool, tuple[bool, ...]], _Group] = {}
        for f in features:
            key = (bisect_right(self.confidences, f.confidence), min(f.resource_count, cap))
            full = (*key, f.fixed, f.name_mismatch)
            group = groups.get(full)
            if group is None:
                group = groups[full] = _Group(*full)
            group.documents += 1
            group.problems += f.known_problem
            if f.estimate is not None:
                group.supported += 1
                group.false_positives += f.estimate
                group.verdicts += f.own_verdict
        self.groups = list(groups.values())
        self.problems = sum(g.problems for g in self.groups)

    def _index(self, value: float) -> int:
        return self._position[value]

    def totals(self, thresholds: RuleThresholds) -> Totals:
        names = self.grid.name_similarity_min.index(thresholds.name_similarity_min)
        low = self._index(thresholds.min_confidence)
        few = self._index(thresholds.few_resources_min_confidence)
        flagged = [
            g
            for g in self.groups
            if g.fixed
            or g.rank <= low
            or (g.count < thresholds.few_resources_count and g.rank <= few)
            or g.names[names]
        ]
        return self._totals(thresholds, _sums(flagged))

    def _totals(self, thresholds: RuleThresholds, sums: _Sums) -> Totals:
        documents, supported, false_positives, verdicts, problems = sums
        estimate = Estimate(documents, supported, false_positives, verdicts)
        return Totals(thresholds, self.documents, estimate, self.problems - problems)

    def candidates(self, base: RuleThresholds, target: float) -> tuple[list[Totals], Totals | None]:
        """The sets of the grid whose flag rate is within TOLERANCE of `target`, and the one
        closest to it (min_confidence swept per combination of the rest, running sums)."""
        grid = self.grid
        low_count, high_count = (
            (target - TOLERANCE) * self.documents,
            (target + TOLERANCE) * self.documents,
        )
        near: list[Totals] = []
        closest: tuple[float, RuleThresholds, _Sums] | None = None
        for count in grid.few_resources_count:
            for few_confidence in grid.few_resources_min_confidence:
                few = self._index(few_confidence)
                for n, similarity in enumerate(grid.name_similarity_min):
                    always: list[_Group] = []
                    rest: list[_Group] = []
                    for g in self.groups:
                        fires = g.fixed or g.names[n] or (g.count < count and g.rank <= few)
                        (always if fires else rest).append(g)
                    rest.sort(key=lambda g: g.rank)
                    sums: list[Any] = list(_sums(always))
                    taken = 0
                    for confidence in self.sweep:
                        low = self._index(confidence)
                        while taken < len(rest) and rest[taken].rank <= low:
                            _add(sums, rest[taken])
                            taken += 1
                        flagged = sums[0]
                        inside = low_count <= flagged <= high_count
                        gap = abs(flagged - target * self.documents)
                        if not inside and closest is not None and gap >= closest[0]:
                            continue
                        thresholds = base.model_copy(
                            update={
                                "min_confidence": confidence,
                                "few_resources_count": count,
                                "few_resources_min_confidence": few_confidence,
                                "name_similarity_min": similarity,
                            }
                        )
                        frozen: _Sums = (
                            int(sums[0]),
                            int(sums[1]),
                            float(sums[2]),
                            int(sums[3]),
                            int(sums[4]),
                        )
                        if inside:
                            near.append(self._totals(thresholds, frozen))
                        if closest is None or gap < closest[0]:
                            closest = (gap, thresholds, frozen)
        best = self._totals(closest[1], closest[2]) if closest is not None else None
        return near, best


_Sums = tuple[int, int, float, int, int]


def _sums(groups: Sequence[_Group]) -> _Sums:
    return (
        sum(g.documents for g in groups),
        sum(g.supported for g in groups),
        sum(g.false_positives for g in groups),
        sum(g.verdicts for g in groups),
        sum(g.problems for g in groups),
    )


def _add(sums: list[Any], group: _Group) -> None:
    sums[0] += group.documents
    sums[1] += group.supported
    sums[2] += group.false_positives
    sums[3] += group.verdicts
    sums[4] += group.problems


def fine_confidences(features: Sequence[CaseFeatures]) -> list[float]:
    """Just above each confidence of the history (to 0.001), in the searched range."""
    values = {math.floor(f.confidence * 1000 + 1) / 1000 for f in features}
    return [v for v in values if MIN_CONFIDENCE_RANGE[0] <= v <= MIN_CONFIDENCE_RANGE[1]]


def totals_at(features: Sequence[CaseFeatures], thresholds: RuleThresholds, grid: Grid) -> Totals:
    """One set's totals by the search's shortcut (its values must be on the grid)."""
    return Space(features, grid).totals(thresholds)
