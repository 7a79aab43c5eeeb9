"""/openapi.json describes every JSON and FHIR API route the app has, and nothing else."""

from __future__ import annotations

import re

from starlette.routing import Route

from webapp.app import routes
from webapp.openapi import openapi_document


def _template(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)


def test_every_api_route_is_documented_and_every_documented_path_is_a_route():
    documented = set(openapi_document("test")["paths"])
    app_paths = {
        _template(r.path)
        for r in routes()
        if isinstance(r, Route) and r.path.startswith(("/api/", "/fhir/"))
    }
    app_paths.discard("/fhir/{rest}")  # the catch-all: an OperationOutcome 404
    # /fhir/Patient and /fhir/Provenance are documented apart from the generic search.
    assert app_paths <= documented | {"/fhir/{resource_type}"}
    assert documented - app_paths == {"/fhir/Patient", "/fhir/Provenance"}


def test_references_resolve():
    document = openapi_document("test")
    schemas = document["components"]["schemas"]
    refs = re.findall(r"#/components/schemas/(\w+)", str(document))
    assert refs and set(refs) <= set(schemas)
