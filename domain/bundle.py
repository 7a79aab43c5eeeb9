"""The patient record as a FHIR R4 Bundle, with one Provenance per contributing document and the
extraction models as Devices (AI-Provenance and AI-Device of the AI Transparency IG: see
domain/fhir_ai.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.fhir_ai import Extraction, ai_device, ai_provenance_parts, provenance_id
from domain.resources import RESOURCE_NAMESPACE, FhirResource

DOCUMENT_IDENTIFIER_SYSTEM = "urn:optimerge:document"
# ISO 21089 lifecycle "transform": the AI turned a document into FHIR resources (IG example
# AI-Generated-Lab-Results, EX_Doc_ingest.fsh).
TRANSFORM_ACTIVITY: FhirResource = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
            "code": "transform",
            "display": "Transform/Translate Record Lifecycle Event",
        }
    ],
    "text": "FHIR resources extracted from a document by an AI model",
}


@dataclass(frozen=True, slots=True)
class Contribution:
    """One merged document and what it contributed."""

    document_id: str
    version: int
    extraction: Extraction
    title: str | None
    merged_at: datetime | None
    resource_refs: tuple[str, ...]
    extracted_at: datetime | None = None
    updated_at: datetime | None = None


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def provenance_for(contribution: Contribution) -> FhirResource:
    """The document's Provenance: stable id per document, version = the document's version."""
    entity_what: dict[str, Any] = {
        "identifier": {"system": DOCUMENT_IDENTIFIER_SYSTEM, "value": contribution.document_id}
    }
    if contribution.title:
        entity_what["display"] = contribution.title
    parts = ai_provenance_parts(contribution.extraction)
    meta: FhirResource = {"versionId": str(contribution.version), **parts["meta"]}
    recorded = contribution.merged_at or contribution.updated_at
    if contribution.updated_at is not None:
        meta["lastUpdated"] = iso(contribution.updated_at)
    provenance: FhirResource = {
        "resourceType": "Provenance",
        "id": provenance_id(contribution.document_id),
        "meta": meta,
        "target": [{"reference": ref} for ref in contribution.resource_refs],
    }
    if contribution.extracted_at is not None:
        provenance["occurredDateTime"] = iso(contribution.extracted_at)
    if recorded is not None:
        provenance["recorded"] = iso(recorded)
    provenance.update(
        reason=parts["reason"],
        activity=TRANSFORM_ACTIVITY,
        agent=parts["agent"],
        entity=[{"role": "source", "what": entity_what}],
    )
    return provenance


def devices_for(contributions: Sequence[Contribution]) -> list[FhirResource]:
    """One Device per distinct model (name, version, fallback) behind these documents."""
    seen: dict[tuple[str | None, str | None, bool], FhirResource] = {}
    for c in contributions:
        e = c.extraction
        key = (e.model_name, e.model_version, e.is_fallback)
        if key not in seen:
            seen[key] = ai_device(*key)
    return list(seen.values())


def patient_bundle(
    patient_id: str,
    patient: FhirResource | None,
    resources: Sequence[FhirResource],
    contributions: Sequence[Contribution],
    now: datetime,
) -> FhirResource:
    """A `collection` Bundle: the Patient (when known), every merged resource (decorated by the
    caller), their provenance and the models as Devices."""
    entries: list[FhirResource] = []
    if patient is not None:
        entries.append(patient)
    entries.extend(resources)
    contributing = [c for c in contributions if c.resource_refs]
    entries.extend(provenance_for(c) for c in contributing)
    entries.extend(devices_for(contributing))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(RESOURCE_NAMESPACE, f"bundle|{patient_id}|{iso(now)}")),
        "type": "collection",
        "timestamp": iso(now),
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
