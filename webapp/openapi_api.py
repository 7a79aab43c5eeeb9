"""The JSON API's half of /openapi.json (webapp/endpoints/api.py, audit.py): paths and schemas."""

from __future__ import annotations

from schemas import FlagRule, ReviewActionKind
from webapp.openapi_parts import FHIR_JSON, Spec, errors, json_body, path_param, query, ref

DATE = {"type": "string", "description": "a date like 2026-11-22 (ignored, with an error, if not)"}
TEXT = {"type": "string", "maxLength": 200}
PAGE = {"type": "integer", "minimum": 1}
NULLABLE_TEXT = {"type": ["string", "null"]}


def _object(required: list[str], **properties: Spec) -> Spec:
    return {"type": "object", "required": required, "properties": properties}


def api_schemas() -> dict[str, Spec]:
    reason = _object(["rule", "text"], rule={"type": "string"}, text={"type": "string"})
    return {
        "Error": _object(["error"], error={"type": "string"}),
        "FlaggedList": _object(
            ["items", "total", "page", "pages", "per_page", "queue_total", "errors"],
            items={
                "type": "array",
                "items": _object(
                    ["document_id", "patient_id", "flag_reasons", "verify_url"],
                    document_id={"type": "string"},
                    patient_id={"type": "string"},
                    flag_reasons={"type": "array", "items": reason},
                    verify_url={"type": "string"},
                ),
            },
            total={"type": "integer"},
            page={"type": "integer"},
            pages={"type": "integer"},
            per_page={"type": "integer"},
            queue_total={"type": "integer"},
            errors={"type": "array", "items": {"type": "string"}},
        ),
        "Document": _object(
            ["document_id", "patient_id", "version", "review_status", "resources"],
            document_id={"type": "string"},
            patient_id={"type": "string"},
            version={"type": "integer"},
            review_status={"type": "string"},
            verify_url={"type": "string"},
            extraction={"type": ["object", "null"]},
            resources={"type": "array", "items": {"type": "object"}},
        ),
        "Status": _object(
            ["document_id", "status", "version", "review_status"],
            document_id={"type": "string"},
            status={"type": "string", "enum": ["PENDING", "PROCESSING", "COMPLETE", "FAILED"]},
            version={"type": "integer"},
            review_status={"type": "string"},
            error=NULLABLE_TEXT,
            action=_object(
                ["action_id", "state"],
                action_id={"type": "string"},
                state={"type": "string", "enum": ["applying", "done"]},
            ),
        ),
        "Action": _object(
            ["action", "expected_version"],
            action={"type": "string", "enum": [k.value for k in ReviewActionKind]},
            expected_version={"type": "integer", "minimum": 0},
            corrected_resources={"type": ["array", "null"], "items": {"type": "object"}},
            note={"type": "string", "maxLength": 2000},
        ),
        "Accepted": _object(
            ["action_id", "document_id", "action", "expected_version", "status_url"],
            action_id={"type": "string", "format": "uuid"},
            document_id={"type": "string"},
            action={"type": "string"},
            expected_version={"type": "integer"},
            status_url={"type": "string"},
        ),
        "Audit": _object(
            ["entries", "total", "page", "pages", "errors", "chain"],
            entries={"type": "array", "items": {"type": "object"}},
            total={"type": "integer"},
            page={"type": "integer"},
            pages={"type": "integer"},
            errors={"type": "array", "items": {"type": "string"}},
            # ok: the newest signed verification found nothing (null: none yet, or forged).
            chain=_object(
                ["ok", "breaks", "verified_at", "stale"],
                ok={"type": ["boolean", "null"]},
                breaks={"type": "array"},
                verified_at={"type": ["string", "null"]},
                stale={"type": "boolean"},
            ),
        ),
        "Reads": _object(
            ["reads", "total", "page", "pages", "errors"],
            reads={
                "type": "array",
                "items": _object(
                    ["occurred_at", "actor", "channel", "what", "patient_ids", "document_ids"],
                    occurred_at={"type": "string"},
                    actor={"type": "string"},
                    actor_role={"type": "string"},
                    channel={"type": "string", "enum": ["page", "api", "fhir", "cli"]},
                    what={"type": "string"},
                    patient_ids={"type": "array", "items": {"type": "string"}},
                    document_ids={"type": "array", "items": {"type": "string"}},
                    resource_count={"type": "integer"},
                    client_addr=NULLABLE_TEXT,
                    user_agent=NULLABLE_TEXT,
                ),
            },
            total={"type": "integer"},
            page={"type": "integer"},
            pages={"type": "integer"},
            errors={"type": "array", "items": {"type": "string"}},
        ),
    }


