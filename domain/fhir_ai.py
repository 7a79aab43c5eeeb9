"""AI transparency on merged data, after HL7's "AI Transparency on FHIR" IG
(hl7.fhir.uv.aitransparency, canonical http://hl7.org/fhir/uv/aitransparency, 1.0.0-current,
STU1 ballot; read from the IG's source, github HL7/aitransparency-ig input/fsh/*.fsh and
input/pagecontent/requirements.md).

- Labeling (1st level): `meta.security` holds v3-ObservationValue#AIAST on every resource an
  extraction asserted (IG ValueSet ProvenanceVS, Labeling.fsh). Once a reviewer marked the document
  correct or corrected it, the current versions also carry v3-ObservationValue#CLINAST (HL7
  SecurityIntegrityProvenanceAssertedByObservationValue; the IG's ballot listed it in ProvenanceVS
  before FHIR-57918 dropped its experimental CLINAST_AIRPT code).
- Confidence: the IG's AIconfidence extension (AIconfidence.fsh) as valueDecimal 0..1 on the root.
- Provenance and Device (2nd level): see `ai_provenance_parts` and `ai_device`: profiles
  AI-Provenance and AI-Device, agent role AIdeviceTypeCS#Artificial-Intelligence, a verifier agent
  for the human in the loop (EX_Provenance.fsh, EX_PriorAuth.fsh).

Pure: decorations are added when the API reads a resource, from the document's row, so rows
stored before this existed carry them too (docs/contract.md#fhir-api).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from domain.resources import FhirResource

IG = "http://hl7.org/fhir/uv/aitransparency"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AI_ASSERTED: FhirResource = {
    "system": OBSERVATION_VALUE,
    "code": "AIAST",
    "display": "Artificial Intelligence asserted",
}
CLINICIAN_ASSERTED: FhirResource = {
    "system": OBSERVATION_VALUE,
    "code": "CLINAST",
    "display": "clinician asserted",
}
AI_CONFIDENCE_URL = f"{IG}/StructureDefinition/AIconfidence"
AI_PROVENANCE_PROFILE = f"{IG}/StructureDefinition/AI-Provenance"
AI_DEVICE_PROFILE = f"{IG}/StructureDefinition/AI-Device"
AI_KIND_URL = f"{IG}/StructureDefinition/aitransparency.AIKind"
AI_DEVICE_TYPES = f"{IG}/CodeSystem/AIdeviceTypeCS"
ARTIFICIAL_INTELLIGENCE: FhirResource = {
    "system": AI_DEVICE_TYPES,
    "code": "Artificial-Intelligence",
    "display": "All kinds of Artificial Intelligence",
}
# The scenario code for systems that extract and code clinical information (FHIR-54368).
DOCUMENTATION_AI: FhirResource = {
    "system": AI_DEVICE_TYPES,
    "code": "Clinical-Documentation-and-Workflow",
    "display": "Clinical Documentation and Workflow",
}
PARTICIPANT_TYPES = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
DEVICE_PROPERTY_SYSTEM = "urn:optimerge:device-property"
REVIEWER_SYSTEM = "urn:optimerge:reviewer"
_SEP = "\x1f"  # the unit separator: never part of a model name, version or document id


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the API says about the AI behind a document's resources (from its row)."""

    document_id: str
    confidence: float | None
    model_name: str | None
    model_version: str | None
    is_fallback: bool
    review_status: str
    reviewer: str | None = None

    @property
    def verified(self) -> bool:
        """A person marked the document correct or corrected it (review state `reviewed`)."""
        return self.review_status == "reviewed"

    @property
    def model_label(self) -> str:
        parts = (self.model_name, self.model_version)
        return " ".join(p for p in parts if p) or "unknown extraction model"


def md5_uuid(*parts: str) -> str:
    """The UUID PostgreSQL computes as md5(a || chr(31) || b ...)::uuid (storage/fhir.py), so
    the database finds a derived resource by its id through an expression index."""
    digest = hashlib.md5(_SEP.join(parts).encode(), usedforsecurity=False).hexdigest()
    return str(uuid.UUID(digest))


def provenance_id(document_id: str) -> str:
    return md5_uuid("provenance", document_id)


