"""What `optimerge thresholds` prints: the JSON of evaluations and proposals (contract, see
docs/contract.md#rule-sets) and the same as text for a person."""

from __future__ import annotations

from typing import Any

from domain.fp_estimate import MIN_STRATUM_VERDICTS
from domain.recommend import MIN_COVERAGE, MIN_VERDICTS, TOLERANCE, Recommendation
from domain.replay import Figures
from domain.rule_sets import RuleSet, RuleSetVersion, describe, differences
from pipeline.thresholds import MIN_MODEL_VERDICTS, Evaluation, Judged, Proposal

MINIMUMS = {
    "verdicts": MIN_VERDICTS,
    "coverage": MIN_COVERAGE,
    "verdicts_per_stratum": MIN_STRATUM_VERDICTS,
    "verdicts_per_model": MIN_MODEL_VERDICTS,
    "flag_rate_tolerance": TOLERANCE,
}


def rule_set_json(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "version": rule_set.version,
        "thresholds": rule_set.thresholds.model_dump(),
        "by_model": {m: t.model_dump() for m, t in sorted(rule_set.by_model.items())},
    }


def figures_json(judged: Judged) -> dict[str, Any]:
    f, e = judged.figures, judged.estimate
    interval = f.false_positive_interval
    estimated = e.interval
    return {
        "documents": f.documents,
        "flagged": f.flagged,
        "flag_rate": f.flag_rate,
        "reviewed": f.reviewed,
        "false_positives": f.false_positives,
        "false_positive_rate": f.false_positive_rate,
        "false_positive_interval": list(interval) if interval else None,
        "caught_problems": f.caught_problems,
        "missed_problems": f.missed_problems,
        "unreviewed_flagged": f.unreviewed_flagged,
        "estimated_false_positive_rate": e.rate,
        "estimated_false_positive_interval": list(estimated) if estimated else None,
        "estimate_coverage": e.coverage,
        "rules": {
            rule: {
                "flagged": r.flagged,
                "flag_rate": r.flag_rate,
                "reviewed": r.reviewed,
                "false_positives": r.false_positives,
                "false_positive_rate": r.false_positive_rate,
                "problems": r.problems,
            }
            for rule, r in f.by_rule.items()
        },
    }


def _change(new: Judged, old: Judged) -> dict[str, Any]:
    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    return {
        "flagged": new.figures.flagged - old.figures.flagged,
        "flag_rate": new.figures.flag_rate - old.figures.flag_rate,
        "false_positive_rate": delta(
            new.figures.false_positive_rate, old.figures.false_positive_rate
        ),
        "estimated_false_positive_rate": delta(new.estimate.rate, old.estimate.rate),
        "missed_problems": new.figures.missed_problems - old.figures.missed_problems,
    }


def evaluation_json(evaluation: Evaluation, scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "scope": scope,
        "documents": evaluation.documents,
        "current": rule_set_json(evaluation.current.rule_set),
        "candidate": rule_set_json(evaluation.candidate.rule_set),
        "figures": {
            "current": figures_json(evaluation.current),
            "candidate": figures_json(evaluation.candidate),
            "change": _change(evaluation.candidate, evaluation.current),
        },
        "seconds": {"load": evaluation.load_seconds, "replay": evaluation.replay_seconds},
    }


def _search_json(recommendation: Recommendation) -> dict[str, Any]:
    chosen = recommendation.proposed if recommendation.reached else None
    return {
        "sufficient": chosen is not None,
        "problems": list(recommendation.problems),
        "notes": list(recommendation.notes),
        "verdicts": recommendation.verdicts,
        "thresholds": chosen.thresholds.model_dump() if chosen else None,
        "flag_rate": chosen.flag_rate if chosen else None,
        "estimated_false_positive_rate": chosen.estimate.rate if chosen else None,
    }


