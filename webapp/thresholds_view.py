"""What the console's thresholds page shows (pure): the rule-set versions and who activated what,
a recommendation for a target flag rate with the reviewed history behind it, and per threshold
the trade-off plot (flag rate and estimated false-positive rate against its values, the current
and the recommended value marked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from domain.recommend import Tradeoff
from domain.rule_sets import Activation, RuleSet, RuleSetVersion, describe, differences
from pipeline.thresholds import Judged, Proposal
from webapp.charts import Series, tradeoff_chart

LABELS = {
    "min_confidence": "min_confidence (low_confidence below it)",
    "few_resources_count": "few_resources_count (fewer resources than this)",
    "few_resources_min_confidence": "few_resources_min_confidence",
    "name_similarity_min": "name_similarity_min (name_mismatch below it)",
}


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    svg: Markup


@dataclass(frozen=True, slots=True)
class FiguresRow:
    label: str
    thresholds: str
    flag_rate: str
    false_positive_rate: str
    estimated: str
    reviewed: int
    missed_problems: int


@dataclass(frozen=True, slots=True)
class ThresholdsView:
    active: RuleSet
    versions: list[RuleSetVersion]
    activations: list[Activation]
    target: float
    max_false_positive: float | None
    documents: int
    verdicts: int
    seconds: float
    problems: list[str]
    notes: list[str]
    rows: list[FiguresRow]
    changes: list[str]
    charts: list[Chart]

    @property
    def sufficient(self) -> bool:
        return not self.problems


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _row(label: str, judged: Judged) -> FiguresRow:
    f, e = judged.figures, judged.estimate
    interval = e.interval
    estimated = _pct(e.rate) + (f" ({_pct(interval[0])} – {_pct(interval[1])})" if interval else "")
    return FiguresRow(
        label=label,
        thresholds=describe(judged.rule_set.thresholds),
        flag_rate=_pct(f.flag_rate),
        false_positive_rate=_pct(f.false_positive_rate),
        estimated=f"{estimated}, {e.coverage * 100:.0f} % of the flags supported",
        reviewed=f.reviewed,
        missed_problems=f.missed_problems,
    )


def _value(threshold: str, value: float) -> str:
    return (
        f"{value:g}"
        if threshold in ("few_resources_count", "name_similarity_min")
        else (f"{value:.2f}")
    )


def _chart(curve: Tradeoff) -> Chart:
    labels = [_value(curve.threshold, v) for v in curve.values]
    marks = [
        (curve.values.index(curve.current), f"current {_value(curve.threshold, curve.current)}")
    ]
    if curve.proposed is not None and curve.proposed in curve.values:
        marks.append(
            (
                curve.values.index(curve.proposed),
                f"recommended {_value(curve.threshold, curve.proposed)}",
            )
        )
    title = f"Flag rate and false positives against {curve.threshold}"
    svg = tradeoff_chart(
        title,
        labels,
        [
            Series("Flag rate", list(curve.flag_rates)),
            Series("Estimated false-positive rate", list(curve.false_positive_rates)),
        ],
        marks,
    )
    return Chart(curve.threshold, LABELS.get(curve.threshold, curve.threshold), svg)


def thresholds_view(
    active: RuleSet,
    versions: Sequence[RuleSetVersion],
    activations: Sequence[Activation],
    proposal: Proposal,
) -> ThresholdsView:
    r = proposal.recommendation
    rows = [_row(f"current (v{active.version})", proposal.judged_current)]
    changes: list[str] = []
    if proposal.proposed is not None:
        rows.append(_row("recommended", proposal.proposed))
        changed = differences(active.thresholds, proposal.proposed.rule_set.thresholds)
        changes = [f"{name} {old:g} → {new:g}" for name, (old, new) in changed.items()]
    return ThresholdsView(
        active=active,
        versions=list(versions),
        activations=list(activations),
        target=r.target,
        max_false_positive=r.max_false_positive,
        documents=proposal.documents,
        verdicts=r.verdicts,
        seconds=proposal.seconds,
        problems=list(r.problems),
        notes=list(r.notes),
        rows=rows,
        changes=changes,
        charts=[_chart(curve) for curve in r.tradeoffs],
    )
