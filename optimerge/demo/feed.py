"""The demo and benchmark feed: ExtractionResults built from the Synthea sample, deterministic for a
seed, each with the flag reasons it was built to trigger (docs/contract.md#flag-rules)."""

from __future__ import annotations

import gc
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from domain.thresholds import RuleThresholds
from schemas.events import (
    DocumentInfo,
    ExtractionResult,
    FlagRule,
    HumanName,
    PatientDemographics,
    utc_now,
)

from ._names import benign_name, others_with_distinct_names, record_name, wrong_birth_date
from .jsonl import iter_jsonl, write_jsonl
from .mix import (
    DEFAULT_INTERVAL,
    DOCUMENT_KINDS,
    FALLBACK_MODEL,
    LAB_TYPES,
    MAIN_MODEL,
    MAX_EXTRACTION_DELAY,
    DemoDocument,
    FeedMix,
    FlagSummary,
    document_reasons,
    flag_summary,
)
from .sample import (
    FhirResource,
    SampleData,
    birth_date_of,
    load_sample,
    referring_to,
    snippet_text,
)

__all__ = [
    "DemoDocument",
    "FeedMix",
    "FlagSummary",
    "SampleData",
    "big_document",
    "build_documents",
    "build_feed",
    "flag_summary",
    "iter_jsonl",
    "load_sample",
    "write_jsonl",
]

Clock = Callable[[], datetime]


def build_feed(
    sample: SampleData,
    count: int,
    *,
    seed: int = 7,
    resources_per_document: int = 10,
    start: datetime | None = None,
    clock: Clock = utc_now,
    interval: timedelta = DEFAULT_INTERVAL,
    mix: FeedMix | None = None,
) -> list[ExtractionResult]:
    """`count` documents; see build_documents."""
    documents = build_documents(
        sample,
        count,
        seed=seed,
        resources_per_document=resources_per_document,
        start=start,
        clock=clock,
        interval=interval,
        mix=mix,
    )
    return [d.result for d in documents]


def build_documents(
    sample: SampleData,
    count: int,
    *,
    seed: int = 7,
    resources_per_document: int = 10,
    start: datetime | None = None,
    clock: Clock = utc_now,
    interval: timedelta = DEFAULT_INTERVAL,
    mix: FeedMix | None = None,
    thresholds: RuleThresholds | None = None,
) -> list[DemoDocument]:
    """`count` documents `demo-<seed>-<n>`, uploaded `interval` apart from `start`. Without a
    start the feed ends before clock() so no timestamp is in the future. The same seed and start
    give the same documents, and a shorter feed is a prefix of a longer one.

    Each resource is a dict of its own, but its nested values are shared with the sample and
    with other documents (deep copies would cost a gigabyte and seconds for 20,000 documents):
    treat them as read-only, or deep-copy a resource before changing anything inside it."""
    if count < 0 or resources_per_document < 0:
        raise ValueError("count and resources_per_document must not be negative")
    if start is None:
        start = clock() - interval * count - MAX_EXTRACTION_DELAY
    elif start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    builder = _FeedBuilder(sample, _seeded(seed), mix or FeedMix(), thresholds or RuleThresholds())
    first = start.astimezone(UTC)
    with _collector_paused():
        return [
            builder.document(f"demo-{seed}-{n:06d}", first + interval * n, resources_per_document)
            for n in range(count)
        ]


def big_document(
    sample: SampleData,
    resources: int = 100,
    *,
    seed: int = 7,
    document_id: str | None = None,
    patient_id: str | None = None,
    start: datetime | None = None,
    clock: Clock = utc_now,
) -> ExtractionResult:
    """One clean document with `resources` resources (for the merge benchmark), by default for
    the patient with the most; a patient with fewer gets copies under new ids."""
    if patient_id is None:
        patient = max(sample.patients, key=lambda p: len(sample.resources.get(p["id"], ())))
    else:
        found = sample.patient(patient_id)
        if found is None:
            raise KeyError(patient_id)
        patient = found
    pool = _Pool(sample.resources.get(patient["id"], []), patient["id"])
    if resources > 0 and not pool.items:
        raise ValueError(f"patient {patient['id']} has no resources")
    rng = _seeded(seed)
    order = rng.sample(range(len(pool.items)), len(pool.items))
    picked = [order[i % len(order)] for i in range(resources)]
    body = [
        resource
        if position < len(order)
        else {**resource, "id": f"{resource['id']}-{position // len(order)}"}
        for position, resource in enumerate(pool.resources(picked))
    ]
    uploaded_at = (start or clock() - MAX_EXTRACTION_DELAY).astimezone(UTC)
    return ExtractionResult(
        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        document_id=document_id or f"demo-big-{seed}",
        patient_id=patient["id"],
        uploaded_at=uploaded_at,
        extracted_at=uploaded_at + timedelta(seconds=30),
        model=MAIN_MODEL,
        confidence=0.97,
        patient=PatientDemographics(name=record_name(patient), birth_date=birth_date_of(patient)),
        resources=body,
        source_snippets=pool.snippets(picked, rng, pages=12),
        document=DocumentInfo(title="Discharge summary", type="discharge-summary", pages=12),
    )


class _Pool:
    """One patient's resources and the snippet text of each, computed once."""

    def __init__(self, resources: list[FhirResource], about: str) -> None:
        self.items = resources
        self.about = about  # the patient they refer to (twins share their patient's pool)
        self.texts = [snippet_text(r) for r in resources]
        self.everything = list(range(len(resources)))
        self.lab = [i for i, r in enumerate(resources) if r["resourceType"] in LAB_TYPES]

    def resources(self, picked: list[int]) -> list[FhirResource]:
        # The sample's own dicts: ExtractionResult validation makes the shallow copies.
        return [self.items[i] for i in picked]

    def snippets(
        self, picked: list[int], rng: random.Random, *, pages: int
    ) -> dict[str, list[dict[str, object]]]:
        return {
            # int(random() * n) rather than randint(): a fifth of the feed's time otherwise.
            str(position): [{"text": self.texts[i], "page": 1 + int(rng.random() * pages)}]
            for position, i in enumerate(picked)
        }


