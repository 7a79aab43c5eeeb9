"""Building blocks of /openapi.json: references, bodies, the error answers, parameters."""

from __future__ import annotations

from typing import Any

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
Spec = dict[str, Any]


def ref(name: str) -> Spec:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Spec, description: str, media: str = JSON, **extra: Any) -> Spec:
    return {"description": description, "content": {media: {"schema": schema}}, **extra}


def fhir_body(schema: str, description: str, **extra: Any) -> Spec:
    return json_body(ref(schema), description, FHIR_JSON, **extra)


def outcomes(*statuses: int) -> dict[str, Spec]:
    texts = {
        400: "invalid or unknown parameter (OperationOutcome)",
        401: "no valid bearer token",
        403: "the role may not read patient records",
        404: "no such resource or type",
        406: "a format other than JSON was asked for",
        410: "removed from the record (rolled back)",
    }
    return {str(s): fhir_body("OperationOutcome", texts[s]) for s in statuses}


def errors(*statuses: int) -> dict[str, Spec]:
    texts = {
        400: "invalid query or body",
        401: "not logged in",
        403: "the role may not do this",
        404: "no such document or patient",
        413: "request body too large",
        422: "an invalid action (problems listed)",
        503: "Kafka did not confirm the action; nothing was changed",
    }
    return {str(s): json_body(ref("Error"), texts[s]) for s in statuses}


def query(name: str, schema: Spec, description: str, **extra: Any) -> Spec:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def header(name: str, description: str) -> Spec:
    return {"name": name, "in": "header", "schema": {"type": "string"}, "description": description}


def path_param(name: str, schema: Spec | None = None) -> Spec:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}
