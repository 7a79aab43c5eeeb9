"""What the FHIR endpoints answer with, loaded from storage and shown as FHIR: every version of
one resource (stored or derived), and one page of a search."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from domain.bundle import provenance_for
from domain.fhir_ai import ai_device
from domain.fhir_bundles import Version, patient_resource, stored_resource
from domain.fhir_search import Query
from storage import fhir as store
from storage import fhir_derived as derived
from webapp.context import ctx, db
from webapp.fhir.outcome import FhirProblem


def gone(resource_type: str, resource_id: str) -> FhirProblem:
    return FhirProblem(
        410,
        f"{resource_type}/{resource_id} was removed from the record (its document was rolled "
        "back, or re-extracted without it); its history remains at _history",
    )


async def versions_of(request: Request, resource_type: str, resource_id: str) -> list[Version]:
    """Every version, newest first; raises 404 when there never was one."""
    missing = FhirProblem(404, f"{resource_type}/{resource_id} does not exist")
    if resource_type == "Patient":
        row = await db(request, derived.read_patient, resource_id)
        if row is None:
            raise missing
        patient = patient_resource(row.patient_id, row.record, row.updated_at)
        version = int(patient["meta"]["versionId"])
        return [Version(resource_type, resource_id, version, patient, row.updated_at)]
    if resource_type == "Provenance":
        found = await db(request, derived.read_provenance, resource_id)
        if found is None:
            raise missing
        if isinstance(found, str):
            raise gone(resource_type, resource_id)
        provenance = provenance_for(found)
        at = found.updated_at or ctx(request).clock()
        return [Version(resource_type, resource_id, found.version, provenance, at)]
    stored = await db(request, store.stored_history, resource_type, resource_id)
    if stored:
        return [
            Version(
                resource_type,
                resource_id,
                s.version_id,
                None if s.body is None else stored_resource(s.body, s.facts, current=s.current),
                s.last_updated,
            )
            for s in stored
        ]
    if resource_type == "Device":
        model = await db(request, derived.read_model, resource_id)
        if model is not None:
            return [Version(resource_type, resource_id, 1, ai_device(*model), ctx(request).clock())]
    raise missing


async def search_page(
    request: Request, resource_type: str, query: Query
) -> tuple[int, list[dict[str, Any]]]:
    if resource_type == "Patient":
        patients = await db(request, derived.search_patients, query)
        found = [patient_resource(p.patient_id, p.record, p.updated_at) for p in patients.items]
        return patients.total, found
    if resource_type == "Provenance":
        provenance = await db(request, derived.search_provenance, query)
        return provenance.total, [provenance_for(c) for c in provenance.items]
    stored = await db(request, store.search_stored, resource_type, query)
    items = [stored_resource(s.body, s.facts, current=True) for s in stored.items if s.body]
    return stored.total, items
