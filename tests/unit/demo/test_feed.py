"""The demo feed: deterministic, valid, built from the shipped Synthea sample, and flagging what
it means to flag."""

from __future__ import annotations

import gc
import re
import shutil
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from rapidfuzz import fuzz

from domain.flag_rules import evaluate
from domain.patients import patient_record_from_fhir
from domain.thresholds import RuleThresholds
from optimerge.demo import (
    big_document,
    build_documents,
    build_feed,
    flag_summary,
    iter_jsonl,
    load_sample,
    with_twins,
    write_jsonl,
)
from optimerge.demo._names import record_name
from optimerge.demo.sample import DEFAULT_SAMPLE_DIR, SAMPLE_FILE, patient_of
from schemas.events import ExtractionResult, FlagRule, HumanName

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
CLINICAL = {
    "AllergyIntolerance",
    "CarePlan",
    "Condition",
    "DiagnosticReport",
    "Immunization",
    "MedicationRequest",
    "Observation",
    "Procedure",
}
REFERENCE = re.compile(r"^(Patient|Observation|Condition)/[0-9a-f-]{36}$")


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def documents(sample):
    return build_documents(sample, 2_000, seed=7, start=START)


@pytest.fixture(scope="module", params=[1, 50], ids=["sample", "twins"])
def spread(request, sample):
    """The sample as it is, and spread over 50 ids per patient (as the bench feeds it)."""
    twins = with_twins(sample, request.param)
    return twins, build_documents(twins, 2_000, seed=7, start=START)


# A careful normaliser, as SPEC rule 6 describes it: the feed's benign variants must pass it and
# its real mismatches must not.
HONORIFICS = {"mr", "mrs", "ms", "miss", "dr"}


def _tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return [t for t in re.sub(r"[^a-z\s]", " ", text).split() if t not in HONORIFICS]


def _normalised(name: HumanName) -> str:
    family, given = name.family or "", " ".join(name.given)
    if not given and "," in family:
        family, given = family.split(",", 1)
    first = next(iter(_tokens(given)), "")
    return " ".join(sorted([first, " ".join(_tokens(family))]))


def _similarity(a: HumanName, b: HumanName) -> float:
    return fuzz.token_sort_ratio(_normalised(a), _normalised(b))


def test_sample_loads_from_the_project_not_shared(sample, tmp_path):
    assert (DEFAULT_SAMPLE_DIR / "sample.json.gz").is_file()
    copy = tmp_path / SAMPLE_FILE
    shutil.copy(DEFAULT_SAMPLE_DIR / SAMPLE_FILE, copy)
    assert load_sample(tmp_path) == load_sample(copy) == sample
    assert len(sample.patients) == 12
    assert {p["gender"] for p in sample.patients} == {"male", "female"}
    types = Counter(r["resourceType"] for rs in sample.resources.values() for r in rs)
    assert set(types) == CLINICAL
    assert all(sample.resources[p["id"]] for p in sample.patients)


def test_missing_sample_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_demo_data"):
        load_sample(tmp_path)


def test_sample_references_are_rewritten(sample):
    raw = orjson.dumps([sample.patients, sample.resources]).decode()
    assert "urn:uuid:" not in raw
    ids = {r["id"] for rs in sample.resources.values() for r in rs} | set(sample.patient_ids)
    references = re.findall(r'"reference":"([^"]*)"', raw)
    assert references
    for reference in references:
        assert REFERENCE.match(reference), reference
        assert reference.split("/")[1] in ids
    for patient_id, resources in sample.resources.items():
        assert {patient_of(r) for r in resources} == {patient_id}
        assert not any("encounter" in r or "requester" in r for r in resources)


def test_sample_is_valid_fhir(sample):
    bundle_model = pytest.importorskip("fhir.resources.R4B.bundle").Bundle
    entries = [{"resource": p} for p in sample.patients]
    entries += [{"resource": r} for rs in sample.resources.values() for r in rs]
    bundle_model.model_validate({"resourceType": "Bundle", "type": "collection", "entry": entries})


