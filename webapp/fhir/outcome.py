"""FHIR answers: application/fhir+json bodies, OperationOutcome for every error, and the
conditional-read headers (ETag from meta.versionId, Last-Modified from meta.lastUpdated)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schemas.exact_json import dumps_for_display

FHIR_PREFIX = "/fhir/"
# FHIR issue-type codes (http://hl7.org/fhir/issue-type) by HTTP status.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    410: "deleted",
    413: "too-costly",
    500: "exception",
    503: "transient",
}


class FhirJSON(Response):
    media_type = "application/fhir+json"

    def render(self, content: Any) -> bytes:
        # FHIR decimals as stored: 0.010 stays 0.010 (docs/contract.md#input-contract).
        return dumps_for_display(content)


def is_fhir(path: str) -> bool:
    return path == FHIR_PREFIX.rstrip("/") or path.startswith(FHIR_PREFIX)


class FhirProblem(Exception):
    """Raised by a FHIR endpoint; answered as an OperationOutcome with `status`."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or ISSUE_CODES.get(status, "processing")


def outcome(
    status: int,
    messages: str | list[str],
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    texts = [messages] if isinstance(messages, str) else messages
    issue_code = code or ISSUE_CODES.get(status, "processing")
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": issue_code, "diagnostics": text} for text in texts],
    }
    return FhirJSON(body, status_code=status, headers=dict(headers or {}))


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def version_headers(resource: dict[str, Any]) -> dict[str, str]:
    meta = resource.get("meta") or {}
    headers = {}
    if meta.get("versionId"):
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    updated = _instant(meta.get("lastUpdated"))
    if updated is not None:
        headers["Last-Modified"] = format_datetime(updated.astimezone(UTC), usegmt=True)
    return headers


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()}


def not_modified(request: Request, resource: dict[str, Any]) -> bool:
    """If-None-Match (weak comparison; `*` matches any), else If-Modified-Since."""
    meta = resource.get("meta") or {}
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = _etags(match)
        return "*" in tags or str(meta.get("versionId")) in tags
    since = request.headers.get("if-modified-since")
    updated = _instant(meta.get("lastUpdated"))
    if since is None or updated is None:
        return False
    try:
        threshold = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if threshold.tzinfo is None:
        threshold = threshold.replace(tzinfo=UTC)
    return updated.replace(microsecond=0) <= threshold


def resource_response(request: Request, resource: dict[str, Any]) -> Response:
    headers = version_headers(resource)
    if not_modified(request, resource):
        return Response(status_code=304, headers=headers)
    return FhirJSON(resource, headers=headers)
