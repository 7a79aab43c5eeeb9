"""A reviewed history with a known truth, for threshold tuning (tests and `bench thresholds`).

Documents come from the demo feed. Each is truly a problem or not, drawn from a known
probability (`problem_probability`: mostly the confidence, plus the fallback model, few or no
resources and an identity that does not match). The history is judged as a deployment would
have judged it: its first part by a cautious staging rule set, the rest by the contract's
defaults. Reviewers review most flagged documents and say the truth; a problem that was
auto-approved is found later now and then. Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from domain.patients import PatientRecord, patient_record_from_fhir
from domain.replay import ReplayCase
from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from domain.verdicts import Label
from schemas import FlagRule, ReviewActionKind

from .feed import DemoDocument, SampleData, build_documents
from .mix import FeedMix

# The demo feed's mix with twice its share of low-confidence documents: the defaults flag about
# 14 % of this history, more than the 12 % an operator would aim at.
HISTORY_MIX = FeedMix(low_confidence=0.07)
# Staging starts cautious (the PRD: "start with conservative thresholds"), then the defaults.
STAGING = RuleSet(1, RuleThresholds(min_confidence=0.90, few_resources_min_confidence=0.97))
DEFAULTS = RuleSet(2, RuleThresholds())


@dataclass(frozen=True, slots=True)
class Reviewing:
    """How people treat the history: reviewers look at `flagged_reviewed` of the flags; a
    problem that was auto-approved is found later with probability `missed_found`."""

    flagged_reviewed: float = 0.9
    missed_found: float = 0.3
    removed_share: float = 0.3  # of the problems found, removed rather than corrected
    staging_share: float = 0.3  # of the history judged by STAGING


def problem_probability(document: DemoDocument) -> float:
    """The truth's law: P(the extraction is wrong) for a demo document."""
    result = document.result
    reasons = document.intended_reasons
    # Half the main model's documents at confidence 0.80 are wrong; the fallback model's
    # confidence means less (half wrong at 0.95). One or two resources out of a document of
    # pages usually means the extraction failed; none almost always does.
    middle = 0.95 if result.model.is_fallback else 0.80
    p = 1 / (1 + math.exp((result.confidence - middle) / 0.035))
    count = len(result.resources)
    if count == 0:
        p = max(p, 0.9)
    elif count < 3:
        p = 0.6 + 0.4 * p
    identity = 0.0
    if FlagRule.NAME_MISMATCH.value in reasons:
        identity = 0.97
    elif FlagRule.BIRTH_DATE_CONFLICT.value in reasons or FlagRule.UNKNOWN_PATIENT.value in reasons:
        identity = 0.8
    elif FlagRule.NO_IDENTITY.value in reasons:
        identity = 0.6
    return 1 - (1 - p) * (1 - identity)


@dataclass(frozen=True, slots=True)
class HistoryDocument:
    document: DemoDocument
    record: PatientRecord | None
    problem: bool
    judged_by: RuleSet
    flagged: bool
    # The review action people took, if any (None: nobody acted).
    action: ReviewActionKind | None

    @property
    def label(self) -> Label | None:
        if self.action is None:
            return None
        if self.action == ReviewActionKind.MARK_CORRECT:
            return Label.FALSE_POSITIVE if self.flagged else Label.CONFIRMED
        if self.action == ReviewActionKind.ROLLBACK:
            return Label.REMOVED if self.flagged else Label.MISSED_REMOVED
        return Label.CORRECTED if self.flagged else Label.MISSED_CORRECTED

    def case(self) -> ReplayCase:
        return ReplayCase(
            document_id=self.document.result.document_id,
            result=self.document.result,
            record=self.record,
            label=self.label,
            rule_set_version=self.judged_by.version,
            patient_key=self.document.result.patient.model_dump_json(),
        )


def build_history(
    sample: SampleData,
    count: int,
    *,
    seed: int = 16,
    reviewing: Reviewing | None = None,
    judges: Sequence[RuleSet] = (STAGING, DEFAULTS),
    mix: FeedMix | None = None,
) -> list[HistoryDocument]:
    """`count` documents judged by `judges` in turn (the first for the staging share), with
    the truth and what reviewers did."""
    how = reviewing or Reviewing()
    rng = random.Random(seed * 7919 + 1)  # noqa: S311 - a reproducible history, nothing secret
    records = {str(p["id"]): patient_record_from_fhir(p) for p in sample.patients}
    documents = build_documents(sample, count, seed=seed, mix=mix or HISTORY_MIX)
    staged = round(count * how.staging_share) if len(judges) > 1 else 0
    history = []
    for n, document in enumerate(documents):
        judge = judges[0] if n < staged else judges[-1]
        record = records.get(document.result.patient_id)
        problem = rng.random() < problem_probability(document)
        flagged = bool(judge.judge(document.result, record))
        reviewed = rng.random() < (how.flagged_reviewed if flagged else 0.0)
        found = not flagged and problem and rng.random() < how.missed_found
        action = None
        if reviewed or found:
            if not problem:
                action = ReviewActionKind.MARK_CORRECT
            elif rng.random() < how.removed_share:
                action = ReviewActionKind.ROLLBACK
            else:
                action = ReviewActionKind.CORRECT_DATA
        history.append(HistoryDocument(document, record, problem, judge, flagged, action))
    return history
