"""The FHIR read API's half of /openapi.json, built from the tables the FHIR endpoints check
(types, parameters), so it cannot drift from them."""

from __future__ import annotations

from domain.fhir_search import MAX_COUNT, SEARCH_PARAMS, SORTS, STORED_SEARCH
from domain.fhir_types import SERVED_TYPES, STORED_TYPES
from webapp.fhir.capability import PARAM_DOCS
from webapp.openapi_parts import (
    Spec,
    fhir_body,
    header,
    outcomes,
    path_param,
    query,
)

FHIR_ID: Spec = {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"}
PREFER = header("Prefer", "handling=lenient: unknown parameters are ignored, not refused")
CONDITIONAL = [
    header("If-None-Match", 'W/"<versionId>": 304 when it is still the current version'),
    header("If-Modified-Since", "an HTTP date: 304 when not modified since"),
]
FORMAT = [
    query("_format", {"type": "string"}, "json, application/json or application/fhir+json"),
    query("_pretty", {"type": "string"}, "accepted and ignored"),
]
VERSION_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": 'W/"<meta.versionId>"'},
    "Last-Modified": {"schema": {"type": "string"}, "description": "meta.lastUpdated"},
}


def fhir_param(name: str) -> Spec:
    kind, text = PARAM_DOCS[name]
    if name in ("_count", "_offset"):
        schema: Spec = {"type": "integer", "minimum": 0}
        if name == "_count":
            schema["maximum"] = MAX_COUNT
        return query(name, schema, text)
    if name == "_sort":
        return query(name, {"type": "string", "enum": sorted(SORTS)}, text)
    if name == "_summary":
        return query(name, {"type": "string", "enum": ["count", "false"]}, text)
    repeated = {"type": "array", "items": {"type": "string"}}
    return query(name, repeated, f"{kind}: {text}", style="form", explode=True)


def _search(summary: str, accepted: frozenset[str]) -> Spec:
    return {
        "summary": summary,
        "parameters": [PREFER, *FORMAT, *(fhir_param(n) for n in sorted(accepted))],
        "responses": {"200": fhir_body("Bundle", "a searchset Bundle"), **outcomes(400, 401, 403)}
        | outcomes(404, 406),
    }


def _read(summary: str, *, gone: bool = True) -> Spec:
    statuses = (400, 401, 403, 404, 406, 410) if gone else (400, 401, 403, 404, 406)
    return {
        "summary": summary,
        "parameters": [PREFER, *FORMAT, *CONDITIONAL],
        "responses": {
            "200": fhir_body("Resource", "the resource", headers=VERSION_HEADERS),
            "304": {"description": "not modified", "headers": VERSION_HEADERS},
            **outcomes(*statuses),
        },
    }


def _history_op() -> Spec:
    params = [PREFER, *FORMAT]
    params += [fhir_param("_count"), fhir_param("_offset")]
    params.append(query("_since", {"type": "string"}, "versions since this instant"))
    return {
        "summary": "every version, newest first (a rollback is a DELETE entry)",
        "parameters": params,
        "responses": {"200": fhir_body("Bundle", "a history Bundle"), **outcomes(400, 401, 403)}
        | outcomes(404, 406),
    }


def fhir_paths() -> dict[str, Spec]:
    stored = {"type": "string", "enum": sorted(STORED_TYPES)}
    served = {"type": "string", "enum": sorted(SERVED_TYPES)}
    paths: dict[str, Spec] = {
        "/fhir/metadata": {
            "get": {
                "summary": "the CapabilityStatement (public)",
                "security": [],
                "parameters": [PREFER, *FORMAT],
                "responses": {
                    "200": fhir_body("CapabilityStatement", "what this server supports"),
                    **outcomes(400, 406),
                },
            }
        },
        "/fhir/Patient/{resource_id}/$everything": {
            "parameters": [path_param("resource_id", FHIR_ID)],
            "get": {
                "summary": "the patient's record: Patient, resources, Provenance, Devices",
                "parameters": [
                    PREFER,
                    *FORMAT,
                    fhir_param("_count"),
                    fhir_param("_offset"),
                    query("_since", {"type": "string"}, "resources updated since this instant"),
                    query("_type", {"type": "string"}, "comma-separated resource types"),
                ],
                "responses": {"200": fhir_body("Bundle", "a searchset Bundle")}
                | outcomes(400, 401, 403, 404, 406),
            },
        },
        "/fhir/Patient": {"get": _search("search patients", SEARCH_PARAMS["Patient"])},
        "/fhir/Provenance": {
            "get": _search("search the documents' Provenance", SEARCH_PARAMS["Provenance"])
        },
        "/fhir/{resource_type}": {
            "parameters": [path_param("resource_type", stored)],
            "get": _search("search a stored resource type", STORED_SEARCH),
        },
        "/fhir/{resource_type}/{resource_id}": {
            "parameters": [path_param("resource_type", served), path_param("resource_id", FHIR_ID)],
            "get": _read("read the current version"),
        },
        "/fhir/{resource_type}/{resource_id}/_history": {
            "parameters": [path_param("resource_type", served), path_param("resource_id", FHIR_ID)],
            "get": _history_op(),
        },
        "/fhir/{resource_type}/{resource_id}/_history/{version_id}": {
            "parameters": [
                path_param("resource_type", served),
                path_param("resource_id", FHIR_ID),
                path_param("version_id", FHIR_ID),
            ],
            "get": _read("read one version", gone=False),
        },
    }
    return paths
