"""The /fhir/ R4 read API: read, vread, history, search, Patient/$everything, metadata
(docs/contract.md#fhir-api). Every error is an OperationOutcome; every answer holding patient
data goes through `record_read` once (docs/contract.md#read-audit)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from domain.bundle import devices_for, provenance_for
from domain.fhir_bundles import (
    history,
    page_links,
    patient_resource,
    searchset,
    stored_resource,
)
from domain.fhir_search import (
    EVERYTHING_PARAMS,
    HISTORY_PARAMS,
    BadQuery,
    Query,
    is_lenient,
    parse_query,
    search_params_for,
)
from domain.fhir_types import SERVED_TYPES, is_fhir_id
from storage import fhir_derived as derived
from webapp.auth import current_user
from webapp.context import ctx, db
from webapp.fhir.capability import capability_statement
from webapp.fhir.loaders import gone, search_page, versions_of
from webapp.fhir.outcome import FhirJSON, FhirProblem, outcome, resource_response
from webapp.fhir.read_audit import record_read
from webapp.roles import Permission, User

log = logging.getLogger(__name__)

Endpoint = Callable[[Request, User], Awaitable[Response]]


def fhir_endpoint(fn: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Permission first, then the endpoint; any failure becomes an OperationOutcome."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            user = current_user(request)
            if user is None:
                raise RuntimeError(f"{request.url.path} is guarded but not behind AuthMiddleware")
            if not user.can(Permission.READ_RECORDS):
                raise FhirProblem(403, f"{user.name} ({user.role}) may not read patient records")
            return await fn(request, user)
        except FhirProblem as problem:
            return outcome(problem.status, str(problem), code=problem.code)
        except BadQuery as bad:
            return outcome(bad.status, bad.problems)
        except Exception:
            log.exception("FHIR request %s failed", request.url.path)
            return outcome(500, "the server hit an unexpected error; the app's log has details")

    return wrapper


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _query(request: Request, accepted: frozenset[str]) -> Query:
    lenient = is_lenient(request.headers.get("prefer"))
    return parse_query(request.query_params.multi_items(), accepted, lenient=lenient)


def _type_of(request: Request) -> str:
    resource_type = str(request.path_params["resource_type"])
    if resource_type not in SERVED_TYPES:
        raise FhirProblem(
            404,
            f"resource type {resource_type!r} is not served here (see /fhir/metadata)",
            code="not-supported",
        )
    return resource_type


def _id_of(request: Request, resource_type: str) -> str:
    resource_id = str(request.path_params["resource_id"])
    if not is_fhir_id(resource_id):
        raise FhirProblem(404, f"{resource_type}/{resource_id} does not exist")
    return resource_id


@fhir_endpoint
async def read(request: Request, user: User) -> Response:
    resource_type = _type_of(request)
    resource_id = _id_of(request, resource_type)
    _query(request, frozenset())
    versions = await versions_of(request, resource_type, resource_id)
    latest = versions[0]
    if latest.resource is None:
        raise gone(resource_type, resource_id)
    await record_read(request, user, "read", [latest.resource])
    return resource_response(request, latest.resource)


@fhir_endpoint
async def vread(request: Request, user: User) -> Response:
    resource_type = _type_of(request)
    resource_id = _id_of(request, resource_type)
    _query(request, frozenset())
    wanted = str(request.path_params["version_id"])
    versions = await versions_of(request, resource_type, resource_id)
    for v in versions:
        if v.resource is not None and str(v.version_id) == wanted:
            await record_read(request, user, "vread", [v.resource])
            return resource_response(request, v.resource)
    raise FhirProblem(404, f"{resource_type}/{resource_id} has no version {wanted}")


def _window(query: Query, items: list[Any], *, all_by_default: bool) -> tuple[list[Any], int]:
    """The page of `items` the query asks for, and the page size used for the links."""
    asked = any(name == "_count" for name, _ in query.used)
    count = query.count if asked or not all_by_default else max(len(items), 1)
    return items[query.offset : query.offset + count], count


@fhir_endpoint
async def instance_history(request: Request, user: User) -> Response:
    resource_type = _type_of(request)
    resource_id = _id_of(request, resource_type)
    query = _query(request, HISTORY_PARAMS)
    versions = await versions_of(request, resource_type, resource_id)
    since = query.updated.after
    if since is not None:
        versions = [v for v in versions if v.at >= since]
    page, count = _window(query, versions, all_by_default=True)
    url = f"{_base(request)}/{resource_type}/{resource_id}/_history"
    links = page_links(url, query.used, count, query.offset, len(versions))
    await record_read(request, user, "history", [v.resource for v in page if v.resource])
    bundle = history(
        _base(request), url, page, total=len(versions), links=links, now=ctx(request).clock()
    )
    return FhirJSON(bundle)


@fhir_endpoint
async def search(request: Request, user: User) -> Response:
    resource_type = _type_of(request)
    query = _query(request, search_params_for(resource_type))
    total, matches = await search_page(request, resource_type, query)
    url = f"{_base(request)}/{resource_type}"
    count = 0 if query.summary_count else query.count
    links = page_links(url, query.used, count, query.offset, total)
    if matches:
        await record_read(request, user, "search", matches)
    bundle = searchset(
        _base(request), url, matches, total=total, links=links, now=ctx(request).clock()
    )
    return FhirJSON(bundle)


@fhir_endpoint
async def everything(request: Request, user: User) -> Response:
    patient_id = str(request.path_params["resource_id"])
    query = _query(request, EVERYTHING_PARAMS)
    if query.types is not None:
        unknown = sorted(set(query.types) - SERVED_TYPES)
        if unknown:
            raise BadQuery([f"_type: not served here: {', '.join(unknown)}"])
    found = None
    if is_fhir_id(patient_id):
        found = await db(request, derived.patient_everything, patient_id, query)
    if found is None:
        raise FhirProblem(404, f"Patient/{patient_id} does not exist")
    types = query.types

    def wants(resource_type: str) -> bool:
        return types is None or resource_type in types

    since = query.updated.after
    matches: list[dict[str, Any]] = []
    p = found.patient
    if p is not None and wants("Patient") and (since is None or p.updated_at >= since):
        matches.append(patient_resource(p.patient_id, p.record, p.updated_at))
    matches += [stored_resource(r.body, r.facts, current=True) for r in found.resources if r.body]
    included: list[dict[str, Any]] = []
    if wants("Provenance"):
        included += [provenance_for(c) for c in found.contributions]
    if wants("Device"):
        included += devices_for(found.contributions)
    everything_entries = [*matches, *included]
    page, count = _window(query, everything_entries, all_by_default=True)
    split = max(0, len(matches) - query.offset)  # matches come first in the whole list
    page_matches, page_included = page[:split], page[split:]
    url = f"{_base(request)}/Patient/{patient_id}/$everything"
    links = page_links(url, query.used, count, query.offset, len(everything_entries))
    await record_read(request, user, "everything", page, patient_id=patient_id)
    bundle = searchset(
        _base(request),
        url,
        page_matches,
        total=len(everything_entries),
        links=links,
        now=ctx(request).clock(),
        included=page_included,
    )
    return FhirJSON(bundle)


async def metadata(request: Request) -> Response:
    """Public (a SMART client reads it before it has a token); no patient data."""
    try:
        _query(request, frozenset())
    except BadQuery as bad:
        return outcome(bad.status, bad.problems)
    try:
        version = package_version("optimerge")
    except PackageNotFoundError:
        version = "unknown"
    return FhirJSON(capability_statement(_base(request), version))


async def not_found(request: Request) -> Response:
    return outcome(404, f"there is no FHIR endpoint at {request.url.path} (see /fhir/metadata)")