def test_feed_is_deterministic_for_a_seed(sample):
    def dump(results):
        return [r.model_dump_json() for r in results]

    first = dump(build_feed(sample, 300, seed=11, start=START))
    assert first == dump(build_feed(sample, 300, seed=11, start=START))
    assert first[:100] == dump(build_feed(sample, 100, seed=11, start=START))
    assert first != dump(build_feed(sample, 300, seed=12, start=START))


def test_twins_spread_the_feed_over_many_patients_and_one_twin_is_the_sample(sample):
    twins = with_twins(sample, 50)
    assert len(twins.patients) == 50 * len(sample.patients)
    assert len({p["id"] for p in twins.patients}) == len(twins.patients)
    for patient in sample.patients:
        twin = next(p for p in twins.patients if p["id"] == f"{patient['id']}-7")
        assert {**twin, "id": patient["id"]} == patient
    fed = {d.result.patient_id for d in build_documents(twins, 2_000, seed=7, start=START)}
    assert len(fed) > 500  # of 600: spread, not a dozen keys
    same = build_documents(with_twins(sample, 1), 300, seed=7, start=START)
    assert same == build_documents(sample, 300, seed=7, start=START)
    with pytest.raises(ValueError, match="at least 1"):
        with_twins(sample, 0)


def test_every_result_validates(documents, sample):
    results = [d.result for d in documents]
    assert len({r.document_id for r in results}) == len(results)
    assert len({r.event_id for r in results}) == len(results)
    for result in results:
        assert ExtractionResult.model_validate_json(result.model_dump_json()) == result
        assert result.extraction_version == 1
        assert result.uploaded_at.utcoffset() == timedelta(0)
        assert result.uploaded_at < result.extracted_at
        assert result.model.name in {"extractor-large", "extractor-small"}
        assert set(result.source_snippets) == {str(i) for i in range(len(result.resources))}
        pages = result.document.pages
        assert pages
        for snippets in result.source_snippets.values():
            assert snippets[0].text
            assert snippets[0].page is not None
            assert 1 <= snippets[0].page <= pages


def test_resource_ids_are_unique_within_a_document(documents):
    for document in documents:
        ids = [r["id"] for r in document.result.resources]
        assert len(ids) == len(set(ids))


def test_resources_refer_to_the_document_patient(spread):
    sample, documents = spread
    for document in documents:
        for resource in document.result.resources:
            assert patient_of(resource) == document.result.patient_id
    # Documents for an unknown patient (or a twin) got copies: the sample's own are unchanged.
    for patient in load_sample().patients:
        assert {patient_of(r) for r in sample.resources[patient["id"]]} == {patient["id"]}


def test_changing_a_result_leaves_the_sample_alone(sample):
    before = orjson.dumps(sample.resources)
    for result in build_feed(sample, 50, start=START):
        for resource in result.resources:
            resource["id"] = "changed"
            resource["subject"] = {"reference": "Patient/someone-else"}
    assert orjson.dumps(sample.resources) == before


def test_intended_flag_share_is_inside_the_spec_target(spread):
    _, documents = spread
    summary = flag_summary(documents)
    assert summary.documents == 2_000
    assert 0.05 <= summary.flag_rate <= 0.20
    # merge_error and foreign_reference come from the worker, never from the demo feed.
    codes = {rule.value for rule in FlagRule} - {
        FlagRule.MERGE_ERROR.value,
        FlagRule.FOREIGN_REFERENCE.value,
    }
    assert set(summary.by_reason) == codes


