"""The Bundles the /fhir/ API answers with (searchset, history) and their paging links (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from domain.bundle import iso
from domain.fhir_ai import Extraction, decorate
from domain.resources import RESOURCE_NAMESPACE, FhirResource


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a resource as the API shows it; `resource` None for a deletion."""

    resource_type: str
    resource_id: str
    version_id: int
    resource: FhirResource | None
    at: datetime


def stored_resource(body: FhirResource, facts: Extraction, *, current: bool) -> FhirResource:
    """A stored version with the AI transparency labels of its document."""
    return decorate(body, facts, current=current)


def patient_version(updated_at: datetime) -> str:
    """The Patient's version: its row's last change in microseconds (no history is kept)."""
    return str(int(updated_at.timestamp() * 1_000_000))


def patient_resource(patient_id: str, record: FhirResource, updated_at: datetime) -> FhirResource:
    meta = dict(record.get("meta") or {})
    meta["versionId"] = patient_version(updated_at)
    meta["lastUpdated"] = iso(updated_at)
    return {**record, "resourceType": "Patient", "id": patient_id, "meta": meta}


def page_links(
    url: str, used: Sequence[tuple[str, str]], count: int, offset: int, total: int
) -> list[FhirResource]:
    """self, first, previous, next, last: the honoured parameters with _count and _offset."""
    kept = [(k, v) for k, v in used if k not in ("_count", "_offset")]

    def link(relation: str, at: int) -> FhirResource:
        query = urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{url}?{query}"}

    links = [link("self", offset)]
    if count <= 0:
        return links
    last = max(0, (total - 1) // count * count)
    links.append(link("first", 0))
    if offset > 0:
        links.append(link("previous", max(0, min(offset - count, last))))
    if offset + count < total:
        links.append(link("next", offset + count))
    links.append(link("last", last))
    return links


def _bundle_id(kind: str, url: str, now: datetime) -> str:
    return str(uuid.uuid5(RESOURCE_NAMESPACE, f"{kind}|{url}|{iso(now)}"))


def searchset(
    base: str,
    url: str,
    matches: Sequence[FhirResource],
    *,
    total: int,
    links: list[FhirResource],
    now: datetime,
    included: Sequence[FhirResource] = (),
) -> FhirResource:
    entries = [_entry(base, r, "match") for r in matches]
    entries += [_entry(base, r, "include") for r in included]
    bundle: FhirResource = {
        "resourceType": "Bundle",
        "id": _bundle_id("searchset", url, now),
        "meta": {"lastUpdated": iso(now)},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def _entry(base: str, resource: FhirResource, mode: str) -> FhirResource:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def history(
    base: str, url: str, versions: Sequence[Version], *, total: int, links: list[Any], now: datetime
) -> FhirResource:
    """A `history` Bundle, newest first; a deletion is an entry with request DELETE only."""
    entries: list[FhirResource] = []
    for v in versions:
        ref = f"{v.resource_type}/{v.resource_id}"
        if v.resource is None:
            entries.append(
                {
                    "request": {"method": "DELETE", "url": ref},
                    "response": {"status": "204", "lastModified": iso(v.at)},
                }
            )
            continue
        entries.append(
            {
                "fullUrl": f"{base}/{ref}",
                "resource": v.resource,
                "request": {"method": "POST" if v.version_id == 1 else "PUT", "url": ref},
                "response": {
                    "status": "201" if v.version_id == 1 else "200",
                    "etag": f'W/"{v.version_id}"',
                    "lastModified": iso(v.at),
                },
            }
        )
    bundle: FhirResource = {
        "resourceType": "Bundle",
        "id": _bundle_id("history", url, now),
        "meta": {"lastUpdated": iso(now)},
        "type": "history",
        "total": total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle
