"""The operator's half of /openapi.json (webapp/endpoints/ops.py, dlq.py): health and
dead-letter statistics (docs/contract.md#health, #dead-letters)."""

from __future__ import annotations

from webapp.openapi_parts import Spec, errors, json_body, query, ref

_COMPONENT: Spec = {
    "type": "object",
    "required": ["status", "summary"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "down"]},
        "summary": {"type": "string"},
    },
}
_COUNTS: Spec = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def ops_schemas() -> dict[str, Spec]:
    return {
        "Health": {
            "type": "object",
            "required": ["status", "at", "components"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "down"]},
                "at": {"type": "string"},
                "components": {
                    "type": "object",
                    "required": ["postgresql", "kafka", "consumer_group", "workers"],
                    "additionalProperties": _COMPONENT,
                },
            },
        },
        "DeadLetterStats": {
            "type": "object",
            "required": ["total", "by_kind", "by_day", "by_source", "oldest", "newest"],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "by_kind": _COUNTS,
                "by_day": {"type": "object", "additionalProperties": _COUNTS},
                "by_source": _COUNTS,
                "oldest": {"type": ["string", "null"]},
                "newest": {"type": ["string", "null"]},
            },
        },
    }


def ops_paths() -> dict[str, Spec]:
    text = {"type": "string", "maxLength": 200}
    day = {"type": "string", "description": "a date like 2026-11-22 (ignored if not)"}
    return {
        "/api/health": {
            "get": {
                "summary": "every component's health (operators, admins)",
                "responses": {
                    "200": json_body(ref("Health"), "every component is ok"),
                    "503": json_body(ref("Health"), "a component is down (the body says which)"),
                }
                | errors(401, 403),
            }
        },
        "/api/dlq/stats": {
            "get": {
                "summary": "dead letters counted per kind, day and source (operators, admins)",
                "parameters": [
                    query("kind", text, "invalid_json, schema, too_large or merge_error"),
                    query("reason", text, "reasons containing this text"),
                    query("patient", text, "the letter's key (a patient id)"),
                    query("from", day, "letters on or after this day (UTC)"),
                    query("to", day, "letters on or before this day (UTC)"),
                ],
                "responses": {
                    "200": json_body(ref("DeadLetterStats"), "the statistics"),
                    "503": json_body(ref("Error"), "Kafka did not answer"),
                }
                | errors(401, 403),
            }
        },
    }