def test_intended_reasons_follow_the_rules(spread):
    sample, documents = spread
    rules = RuleThresholds()
    records = {p["id"]: p for p in sample.patients}
    for document in documents:
        result, reasons = document.result, document.intended_reasons
        count, confidence = len(result.resources), result.confidence
        expected = {
            FlagRule.LOW_CONFIDENCE: confidence < rules.min_confidence,
            FlagRule.FALLBACK_MODEL: result.model.is_fallback,
            FlagRule.NO_RESOURCES: count == 0,
            FlagRule.FEW_RESOURCES_LOW_CONFIDENCE: count < rules.few_resources_count
            and confidence < rules.few_resources_min_confidence,
            FlagRule.UNKNOWN_PATIENT: result.patient_id not in records,
        }
        record = records.get(result.patient_id)
        name, birth_date = result.patient.name, result.patient.birth_date
        expected[FlagRule.NO_IDENTITY] = name is None and birth_date is None
        if record is not None and name is not None:
            assert birth_date is not None
            expected[FlagRule.BIRTH_DATE_CONFLICT] = str(birth_date) != record["birthDate"]
            similarity = _similarity(name, record_name(record))
            expected[FlagRule.NAME_MISMATCH] = similarity < rules.name_similarity_min
        assert reasons == {rule.value for rule, fires in expected.items() if fires}, result


def test_benign_variants_normalise_to_the_record_name(documents, sample):
    records = {p["id"]: p for p in sample.patients}
    benign = [
        d.result
        for d in documents
        if d.result.patient_id in records
        and not {FlagRule.NAME_MISMATCH.value, FlagRule.NO_IDENTITY.value} & d.intended_reasons
    ]
    spellings = set()
    for result in benign:
        assert result.patient.name is not None
        record = record_name(records[result.patient_id])
        assert _normalised(result.patient.name) == _normalised(record)
        spellings.add(orjson.dumps(result.patient.name.model_dump()))
    assert len(spellings) > 8 * len(records)  # many variants, not just the record's name


def test_other_patients_names_are_real_mismatches(sample):
    names = [record_name(p) for p in sample.patients]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert _similarity(a, b) < 60


def test_rules_combine_with_other_thresholds(sample):
    strict = RuleThresholds(min_confidence=0.9, few_resources_count=5)
    for document in build_documents(sample, 300, seed=3, start=START, thresholds=strict):
        result = document.result
        assert (FlagRule.LOW_CONFIDENCE.value in document.intended_reasons) == (
            result.confidence < 0.9
        )
        assert (FlagRule.FEW_RESOURCES_LOW_CONFIDENCE.value in document.intended_reasons) == (
            len(result.resources) < 5 and result.confidence < 0.95
        )


def test_default_start_keeps_every_timestamp_in_the_past(sample):
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    results = build_feed(sample, 500, clock=lambda: now)
    assert max(r.extracted_at for r in results) <= now
    assert gc.isenabled()


def test_naive_start_is_refused(sample):
    with pytest.raises(ValueError, match="timezone-aware"):
        build_feed(sample, 1, start=datetime(2026, 11, 22))


def test_big_document_has_100_resources(sample):
    result = big_document(sample, start=START)
    assert len(result.resources) == 100
    assert len({r["id"] for r in result.resources}) == 100
    assert len(result.source_snippets) == 100
    assert ExtractionResult.model_validate_json(result.model_dump_json()) == result
    assert result.confidence >= 0.95
    assert not result.model.is_fallback


def test_big_document_beyond_the_patient_copies_under_new_ids(sample):
    before = orjson.dumps(sample.resources)
    result = big_document(sample, 400, start=START, patient_id=sample.patient_ids[0])
    assert len({r["id"] for r in result.resources}) == 400
    assert orjson.dumps(sample.resources) == before


def test_jsonl_round_trip(documents, tmp_path):
    results = [d.result for d in documents[:50]]
    path = tmp_path / "feed.jsonl"
    assert write_jsonl(results, path) == 50
    assert list(iter_jsonl(path)) == results


def test_the_flag_rules_flag_what_the_feed_intends(documents, sample):
    # Nicknames, slips, sibling and maiden-name checks must leave the feed's mix as it is.
    records = {p["id"]: patient_record_from_fhir(p) for p in sample.patients}
    thresholds = RuleThresholds()
    for document in documents:
        result = document.result
        fired = evaluate(result, records.get(result.patient_id), thresholds)
        assert {reason.rule.value for reason in fired} == document.intended_reasons, result
