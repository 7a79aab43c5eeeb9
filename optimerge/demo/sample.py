"""The Synthea sample shipped as package data in optimerge/demo/data/ (built by
scripts/build_demo_data.py)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

FhirResource = dict[str, Any]

DEFAULT_SAMPLE_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_FILE = "sample.json.gz"

# Where each clinical resource type names its patient.
_PATIENT_FIELDS = ("subject", "patient")


@dataclass(frozen=True, slots=True)
class SampleData:
    """FHIR Patient resources and, per patient id, the clinical resources that refer to them."""

    patients: list[FhirResource]
    resources: dict[str, list[FhirResource]]

    def patient(self, patient_id: str) -> FhirResource | None:
        return next((p for p in self.patients if p["id"] == patient_id), None)

    @property
    def patient_ids(self) -> list[str]:
        return [str(p["id"]) for p in self.patients]


def load_sample(path: Path | None = None) -> SampleData:
    """Read the sample: a directory holding sample.json.gz, or a Bundle file (.json or .json.gz).

    Defaults to the sample inside the package, so it works from a checkout and from a wheel."""
    source = path if path is not None else DEFAULT_SAMPLE_DIR
    if source.is_dir():
        source = source / SAMPLE_FILE
    if not source.is_file():
        raise FileNotFoundError(
            f"no demo sample at {source}; build it with scripts/build_demo_data.py"
        )
    raw = source.read_bytes()
    if source.suffix == ".gz":
        raw = gzip.decompress(raw)
    bundle = orjson.loads(raw)
    patients: list[FhirResource] = []
    resources: dict[str, list[FhirResource]] = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            patients.append(resource)
            resources.setdefault(resource["id"], [])
            continue
        patient_id = patient_of(resource)
        if patient_id is not None:
            resources.setdefault(patient_id, []).append(resource)
    return SampleData(patients=patients, resources=resources)


def with_twins(sample: SampleData, twins: int) -> SampleData:
    """The sample with each patient filed `twins` times, under ids of its own (`<id>-<k>`, the
    first one its own id) with the same name, birth date and resources: a feed that spreads over
    many patients as a hospital's does, where the sample has only a dozen (a dozen keys fill a
    dozen partitions unevenly, and one worker gets most of the load). A twin's resources are its
    patient's own list, still referring to that patient: the feed refers them to the twin."""
    if twins < 1:
        raise ValueError("twins must be at least 1")
    patients: list[FhirResource] = []
    resources: dict[str, list[FhirResource]] = {}
    for patient in sample.patients:
        own = str(patient["id"])
        for k in range(twins):
            twin = own if k == 0 else f"{own}-{k}"
            patients.append(patient if k == 0 else {**patient, "id": twin})
            resources[twin] = sample.resources.get(own, [])
    return SampleData(patients, resources)


def referring_to(resource: FhirResource, patient_id: str) -> FhirResource:
    """A copy of the resource about another patient (the original is left untouched)."""
    reference = {"reference": f"Patient/{patient_id}"}
    return {**resource, **{key: reference for key in ("subject", "patient") if key in resource}}


def patient_of(resource: FhirResource) -> str | None:
    """The id in `subject` or `patient` when it is a `Patient/<id>` reference."""
    for field in _PATIENT_FIELDS:
        reference = (resource.get(field) or {}).get("reference")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")
    return None


def birth_date_of(patient: FhirResource) -> date:
    return date.fromisoformat(patient["birthDate"])


def snippet_text(resource: FhirResource) -> str:
    """A short line as a document would show it: what (code), the value, and when."""
    label = _concept_text(
        resource.get("code")
        or resource.get("vaccineCode")
        or resource.get("medicationCodeableConcept")
        or next(iter(resource.get("category") or []), None)
    )
    label = label or str(resource["resourceType"])
    value = _value_text(resource)
    when = _when(resource)
    text = f"{label}: {value}" if value else label
    return f"{text} ({when})" if when else text


def _concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text")
    if isinstance(text, str) and text:
        return text
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return ""


def _quantity_text(quantity: dict[str, Any]) -> str:
    value = quantity.get("value")
    number = f"{value:.1f}".removesuffix(".0") if isinstance(value, float) else str(value)
    unit = quantity.get("unit") or quantity.get("code") or ""
    return f"{number} {unit}".strip()


def _value_text(resource: FhirResource) -> str:
    if "valueQuantity" in resource:
        return _quantity_text(resource["valueQuantity"])
    if "valueCodeableConcept" in resource:
        return _concept_text(resource["valueCodeableConcept"])
    if "valueString" in resource:
        return str(resource["valueString"])
    parts = [
        f"{_concept_text(c.get('code'))} {_quantity_text(c['valueQuantity'])}"
        for c in resource.get("component") or []
        if "valueQuantity" in c
    ]
    return ", ".join(parts)


def _when(resource: FhirResource) -> str:
    for field in (
        "effectiveDateTime",
        "onsetDateTime",
        "occurrenceDateTime",
        "authoredOn",
        "recordedDate",
    ):
        if isinstance(resource.get(field), str):
            return str(resource[field])[:10]
    for field in ("performedPeriod", "period"):
        start = (resource.get(field) or {}).get("start")
        if isinstance(start, str):
            return start[:10]
    return ""
