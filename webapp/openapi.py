"""The OpenAPI 3.1 document of the JSON API (/api/...) and the FHIR read API (/fhir/...), served
at /openapi.json (public: it holds no data). tests/integration/webapp/test_openapi.py runs
schemathesis against a live app with it."""

from __future__ import annotations

from typing import Any

from webapp.openapi_api import api_paths, api_schemas
from webapp.openapi_fhir import fhir_paths
from webapp.openapi_ops import ops_paths, ops_schemas
from webapp.openapi_parts import Spec, ref

RESOURCE: Spec = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string"},
        "id": {"type": "string"},
        "meta": {"type": "object"},
    },
}


def fhir_schemas() -> dict[str, Spec]:
    issue = {
        "type": "object",
        "required": ["severity", "code"],
        "properties": {
            "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
            "code": {"type": "string"},
            "diagnostics": {"type": "string"},
        },
    }
    entry = {
        "type": "object",
        "properties": {
            "fullUrl": {"type": "string"},
            "resource": ref("Resource"),
            "search": {"type": "object"},
            "request": {"type": "object", "required": ["method", "url"]},
            "response": {"type": "object", "required": ["status"]},
        },
    }
    link = {
        "type": "object",
        "required": ["relation", "url"],
        "properties": {"relation": {"type": "string"}, "url": {"type": "string"}},
    }
    return {
        "Resource": RESOURCE,
        "Bundle": {
            "type": "object",
            "required": ["resourceType", "type"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "type": {"type": "string", "enum": ["searchset", "history", "collection"]},
                "total": {"type": "integer", "minimum": 0},
                "link": {"type": "array", "items": link},
                "entry": {"type": "array", "items": entry},
            },
        },
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {"type": "array", "minItems": 1, "items": issue},
            },
        },
        "CapabilityStatement": {
            "type": "object",
            "required": ["resourceType", "status", "date", "kind", "fhirVersion", "rest"],
            "properties": {
                "resourceType": {"const": "CapabilityStatement"},
                "fhirVersion": {"const": "4.0.1"},
                "rest": {"type": "array", "minItems": 1},
            },
        },
    }


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "optimerge",
            "version": version,
            "description": "The reviewer app's JSON API and the FHIR R4 read API "
            "(docs/contract.md#endpoints). Authenticate with 'Authorization: Bearer <token>' "
            "(optimerge users token NAME) or the app's session cookie.",
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {**api_paths(), **ops_paths(), **fhir_paths()},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "optimerge_session"},
            },
            "schemas": {**api_schemas(), **ops_schemas(), **fhir_schemas()},
        },
    }
