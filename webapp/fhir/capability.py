"""GET /fhir/metadata: the CapabilityStatement, built from the same tables the endpoints check
(domain/fhir_search.py, domain/fhir_types.py), so it says exactly what is supported."""

from __future__ import annotations

from typing import Any

from domain.fhir_ai import AI_DEVICE_PROFILE, AI_PROVENANCE_PROFILE
from domain.fhir_search import SEARCH_PARAMS, STORED_SEARCH
from domain.fhir_types import SERVED_TYPES

CAPABILITY_DATE = "2026-12-01"
AI_TRANSPARENCY_IG = (
    "http://hl7.org/fhir/uv/aitransparency/ImplementationGuide/hl7.fhir.uv.aitransparency"
)

# name -> (FHIR search parameter type, what it matches here)
PARAM_DOCS: dict[str, tuple[str, str]] = {
    "_id": ("token", "logical id; comma-separated ids match any"),
    "_lastUpdated": (
        "date",
        "meta.lastUpdated with prefix eq (default), ge, gt, le or lt; repeat to AND "
        "(e.g. _lastUpdated=ge2026-01-01&_lastUpdated=le2026-12-31)",
    ),
    "_source": ("uri", "meta.source: document_<document id>, the document that asserted it"),
    "patient": ("reference", "the patient whose record holds it: Patient/<id> or <id>"),
    "subject": ("reference", "the same as patient (Patient/<id> or <id>)"),
    "target": ("reference", "a resource the Provenance is about: Type/id[/_history/v]"),
    "_count": ("number", "page size, 0..500 (default 50); 0 answers the total only"),
    "_offset": ("number", "entries to skip (the paging links carry it)"),
    "_sort": ("special", "_lastUpdated, -_lastUpdated, _id or -_id"),
    "_summary": ("special", "count: the total only; false: the default"),
}
SEARCH_ONLY = frozenset({"_count", "_offset", "_sort", "_summary"})
PROFILES = {"Provenance": AI_PROVENANCE_PROFILE, "Device": AI_DEVICE_PROFILE}
INTERACTIONS = ("read", "vread", "history-instance", "search-type")


def _resource(resource_type: str) -> dict[str, Any]:
    accepted = SEARCH_PARAMS.get(resource_type, STORED_SEARCH)
    entry: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": code} for code in INTERACTIONS],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": False,
        "conditionalRead": "full-support",
        "searchParam": [
            {"name": name, "type": PARAM_DOCS[name][0], "documentation": PARAM_DOCS[name][1]}
            for name in sorted(accepted - SEARCH_ONLY)
        ],
    }
    if resource_type in PROFILES:
        entry["profile"] = PROFILES[resource_type]
    if resource_type == "Patient":
        entry["operation"] = [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                "documentation": "Patient, current resources, Provenance, Devices; "
                "_since, _type, _count, _offset",
            }
        ]
    return entry


def capability_statement(base: str, version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "id": "optimerge",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "optimerge",
        "kind": "instance",
        "software": {"name": "optimerge", "version": version},
        "implementation": {
            "description": "optimerge: FHIR R4 read API over the merged patient records",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "implementationGuide": [AI_TRANSPARENCY_IG],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Resources merged from an AI extraction carry "
                "meta.security AIAST (and CLINAST once a reviewer verified their document) and "
                "the AIconfidence extension; each document has an AI-Provenance naming the "
                "model as an AI-Device. Unknown parameters answer 400 unless the request says "
                "Prefer: handling=lenient. A resource removed by a rollback answers 410.",
                "security": {
                    "cors": False,
                    "service": [{"text": "Bearer API tokens"}],
                    "description": "Authorization: Bearer <token> (optimerge users token NAME); "
                    "roles reviewer, auditor and admin read. Only this statement is public.",
                },
                "resource": [_resource(t) for t in sorted(SERVED_TYPES)],
            }
        ],
    }
