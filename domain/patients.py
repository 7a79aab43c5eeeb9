"""The patient record the flag rules compare a document against, read from a FHIR R4 Patient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas import FhirDate

# Some exports write a birthDate with a time of day; the date is what counts.
_FULL_DATE_LENGTH = len("1970-04-03")


@dataclass(frozen=True, slots=True)
class RecordName:
    """One of the patient's FHIR HumanNames, with its `use` (official, maiden, old, usual...)."""

    family: str | None
    given: tuple[str, ...]
    use: str | None = None


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """`family` and `given` are the official name (else the first); `other_names` are the rest,
    so that a maiden or former name on a document still belongs to the patient."""

    patient_id: str
    family: str | None
    given: tuple[str, ...]
    birth_date: FhirDate | None
    other_names: tuple[RecordName, ...] = ()


def patient_record_from_fhir(resource: dict[str, Any]) -> PatientRecord:
    """The record of one FHIR R4 Patient: its names and birthDate (partial dates kept).

    Names are kept as written (Synthea's digits and all); `domain.names` normalises them.
    """
    resource_type = resource.get("resourceType")
    if resource_type != "Patient":
        raise ValueError(f"expected a FHIR Patient resource, got resourceType {resource_type!r}")
    patient_id = resource.get("id")
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise ValueError("FHIR Patient resource has no id: cannot key a patient record")
    return patient_record_from_parts(patient_id, resource.get("name"), resource.get("birthDate"))


def patient_record_from_parts(patient_id: str, names: object, birth_date: object) -> PatientRecord:
    """The record from a Patient's `name` list and `birthDate` alone (what storage reads)."""
    chosen, *others = _record_names(names) or [RecordName(None, ())]
    # Each distinct spelling once: an `usual` name equal to the official one adds nothing.
    seen = {(chosen.family, chosen.given)}
    distinct = []
    for name in others:
        if (name.family or name.given) and (name.family, name.given) not in seen:
            seen.add((name.family, name.given))
            distinct.append(name)
    return PatientRecord(
        patient_id=patient_id,
        family=chosen.family,
        given=chosen.given,
        birth_date=_birth_date(birth_date, patient_id),
        other_names=tuple(distinct),
    )


def _record_names(names: object) -> list[RecordName]:
    """The official name first (else the first one), then the others in their order."""
    if not isinstance(names, list):
        return []
    read = [_record_name(name) for name in names if isinstance(name, dict)]
    official = next((i for i, name in enumerate(read) if name.use == "official"), 0)
    return read[official : official + 1] + read[:official] + read[official + 1 :]


def _record_name(name: dict[str, Any]) -> RecordName:
    use = name.get("use") if isinstance(name.get("use"), str) else None
    family = name.get("family")
    given = tuple(g for g in name.get("given") or () if isinstance(g, str) and g.strip())
    family = family if isinstance(family, str) and family.strip() else None
    text = name.get("text")
    if family is None and not given and isinstance(text, str) and text.strip():
        # Only the free-text form: domain.names reads a one-string name in `family`.
        return RecordName(text, (), use)
    return RecordName(family, given, use)


def _birth_date(value: object, patient_id: str) -> FhirDate | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"Patient {patient_id} has a birthDate that is not a string: {value!r}")
    try:
        return FhirDate.parse(value[:_FULL_DATE_LENGTH])
    except ValueError:
        raise ValueError(f"Patient {patient_id} has an invalid birthDate {value!r}") from None