def api_paths() -> dict[str, Spec]:
    doc = [path_param("document_id")]
    flagged_query = [
        query("from", DATE, "received on or after"),
        query("to", DATE, "received on or before"),
        query("reason", {"type": "string", "enum": [r.value for r in FlagRule]}, "rule code"),
        query("patient", TEXT, "patient id or name"),
        query("page", PAGE, "page number"),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
    ]
    audit_query = [
        query("patient", TEXT, "patient id"),
        query("document", TEXT, "document id"),
        query("actor", TEXT, "who acted"),
        query("action", TEXT, "audit action"),
        query("from", DATE, "on or after"),
        query("to", DATE, "on or before"),
        query("page", PAGE, "page number"),
    ]
    return {
        "/api/flagged": {
            "get": {
                "summary": "the flagged queue, oldest first",
                "parameters": flagged_query,
                "responses": {"200": json_body(ref("FlaggedList"), "one page")} | errors(400, 401),
            }
        },
        "/api/documents/{document_id}": {
            "parameters": doc,
            "get": {
                "summary": "a document's state, extraction and stored resources",
                "responses": {"200": json_body(ref("Document"), "the document")} | errors(401, 404),
            },
        },
        "/api/documents/{document_id}/status": {
            "parameters": doc,
            "get": {
                "summary": "processing status; with action_id, what became of that action",
                "parameters": [query("action_id", {"type": "string", "format": "uuid"}, "")],
                "responses": {"200": json_body(ref("Status"), "the status")}
                | errors(400, 401, 404),
            },
        },
        "/api/documents/{document_id}/actions": {
            "parameters": doc,
            "post": {
                "summary": "a review action, published on review.actions (202 Accepted)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref("Action")}},
                },
                "responses": {"202": json_body(ref("Accepted"), "published")}
                | errors(400, 401, 403, 404, 413, 422, 503),
            },
        },
        "/api/patients/{patient_id}/bundle": {
            "parameters": [path_param("patient_id")],
            "get": {
                "summary": "the patient's record as a FHIR R4 collection Bundle",
                "responses": {"200": json_body(ref("Bundle"), "the Bundle", FHIR_JSON)}
                | errors(401, 404),
            },
        },
        "/api/audit": {
            "get": {
                "summary": "audit entries and the trail's verified state (auditors, admins)",
                "parameters": audit_query,
                "responses": {"200": json_body(ref("Audit"), "one page")} | errors(401, 403),
            }
        },
        "/api/audit/reads": {
            "get": {
                "summary": "who read patient records and documents, newest first (auditors, "
                "admins)",
                "parameters": [
                    query("patient", TEXT, "patient id"),
                    query("document", TEXT, "document id"),
                    query("actor", TEXT, "who read"),
                    query(
                        "channel",
                        {"type": "string", "enum": ["page", "api", "fhir", "cli"]},
                        "through what",
                    ),
                    query("from", DATE, "on or after"),
                    query("to", DATE, "on or before"),
                    query("page", PAGE, "page number"),
                ],
                "responses": {"200": json_body(ref("Reads"), "one page")} | errors(401, 403),
            }
        },
    }
