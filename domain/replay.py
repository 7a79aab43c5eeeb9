"""Stored extractions replayed through the flag rules at other thresholds (pure), and what the
flags would have been worth against reviewers' verdicts (docs/contract.md#rule-sets).

A replay needs only what the rules read: confidence, model, how many resources, the patient as
the document names them, the patient record. `stand_in` builds an ExtractionResult of just that
(resources as empty placeholders: the rules count them and never look inside), so replaying
100,000 documents never decodes their stored JSON. `foreign_reference` was decided with the
database at merge time and no threshold moves it: a replay keeps it as stored.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.flag_rules import (
    RULES,
    Rule,
    birth_date_conflict,
    name_mismatch,
    no_identity,
    unknown_patient,
)
from domain.patients import PatientRecord
from domain.rule_sets import RuleSet
from domain.stats import wilson_interval
from domain.thresholds import RuleThresholds
from domain.verdicts import Label
from schemas import ExtractionModel, ExtractionResult, FlagRule, PatientDemographics
from schemas.events import SCHEMA_VERSION, DocumentInfo

FOREIGN_REFERENCE = FlagRule.FOREIGN_REFERENCE.value
_PLACEHOLDER: dict[str, object] = {}
# No rule reads these: every stand-in shares them (given, so no default factory runs: they
# would cost more than the rest of the read).
_NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_NO_ID = uuid.UUID(int=0)
_NO_DOCUMENT = DocumentInfo()


@dataclass(frozen=True, slots=True)
class ReplayCase:
    document_id: str
    result: ExtractionResult
    record: PatientRecord | None
    label: Label | None = None
    foreign_reference: bool = False
    rule_set_version: int | None = None
    # The patient part of the document as text: equal texts are judged once (Replayer).
    patient_key: str = ""

    @property
    def model_name(self) -> str:
        return self.result.model.name

    def patient_text(self) -> str:
        return self.patient_key or self.result.patient.model_dump_json()


def stand_in(
    *,
    document_id: str,
    patient_id: str,
    model: ExtractionModel,
    confidence: float,
    resource_count: int,
    patient: PatientDemographics,
) -> ExtractionResult:
    """An extraction holding what the flag rules read, built without validation (every part
    comes from a stored, validated event)."""
    return ExtractionResult.model_construct(
        document_id=document_id,
        patient_id=patient_id,
        model=model,
        confidence=confidence,
        patient=patient,
        resources=[_PLACEHOLDER] * resource_count,
        uploaded_at=_NO_TIME,
        extracted_at=_NO_TIME,
        event_id=_NO_ID,
        schema_version=SCHEMA_VERSION,
        extraction_version=1,
        source_snippets={},
        document=_NO_DOCUMENT,
    )


def fired(case: ReplayCase, rule_set: RuleSet) -> frozenset[str]:
    """The rule codes that fire on the case at this rule set."""
    rules = {reason.rule.value for reason in rule_set.judge(case.result, case.record)}
    if case.foreign_reference:
        rules.add(FOREIGN_REFERENCE)
    return frozenset(rules)


# The rules that read nothing of the document but its patient part (and the record): a
# patient's documents name them alike, so a replay asks them once per distinct input.
IDENTITY_RULES: tuple[Rule, ...] = (
    birth_date_conflict,
    name_mismatch,
    unknown_patient,
    no_identity,
)


class Replayer:
    """`fired` for a whole history: the same rules (domain/flag_rules.py RULES), the identity
    ones remembered per patient part and record. Many times faster than judging every document
    afresh: the name checks are most of the rules' cost, and a patient's documents repeat them."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self._others = tuple(rule for rule in RULES if rule not in IDENTITY_RULES)
        self._identity: dict[tuple[str, str, str], tuple[PatientRecord | None, frozenset[str]]] = {}

    def fired(self, case: ReplayCase) -> frozenset[str]:
        result, record = case.result, case.record
        thresholds = self.rule_set.thresholds_for(result.model.name)
        rules = {
            reason.rule.value
            for rule in self._others
            if (reason := rule(result, record, thresholds)) is not None
        }
        rules.update(self._identity_rules(case, thresholds))
        if case.foreign_reference:
            rules.add(FOREIGN_REFERENCE)
        return frozenset(rules)

    def _identity_rules(self, case: ReplayCase, thresholds: RuleThresholds) -> frozenset[str]:
        result, record = case.result, case.record
        key = (result.patient_id, case.patient_text(), result.model.name)
        seen = self._identity.get(key)
        # The same record object: a history holds one per patient (hashing it costs more).
        if seen is not None and seen[0] is record:
            return seen[1]
        found = frozenset(
            reason.rule.value
            for rule in IDENTITY_RULES
            if (reason := rule(result, record, thresholds)) is not None
        )
        self._identity[key] = (record, found)
        return found


@dataclass(frozen=True, slots=True)
class RuleFigures:
    """One rule over the replayed documents: where it fires, and what reviewers said there."""

    rule: str
    flagged: int
    flag_rate: float
    reviewed: int
    false_positives: int
    problems: int

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.reviewed if self.reviewed else None


@dataclass(frozen=True, slots=True)
class Figures:
    """What a set of flags would have been worth on the replayed history.

    `reviewed`: flagged documents with a verdict; `false_positive_rate` = the ones a reviewer
    marked correct unchanged (or confirmed) / `reviewed`, with its Wilson interval;
    `missed_problems`: documents a reviewer corrected or removed that these flags leave
    auto-approved; `unreviewed_flagged`: flagged documents nobody judged."""

    documents: int
    flagged: int
    reviewed: int
    false_positives: int
    caught_problems: int
    missed_problems: int
    by_rule: dict[str, RuleFigures] = field(default_factory=dict)

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.documents if self.documents else 0.0

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.reviewed if self.reviewed else None

    @property
    def false_positive_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.false_positives, self.reviewed) if self.reviewed else None

    @property
    def unreviewed_flagged(self) -> int:
        return self.flagged - self.reviewed


def figures_of(cases: Sequence[ReplayCase], flags: Iterable[frozenset[str]]) -> Figures:
    documents = flagged = reviewed = false_positives = caught = missed = 0
    per_flagged: Counter[str] = Counter()
    per_reviewed: Counter[str] = Counter()
    per_fp: Counter[str] = Counter()
    per_problems: Counter[str] = Counter()
    for case, rules in zip(cases, flags, strict=True):
        documents += 1
        label = case.label
        problem = label is not None and label.is_problem
        if not rules:
            missed += problem
            continue
        flagged += 1
        per_flagged.update(rules)
        if label is None:
            continue
        reviewed += 1
        per_reviewed.update(rules)
        if problem:
            caught += 1
            per_problems.update(rules)
        else:
            false_positives += 1
            per_fp.update(rules)
    by_rule = {
        rule: RuleFigures(
            rule=rule,
            flagged=per_flagged[rule],
            flag_rate=per_flagged[rule] / documents if documents else 0.0,
            reviewed=per_reviewed[rule],
            false_positives=per_fp[rule],
            problems=per_problems[rule],
        )
        for rule in _contract_order(per_flagged)
    }
    return Figures(documents, flagged, reviewed, false_positives, caught, missed, by_rule)


def _contract_order(rules: Iterable[str]) -> list[str]:
    order = {rule.value: i for i, rule in enumerate(FlagRule)}
    return sorted(rules, key=lambda r: (order.get(r, len(order)), r))