def device_id(model_name: str | None, model_version: str | None, is_fallback: bool) -> str:
    return md5_uuid(
        "device", model_name or "", model_version or "", "fallback" if is_fallback else "primary"
    )


def _with_coding(codings: list[Any], coding: FhirResource) -> list[Any]:
    present = any(
        isinstance(c, dict)
        and c.get("system") == coding["system"]
        and c.get("code") == coding["code"]
        for c in codings
    )
    return codings if present else [*codings, dict(coding)]


def decorate(resource: FhirResource, facts: Extraction, *, current: bool) -> FhirResource:
    """A copy of a stored resource with the IG's labels and the extraction's confidence.

    CLINAST only on a current version of a reviewed document: a prior version was either what
    the reviewer replaced, or superseded by a later extraction nobody has looked at yet."""
    meta = dict(resource.get("meta") or {})
    security = list(meta.get("security") or [])
    security = _with_coding(security, AI_ASSERTED)
    if current and facts.verified:
        security = _with_coding(security, CLINICIAN_ASSERTED)
    meta["security"] = security
    out = dict(resource)
    out["meta"] = meta
    if facts.confidence is not None:
        extensions = [
            e
            for e in resource.get("extension") or []
            if not (isinstance(e, dict) and e.get("url") == AI_CONFIDENCE_URL)
        ]
        extensions.append({"url": AI_CONFIDENCE_URL, "valueDecimal": facts.confidence})
        out["extension"] = extensions
    return out


def ai_device(model_name: str | None, model_version: str | None, is_fallback: bool) -> FhirResource:
    """The extraction model as an AI-Device: name, version, and whether it was the fallback."""
    device: FhirResource = {
        "resourceType": "Device",
        "id": device_id(model_name, model_version, is_fallback),
        "meta": {"versionId": "1", "profile": [AI_DEVICE_PROFILE]},
        "extension": [{"url": AI_KIND_URL, "valueCodeableConcept": {"coding": [DOCUMENTATION_AI]}}],
        "type": {"coding": [ARTIFICIAL_INTELLIGENCE]},
        "deviceName": [{"name": model_name or "unknown extraction model", "type": "model-name"}],
        "property": [
            {
                "type": {
                    "coding": [{"system": DEVICE_PROPERTY_SYSTEM, "code": "fallback"}],
                    "text": "fallback model (used when the primary extractor was unavailable)",
                },
                "valueCode": [
                    {
                        "coding": [
                            {
                                "system": YES_NO,
                                "code": "Y" if is_fallback else "N",
                                "display": "Yes" if is_fallback else "No",
                            }
                        ]
                    }
                ],
            }
        ],
    }
    if model_version:
        device["version"] = [{"value": model_version}]
    return device


def _participant(code: str, display: str) -> FhirResource:
    return {"coding": [{"system": PARTICIPANT_TYPES, "code": code, "display": display}]}


def ai_provenance_parts(facts: Extraction) -> FhirResource:
    """The AI-Provenance elements of a document's Provenance: profile, reason AIAST, the model
    as author (a Device in the Artificial-Intelligence role) and, once reviewed, the reviewer as
    verifier."""
    device = device_id(facts.model_name, facts.model_version, facts.is_fallback)
    agents: list[FhirResource] = [
        {
            "type": _participant("author", "Author"),
            "role": [{"coding": [ARTIFICIAL_INTELLIGENCE]}],
            "who": {"reference": f"Device/{device}", "display": facts.model_label},
        }
    ]
    security: list[FhirResource] = []
    if facts.verified and facts.reviewer:
        agents.append(
            {
                "type": _participant("verifier", "Verifier"),
                "who": {
                    "identifier": {"system": REVIEWER_SYSTEM, "value": facts.reviewer},
                    "display": facts.reviewer,
                },
            }
        )
        # The Provenance says so too: a client reading only Provenance sees the human check.
        security.append(dict(CLINICIAN_ASSERTED))
    meta: FhirResource = {"profile": [AI_PROVENANCE_PROFILE]}
    if security:
        meta["security"] = security
    return {"meta": meta, "reason": [{"coding": [dict(AI_ASSERTED)]}], "agent": agents}