def _pools(sample: SampleData) -> list[_Pool]:
    """Each patient's pool; twins (sample.with_twins) share their patient's list, and its pool:
    built once, it refers to the first patient holding it (the twins' own patient)."""
    built: dict[int, _Pool] = {}
    pools = []
    for p in sample.patients:
        own = sample.resources.get(p["id"], [])
        if id(own) not in built:
            built[id(own)] = _Pool(own, p["id"])
        pools.append(built[id(own)])
    return pools


class _FeedBuilder:
    def __init__(
        self, sample: SampleData, rng: random.Random, mix: FeedMix, rules: RuleThresholds
    ) -> None:
        if not sample.patients:
            raise ValueError("the sample has no patients")
        self.patients = sample.patients
        self.pools = _pools(sample)
        self.others = others_with_distinct_names(self.patients)
        self.rng = rng
        self.mix = mix
        self.rules = rules
        self.kind_weights = [kind.weight for kind in DOCUMENT_KINDS]

    def document(self, document_id: str, uploaded_at: datetime, per_document: int) -> DemoDocument:
        rng, mix = self.rng, self.mix
        index = rng.randrange(len(self.patients))
        pool = self.pools[index]
        model = FALLBACK_MODEL if rng.random() < mix.fallback_model else MAIN_MODEL
        low_share = mix.fallback_low_confidence if model.is_fallback else mix.low_confidence
        confidence = (
            round(rng.uniform(0.45, 0.795), 3)
            if rng.random() < low_share
            else round(0.80 + 0.195 * rng.betavariate(4, 2), 3)
        )
        kind = rng.choices(DOCUMENT_KINDS, weights=self.kind_weights)[0]
        pages = rng.randint(*kind.pages)
        wanted = self._resource_count(per_document)
        candidates = pool.lab if kind.lab_only and len(pool.lab) >= wanted else pool.everything
        picked = rng.sample(candidates, min(wanted, len(candidates)))
        patient_id, demographics, reasons = self._demographics(index)
        resources = pool.resources(picked)
        if patient_id != pool.about:
            resources = [referring_to(resource, patient_id) for resource in resources]
        result = ExtractionResult(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            document_id=document_id,
            patient_id=patient_id,
            extraction_version=1,
            uploaded_at=uploaded_at,
            extracted_at=uploaded_at + timedelta(milliseconds=rng.randint(2_000, 45_000)),
            model=model,
            confidence=confidence,
            patient=demographics,
            resources=resources,
            source_snippets=pool.snippets(picked, rng, pages=pages),
            document=DocumentInfo(title=kind.title, type=kind.type, pages=pages),
        )
        reasons |= document_reasons(confidence, model.is_fallback, len(resources), self.rules)
        return DemoDocument(result=result, intended_reasons=frozenset(reasons))

    def _resource_count(self, per_document: int) -> int:
        draw = self.rng.random()
        if draw < self.mix.no_resources:
            return 0
        if draw < self.mix.no_resources + self.mix.few_resources:
            return self.rng.randint(1, 2)
        low = round(per_document * 0.7)
        return self.rng.randint(low, max(low, round(per_document * 1.3)))

    def _demographics(self, index: int) -> tuple[str, PatientDemographics, set[str]]:
        """The patient id the document is filed under, what the extractor read, and the
        demographic rules (5-7, no_identity) that should fire."""
        rng, mix = self.rng, self.mix
        patient = self.patients[index]
        birth_date = birth_date_of(patient)
        name = benign_name(patient, rng, exact_share=mix.exact_name)
        draw = rng.random()
        if draw < mix.unknown_patient:
            unknown_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            demographics = PatientDemographics(name=name, birth_date=birth_date)
            return unknown_id, demographics, {FlagRule.UNKNOWN_PATIENT.value}
        draw -= mix.unknown_patient
        reasons: set[str] = set()
        if draw < mix.name_mismatch + mix.wrong_patient:
            other = rng.choice(self.others[index]) if self.others[index] else None
            name = record_name(other) if other else HumanName(family="Doe", given=["Alex"])
            reasons.add(FlagRule.NAME_MISMATCH.value)
            if draw >= mix.name_mismatch:
                other_date = birth_date_of(other) if other else birth_date
                wrong = other_date if other_date != birth_date else None
                birth_date = wrong or wrong_birth_date(birth_date, rng)
                reasons.add(FlagRule.BIRTH_DATE_CONFLICT.value)
        elif draw < mix.name_mismatch + mix.wrong_patient + mix.birth_date_conflict:
            birth_date = wrong_birth_date(birth_date, rng)
            reasons.add(FlagRule.BIRTH_DATE_CONFLICT.value)
        elif (
            draw < mix.name_mismatch + mix.wrong_patient + mix.birth_date_conflict + mix.no_identity
        ):
            # Last, and drawing nothing more: every other document stays as it was without it.
            return patient["id"], PatientDemographics(), {FlagRule.NO_IDENTITY.value}
        return patient["id"], PatientDemographics(name=name, birth_date=birth_date), reasons


def _seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - a reproducible feed, nothing secret


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The feed holds no reference cycles, yet the cyclic collector would re-scan it again and
    again as it grows: pausing it cuts the time for 20,000 documents by more than half."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