def proposal_json(
    proposal: Proposal, scope: dict[str, Any], saved_version: int | None = None
) -> dict[str, Any]:
    recommendation = proposal.recommendation
    proposed = proposal.rule_set()
    return {
        "scope": scope,
        "target_flag_rate": recommendation.target,
        "max_false_positive": recommendation.max_false_positive,
        "documents": proposal.documents,
        "verdicts": recommendation.verdicts,
        "minimums": MINIMUMS,
        "sufficient": proposal.proposed is not None,
        "problems": list(recommendation.problems),
        "notes": list(recommendation.notes),
        "current": rule_set_json(proposal.current),
        "current_figures": figures_json(proposal.judged_current),
        "proposed": rule_set_json(proposed) if proposed is not None else None,
        "expected": figures_json(proposal.proposed) if proposal.proposed else None,
        "by_model": {m: _search_json(r) for m, r in proposal.by_model.items()},
        "saved_version": saved_version,
        "seconds": proposal.seconds,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _interval(value: tuple[float, float] | None) -> str:
    return "" if value is None else f" ({value[0]:.1%}-{value[1]:.1%})"


def figures_lines(title: str, judged: Judged) -> list[str]:
    f: Figures = judged.figures
    e = judged.estimate
    lines = [
        f"{title}: {describe(judged.rule_set.thresholds)}",
        f"  flagged {f.flagged} of {f.documents} ({_pct(f.flag_rate)}); reviewed "
        f"{f.reviewed}, false positives {f.false_positives} "
        f"({_pct(f.false_positive_rate)}{_interval(f.false_positive_interval)})",
        f"  estimated false-positive rate {_pct(e.rate)}{_interval(e.interval)} over "
        f"{e.coverage:.0%} of the flags; problems caught {f.caught_problems}, missed "
        f"{f.missed_problems}; flagged but never reviewed {f.unreviewed_flagged}",
    ]
    for model, thresholds in sorted(judged.rule_set.by_model.items()):
        lines.append(f"  model {model}: {describe(thresholds)}")
    return lines


def rules_table(current: Judged, candidate: Judged) -> list[str]:
    rules = list(dict.fromkeys([*current.figures.by_rule, *candidate.figures.by_rule]))
    lines = [
        f"  {'rule':<30} {'flagged now':>12} {'then':>8} {'reviewed':>9} {'FP rate now':>12} "
        f"{'then':>8}"
    ]
    for rule in rules:
        now = current.figures.by_rule.get(rule)
        then = candidate.figures.by_rule.get(rule)
        lines.append(
            f"  {rule:<30} {now.flagged if now else 0:>12} {then.flagged if then else 0:>8} "
            f"{then.reviewed if then else 0:>9} "
            f"{_pct(now.false_positive_rate if now else None):>12} "
            f"{_pct(then.false_positive_rate if then else None):>8}"
        )
    return lines


def evaluation_text(evaluation: Evaluation) -> str:
    current, candidate = evaluation.current, evaluation.candidate
    changed = differences(current.rule_set.thresholds, candidate.rule_set.thresholds)
    change = ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changed.items()) or "none"
    lines = [
        f"{evaluation.documents} documents replayed in "
        f"{evaluation.load_seconds + evaluation.replay_seconds:.1f} s "
        f"(read {evaluation.load_seconds:.1f} s, rules {evaluation.replay_seconds:.1f} s)",
        f"changes against the current set (version {current.rule_set.version}): {change}",
        *figures_lines("current", current),
        *figures_lines("candidate", candidate),
        f"  flag rate {_pct(current.figures.flag_rate)} -> {_pct(candidate.figures.flag_rate)}"
        f", missed problems {current.figures.missed_problems} -> "
        f"{candidate.figures.missed_problems}",
        *rules_table(current, candidate),
    ]
    return "\n".join(lines)


def proposal_text(proposal: Proposal, saved_version: int | None = None) -> str:
    r = proposal.recommendation
    lines = [
        f"target flag rate {r.target:.1%}"
        + (f", false positives at most {r.max_false_positive:.0%}" if r.max_false_positive else "")
        + f"; {proposal.documents} documents, {r.verdicts} reviewed",
    ]
    for problem in r.problems:
        lines.append(f"NOT ENOUGH DATA: {problem}")
    for note in r.notes:
        lines.append(f"note: {note}")
    lines.extend(figures_lines("current", proposal.judged_current))
    if proposal.proposed is not None:
        lines.extend(figures_lines("proposed", proposal.proposed))
        changed = differences(proposal.current.thresholds, proposal.proposed.rule_set.thresholds)
        lines.append(
            "  changes: " + (", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changed.items()))
            if changed
            else "  changes: none (the current set is the best at this target)"
        )
    for model, own in proposal.by_model.items():
        if own.proposed is None or not own.reached:
            why = "; ".join([*own.problems, *own.notes])
            lines.append(f"  model {model}: no thresholds of its own ({why})")
    if saved_version is not None:
        lines.append(
            f"saved as rule set version {saved_version} (not active): "
            f"`optimerge thresholds apply {saved_version}` activates it"
        )
    return "\n".join(lines)


def versions_json(versions: list[RuleSetVersion], active: int) -> dict[str, Any]:
    return {
        "active": active,
        "versions": [
            {
                **rule_set_json(v.rule_set),
                "created_by": v.created_by,
                "created_at": v.created_at,
                "reason": v.reason,
                "expected": dict(v.expected),
                "active": v.active,
            }
            for v in versions
        ],
    }
