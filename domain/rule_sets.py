"""Rule sets: numbered versions of the flag rules' thresholds (docs/contract.md#rule-sets).

Version 0 is the thresholds the settings give (env/TOML): what judges while no version was ever
activated. Every other version is stored once and never changed, so a version number says
exactly which thresholds judged a document. A version may give an extraction model thresholds
of its own (`by_model`); the others' documents are judged by `thresholds`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.flag_rules import evaluate
from domain.patients import PatientRecord
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, FlagReason

SETTINGS_VERSION = 0
TUNABLE = tuple(RuleThresholds.model_fields)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: int
    thresholds: RuleThresholds
    by_model: Mapping[str, RuleThresholds] = field(default_factory=dict)

    def thresholds_for(self, model_name: str | None) -> RuleThresholds:
        if model_name is None:
            return self.thresholds
        return self.by_model.get(model_name, self.thresholds)

    def judge(self, result: ExtractionResult, record: PatientRecord | None) -> list[FlagReason]:
        """The flag rules at this version's thresholds for the extraction's model."""
        return evaluate(result, record, self.thresholds_for(result.model.name))


@dataclass(frozen=True, slots=True)
class RuleSetVersion:
    """A stored version with who made it, when and why; `active` when it judges now."""

    rule_set: RuleSet
    created_by: str
    created_at: datetime
    reason: str
    expected: Mapping[str, Any] = field(default_factory=dict)
    active: bool = False

    @property
    def version(self) -> int:
        return self.rule_set.version


@dataclass(frozen=True, slots=True)
class Activation:
    version: int
    activated_by: str
    activated_at: datetime
    reason: str


def settings_rule_set(thresholds: RuleThresholds) -> RuleSet:
    return RuleSet(SETTINGS_VERSION, thresholds)


class AssignmentError(ValueError):
    """A `--set name=value` the thresholds do not take; the text says which and why."""


def with_assignments(base: RuleThresholds, assignments: Iterable[str]) -> RuleThresholds:
    """`base` with `name=value` assignments (`min_confidence=0.75`), checked like settings."""
    changes: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not value.strip():
            raise AssignmentError(f"{assignment!r}: write NAME=VALUE, e.g. min_confidence=0.75")
        if name not in TUNABLE:
            raise AssignmentError(f"unknown threshold {name!r}: choose one of {', '.join(TUNABLE)}")
        changes[name] = value.strip()
    try:
        return RuleThresholds.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise AssignmentError(problems) from None


def differences(
    old: RuleThresholds, new: RuleThresholds
) -> dict[str, tuple[float | int, float | int]]:
    """The thresholds that differ, old and new value."""
    before, after = old.model_dump(), new.model_dump()
    return {name: (before[name], after[name]) for name in TUNABLE if before[name] != after[name]}


def describe(thresholds: RuleThresholds, names: Sequence[str] = TUNABLE) -> str:
    values = thresholds.model_dump()
    return ", ".join(f"{name}={values[name]:g}" for name in names)
