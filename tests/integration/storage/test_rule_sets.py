"""Rule-set versions in PostgreSQL: numbered, append-only, activated by the last activation;
every merge transaction judges by the version active when it runs, and records it."""

from __future__ import annotations

import psycopg
import pytest

from domain.rule_sets import RuleSet
from domain.thresholds import RuleThresholds
from pipeline.rule_sets import ActiveRuleSet
from pipeline.service import MergeService
from schemas import ExtractionResult, FhirDate, HumanName, PatientDemographics, ReviewAction
from storage import rule_sets
from storage.db import connect
from storage.history import Scope, replay_cases
from storage.patients import import_patients
from storage.read import document_state
from tests.audit_helpers import shared_keyring

from ._factories import RECEIVED, extraction, incoming, review

STRICT = RuleThresholds(min_confidence=0.9)
PATIENT = {
    "resourceType": "Patient",
    "id": "p-1",
    "name": [{"use": "official", "family": "Olivares", "given": ["Caridad"]}],
    "birthDate": "1985-02-11",
}


def known(document_id: str, **kw: object) -> ExtractionResult:
    """A document of PATIENT that names her as the record does."""
    named = PatientDemographics(
        name=HumanName(family="Olivares", given=["Caridad"]), birth_date=FhirDate(1985, 2, 11)
    )
    return extraction(document_id, **kw).model_copy(update={"patient": named})  # type: ignore[arg-type]


@pytest.fixture
def conn(database_url: str):
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
        yield conn


def test_versions_are_numbered_and_the_last_activation_wins(database_url: str) -> None:
    with connect(database_url) as conn:
        first = rule_sets.create_rule_set(
            conn, thresholds=STRICT, by_model={}, created_by="ana", reason="staging", now=RECEIVED
        )
        second = rule_sets.create_rule_set(
            conn,
            thresholds=RuleThresholds(),
            by_model={"extractor-small": STRICT},
            created_by="ana",
            reason="per model",
            now=RECEIVED,
        )
        assert (first, second) == (1, 2)
        with conn.cursor() as cur:
            assert rule_sets.active_version(cur) == 0
        rule_sets.activate(conn, 2, activated_by="ben", reason="tuned", now=RECEIVED)
        rule_sets.activate(conn, 1, activated_by="ben", reason="back", now=RECEIVED)
        versions = rule_sets.rule_set_versions(conn)
        assert [(v.version, v.active) for v in versions] == [(2, False), (1, True)]
        assert versions[0].rule_set.by_model == {"extractor-small": STRICT}
        assert [a.version for a in rule_sets.activations(conn)] == [1, 2]
        with pytest.raises(rule_sets.UnknownRuleSetError, match="version 7 does not exist"):
            rule_sets.activate(conn, 7, activated_by="ben", reason="typo", now=RECEIVED)
        rule_sets.activate(conn, 0, activated_by="ben", reason="settings again", now=RECEIVED)
        with conn.cursor() as cur:
            assert rule_sets.active_version(cur) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE rule_sets SET reason = 'rewritten'",
        "DELETE FROM rule_sets",
        "DELETE FROM rule_set_activations",
        "TRUNCATE rule_set_activations",
    ],
)
def test_versions_and_activations_are_append_only(database_url: str, statement: str) -> None:
    with connect(database_url) as conn:
        rule_sets.create_rule_set(
            conn, thresholds=STRICT, by_model={}, created_by="ana", reason="r", now=RECEIVED
        )
        rule_sets.activate(conn, 1, activated_by="ana", reason="r", now=RECEIVED)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)


def test_each_merge_is_judged_by_the_version_active_when_it_runs(conn) -> None:
    service = MergeService(ActiveRuleSet(RuleThresholds()), keyring=shared_keyring())
    [before] = service.merge(conn, [incoming(known("before", confidence=0.85))])
    version = rule_sets.create_rule_set(
        conn, thresholds=STRICT, by_model={}, created_by="ana", reason="r", now=RECEIVED
    )
    rule_sets.activate(conn, version, activated_by="ana", reason="r", now=RECEIVED)
    [after] = service.merge(conn, [incoming(known("after", confidence=0.85))])
    old, new = document_state(conn, "before"), document_state(conn, "after")
    assert (before.rule_set_version, before.decision.flag_reasons) == (0, ())
    assert after.rule_set_version == version
    assert [r.rule for r in after.decision.flag_reasons] == ["low_confidence"]
    assert old is not None and new is not None
    assert (old.rule_set_version, old.review_status) == (0, "auto_approved")
    assert (new.rule_set_version, new.review_status) == (version, "flagged")


def test_a_verdict_labels_the_extraction_it_judged_and_no_later_one(conn) -> None:
    strict = MergeService(ActiveRuleSet(STRICT), keyring=shared_keyring())
    strict.merge(conn, [incoming(known("d1", confidence=0.85))])
    mark = ReviewAction(
        document_id="d1", patient_id="p-1", action="mark_correct", reviewer="ana",
        expected_version=1,
    )  # fmt: skip
    [report] = review(conn, [mark])
    assert report.rule_set_version == 0
    row = conn.execute(
        "SELECT flagged, rules, action, document_version, rule_set_version "
        "FROM review_verdicts WHERE document_id = 'd1'"
    ).fetchone()
    assert row == (True, ["low_confidence"], "mark_correct", 1, 0)
    [case] = replay_cases(conn, Scope())
    assert case.label == "false_positive" and case.record is not None
    # A newer extraction replaces what the reviewer judged: the verdict labels it no more.
    strict.merge(conn, [incoming(known("d1", version=2, confidence=0.86))])
    [case] = replay_cases(conn, Scope())
    assert case.label is None and case.result.confidence == 0.86
    assert case.result.model.name == "extractor-large" and len(case.result.resources) == 3


def test_the_history_reads_the_resource_count_of_the_extraction_not_of_the_correction(
    conn,
) -> None:
    MergeService(ActiveRuleSet(STRICT), keyring=shared_keyring()).merge(
        conn, [incoming(known("d1", n=5))]
    )
    fix = ReviewAction(
        document_id="d1", patient_id="p-1", action="correct_data", reviewer="ana",
        expected_version=1, corrected_resources=[{"resourceType": "Condition"}],
    )  # fmt: skip
    review(conn, [fix])
    [case] = replay_cases(conn, Scope())
    assert (len(case.result.resources), case.label) == (5, "missed_corrected")
    assert RuleSet(0, STRICT).judge(case.result, case.record) == []
