"""The patient record the flag rules compare a document against, read from a FHIR R4 Patient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

# FHIR allows a partial birthDate ("1970" or "1970-04"); only a full date can be compared.
_FULL_DATE_LENGTH = len("1970-04-03")


@dataclass(frozen=True, slots=True)
class PatientRecord:
    patient_id: str
    family: str | None
    given: tuple[str, ...]
    birth_date: date | None


def patient_record_from_fhir(resource: dict[str, Any]) -> PatientRecord:
    """The record of one FHIR R4 Patient: its official name (else the first), and birthDate.

    Names are kept as written (Synthea's digits and all); `domain.names` normalises them.
    """
    resource_type = resource.get("resourceType")
    if resource_type != "Patient":
        raise ValueError(f"expected a FHIR Patient resource, got resourceType {resource_type!r}")
    patient_id = resource.get("id")
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise ValueError("FHIR Patient resource has no id: cannot key a patient record")
    family, given = _chosen_name(resource.get("name"))
    return PatientRecord(
        patient_id=patient_id,
        family=family,
        given=given,
        birth_date=_birth_date(resource.get("birthDate"), patient_id),
    )


def _chosen_name(names: object) -> tuple[str | None, tuple[str, ...]]:
    if not isinstance(names, list):
        return None, ()
    candidates = [name for name in names if isinstance(name, dict)]
    if not candidates:
        return None, ()
    name = next((n for n in candidates if n.get("use") == "official"), candidates[0])
    family = name.get("family")
    given = tuple(g for g in name.get("given") or () if isinstance(g, str) and g.strip())
    family = family if isinstance(family, str) and family.strip() else None
    text = name.get("text")
    if family is None and not given and isinstance(text, str) and text.strip():
        # Only the free-text form: domain.names reads a one-string name in `family`.
        return text, ()
    return family, given


def _birth_date(value: object, patient_id: str) -> date | None:
    if value is None or (isinstance(value, str) and len(value) < _FULL_DATE_LENGTH):
        return None
    if not isinstance(value, str):
        raise ValueError(f"Patient {patient_id} has a birthDate that is not a string: {value!r}")
    try:
        return date.fromisoformat(value[:_FULL_DATE_LENGTH])
    except ValueError:
        raise ValueError(f"Patient {patient_id} has an invalid birthDate {value!r}") from None
