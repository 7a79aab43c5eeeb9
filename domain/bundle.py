"""The patient record as a FHIR R4 Bundle, with one Provenance per contributing document."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.resources import RESOURCE_NAMESPACE, FhirResource

DOCUMENT_IDENTIFIER_SYSTEM = "urn:optimerge:document"


@dataclass(frozen=True, slots=True)
class Contribution:
    """One merged document and what it contributed."""

    document_id: str
    version: int
    model_name: str | None
    model_version: str | None
    title: str | None
    merged_at: datetime | None
    resource_refs: tuple[str, ...]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def provenance_for(contribution: Contribution) -> FhirResource:
    model = " ".join(p for p in (contribution.model_name, contribution.model_version) if p)
    entity_what: dict[str, Any] = {
        "identifier": {"system": DOCUMENT_IDENTIFIER_SYSTEM, "value": contribution.document_id}
    }
    if contribution.title:
        entity_what["display"] = contribution.title
    provenance: FhirResource = {
        "resourceType": "Provenance",
        "id": str(
            uuid.uuid5(
                RESOURCE_NAMESPACE,
                f"provenance|{contribution.document_id}|{contribution.version}",
            )
        ),
        "target": [{"reference": ref} for ref in contribution.resource_refs],
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": {"display": model or "unknown extraction model"},
            }
        ],
        "entity": [{"role": "source", "what": entity_what}],
    }
    if contribution.merged_at is not None:
        provenance["recorded"] = _iso(contribution.merged_at)
    return provenance


def patient_bundle(
    patient_id: str,
    patient: FhirResource | None,
    resources: Sequence[FhirResource],
    contributions: Sequence[Contribution],
    now: datetime,
) -> FhirResource:
    """A `collection` Bundle: the Patient (when known), every merged resource, their provenance."""
    entries: list[FhirResource] = []
    if patient is not None:
        entries.append(patient)
    entries.extend(resources)
    entries.extend(provenance_for(c) for c in contributions if c.resource_refs)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(RESOURCE_NAMESPACE, f"bundle|{patient_id}|{_iso(now)}")),
        "type": "collection",
        "timestamp": _iso(now),
        "total": len(entries),
        "entry": [_entry(r) for r in entries],
    }


def _entry(resource: FhirResource) -> FhirResource:
    entry: FhirResource = {"resource": resource}
    if _is_uuid(resource.get("id")):
        entry["fullUrl"] = f"urn:uuid:{resource['id']}"
    return entry


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
