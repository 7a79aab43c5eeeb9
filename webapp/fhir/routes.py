"""The routes of the FHIR R4 read API under /fhir/ (docs/contract.md#fhir-api)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.fhir import endpoints


def routes() -> list[BaseRoute]:
    """Longest first: `$everything` and `_history` before the plain read."""
    return [
        Route("/fhir/metadata", endpoints.metadata),
        Route("/fhir/Patient/{resource_id}/$everything", endpoints.everything),
        Route(
            "/fhir/{resource_type}/{resource_id}/_history/{version_id}",
            endpoints.vread,
        ),
        Route("/fhir/{resource_type}/{resource_id}/_history", endpoints.instance_history),
        Route("/fhir/{resource_type}/{resource_id}", endpoints.read),
        Route("/fhir/{resource_type}", endpoints.search),
        Route("/fhir/{rest:path}", endpoints.not_found),
    ]
