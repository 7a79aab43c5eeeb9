"""Deterministic resource identity and the stamp every stored resource carries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

RESOURCE_NAMESPACE = uuid.UUID("3c5e0a8e-9f4b-4f61-8d3a-2b7f6a1c9e05")

FhirResource = dict[str, Any]


def document_source(document_id: str) -> str:
    return f"document_{document_id}"


def resource_ids_for(document_id: str, resources: Sequence[FhirResource]) -> list[str]:
    """Ids derived from the document, the type and the extractor's id (or the ordinal within the
    type when it gave none), so re-processing the same extraction yields the same ids."""
    seen: set[str] = set()
    per_type: dict[str, int] = {}
    ids: list[str] = []
    for resource in resources:
        resource_type = str(resource["resourceType"])
        ordinal = per_type.get(resource_type, 0)
        per_type[resource_type] = ordinal + 1
        local = resource.get("id")
        key = f"{resource_type}|{local}" if isinstance(local, str) and local else None
        if key is None or key in seen:
            key = f"{resource_type}|#{ordinal}"
        seen.add(key)
        ids.append(str(uuid.uuid5(RESOURCE_NAMESPACE, f"{document_id}|{key}")))
    return ids


def correction_ids_for(
    document_id: str, version: int, resources: Sequence[FhirResource], existing: Iterable[str]
) -> list[str]:
    """A reviewer's resource keeps its stored id when it names one; a new one gets a fresh
    deterministic id tied to the document version it was made against."""
    known = set(existing)
    used: set[str] = set()
    ids: list[str] = []
    for ordinal, resource in enumerate(resources):
        local = resource.get("id")
        if isinstance(local, str) and local in known and local not in used:
            rid = local
        else:
            key = f"{document_id}|correction|{version}|{ordinal}"
            rid = str(uuid.uuid5(RESOURCE_NAMESPACE, key))
        used.add(rid)
        ids.append(rid)
    return ids


def content_of(resource: FhirResource) -> bytes:
    """Canonical bytes of a resource without id and meta: what decides 'unchanged'."""
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def stamp(
    resource: FhirResource,
    *,
    resource_id: str,
    document_id: str,
    version_id: int,
    last_updated: datetime,
) -> FhirResource:
    """A copy of the resource as stored: our id, and meta naming its source document."""
    meta = dict(resource.get("meta") or {})
    meta["source"] = document_source(document_id)
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = last_updated.isoformat().replace("+00:00", "Z")
    stamped = dict(resource)
    stamped["id"] = resource_id
    stamped["meta"] = meta
    return stamped
