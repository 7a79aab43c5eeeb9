"""GET /openapi.json: the OpenAPI document of the JSON and FHIR APIs (public, no data)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.requests import Request
from starlette.responses import Response

from webapp.openapi import openapi_document
from webapp.render import JSON


def package_version() -> str:
    try:
        return version("optimerge")
    except PackageNotFoundError:
        return "unknown"


async def openapi_json(request: Request) -> Response:
    return JSON(openapi_document(package_version()))
