"""Replaying stored extractions: the stand-in the history is read into is judged exactly as the
whole extraction, and the figures count what reviewers said about the flags."""

from datetime import UTC, datetime

import pytest

from domain.patients import patient_record_from_fhir
from domain.replay import ReplayCase, Replayer, figures_of, fired, stand_in
from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from domain.verdicts import Label
from optimerge.demo import build_documents, load_sample
from schemas import ExtractionResult, PatientDemographics

START = datetime(2026, 11, 1, tzinfo=UTC)
THRESHOLDS = [
    RuleThresholds(),
    RuleThresholds(min_confidence=0.9, few_resources_min_confidence=0.99),
    RuleThresholds(name_similarity_min=92, name_typo_min_length=3),
    RuleThresholds(min_confidence=0.6, few_resources_count=5, name_similarity_min=60),
]


def as_stored(result: ExtractionResult) -> ExtractionResult:
    """What storage/history.py rebuilds from the columns and the patient part's JSON."""
    return stand_in(
        document_id=result.document_id,
        patient_id=result.patient_id,
        model=result.model,
        confidence=result.confidence,
        resource_count=len(result.resources),
        patient=PatientDemographics.model_validate_json(result.patient.model_dump_json()),
    )


@pytest.mark.parametrize("thresholds", THRESHOLDS)
def test_the_replay_judges_the_stand_in_as_the_rules_judge_the_whole_extraction(thresholds):
    sample = load_sample()
    records = {p["id"]: patient_record_from_fhir(p) for p in sample.patients}
    rule_set = RuleSet(1, thresholds)
    replayer = Replayer(rule_set)
    differ = []
    flagged = 0
    for doc in build_documents(sample, 1500, seed=5, start=START):
        record = records.get(doc.result.patient_id)
        whole = fired(ReplayCase("d", doc.result, record), rule_set)
        stored = as_stored(doc.result)
        key = stored.patient.model_dump_json()
        replayed = replayer.fired(ReplayCase("d", stored, record, patient_key=key))
        flagged += bool(whole)
        if whole != replayed:
            differ.append((doc.result.document_id, whole, replayed))
    assert differ == []
    assert flagged > 50  # the feed exercises the rules


def test_figures_count_verdicts_on_what_the_flags_catch_and_miss():
    sample = load_sample()
    docs = build_documents(sample, 4, seed=5, start=START)
    low, high = docs[0].result.model_copy(update={"confidence": 0.5}), docs[1].result
    cases = [
        ReplayCase("a", low, None, Label.FALSE_POSITIVE),
        ReplayCase("b", low, None, Label.CORRECTED),
        ReplayCase("c", high, None, Label.MISSED_REMOVED),
        ReplayCase("d", high, None, None),
    ]
    flags = [frozenset({"low_confidence"}), frozenset({"low_confidence", "no_identity"})]
    figures = figures_of(cases, [*flags, frozenset(), frozenset()])
    assert (figures.flagged, figures.reviewed, figures.false_positives) == (2, 2, 1)
    assert (figures.caught_problems, figures.missed_problems) == (1, 1)
    assert figures.flag_rate == 0.5 and figures.false_positive_rate == 0.5
    rule = figures.by_rule["low_confidence"]
    assert (rule.flagged, rule.reviewed, rule.false_positives, rule.problems) == (2, 2, 1, 1)
    assert list(figures.by_rule) == ["low_confidence", "no_identity"]  # the contract's order
    low_end, high_end = figures.false_positive_interval or (0, 0)
    assert 0.09 < low_end < 0.5 < high_end < 0.91
