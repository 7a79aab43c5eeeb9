"""Deterministic resource identity and the stamp every stored resource carries."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domain.resource_text import links_to_any, resource_texts
from schemas.exact_json import dumps_exact

# Scheme 1 (documents stored before migration 0003): uuid5 of "document|type|local", fields
# joined by an unescaped "|", so two documents could produce the same id. Scheme 2: uuid5 of
# length-prefixed fields with the patient in them, so no two (patient, document, resource)
# triples share an id. Each document keeps the scheme it was first stored with
# (documents.id_scheme), so re-merging it after the upgrade yields the ids it has
# (docs/contract.md#merge-semantics).
RESOURCE_NAMESPACE = uuid.UUID("3c5e0a8e-9f4b-4f61-8d3a-2b7f6a1c9e05")
RESOURCE_NAMESPACE_V2 = uuid.UUID("9b1f4c2e-7a3d-5e60-8f41-c2d5e7a9b3f6")
_NAMESPACE_BYTES = RESOURCE_NAMESPACE.bytes
_NAMESPACE_V2_BYTES = RESOURCE_NAMESPACE_V2.bytes
CURRENT_ID_SCHEME = 2

FhirResource = dict[str, Any]


def document_source(document_id: str) -> str:
    return f"document_{document_id}"


def resource_uuid(name: str, namespace: bytes = _NAMESPACE_BYTES) -> str:
    """str(uuid.uuid5(namespace, name)), without building UUID objects (hot path)."""
    return _uuid5_text(hashlib.sha1(namespace + name.encode()).digest())  # noqa: S324


def _uuid5_text(sha1: bytes) -> str:
    digest = bytearray(sha1[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def unambiguous_name(*parts: str) -> str:
    """Each part prefixed by its length: no two different part lists give the same name."""
    return "".join([f"{len(part)}:{part}" for part in parts])


def resource_ids_for(
    document_id: str,
    resources: Sequence[FhirResource],
    *,
    patient_id: str = "",
    scheme: int = CURRENT_ID_SCHEME,
) -> list[str]:
    """Ids derived from the patient, the document, the type and the extractor's id (or the
    ordinal within the type when it gave none or repeats one), so re-processing the same
    extraction yields the same ids; `scheme` 1 gives a pre-0003 document its old ids."""
    if scheme == 1:
        return _scheme_1_ids(document_id, resources)
    seen: set[tuple[str, str]] = set()
    per_type: dict[str, int] = {}
    ids: list[str] = []
    # uuid5 of namespace + unambiguous_name(patient, document, type, *which): the shared
    # prefix is hashed once per document, each resource's tail on a copy (same digest).
    prefix = hashlib.sha1(  # noqa: S324
        _NAMESPACE_V2_BYTES + unambiguous_name(patient_id, document_id).encode()
    )
    for resource in resources:
        resource_type = str(resource["resourceType"])
        ordinal = per_type.get(resource_type, 0)
        per_type[resource_type] = ordinal + 1
        local = resource.get("id")
        if isinstance(local, str) and local and (resource_type, local) not in seen:
            seen.add((resource_type, local))
            kind, value = "id", local
        else:
            kind, value = "n", str(ordinal)
        h = prefix.copy()
        h.update(
            f"{len(resource_type)}:{resource_type}{len(kind)}:{kind}{len(value)}:{value}".encode()
        )
        ids.append(_uuid5_text(h.digest()))
    return ids


def _scheme_1_ids(document_id: str, resources: Sequence[FhirResource]) -> list[str]:
    """The ids of documents stored before migration 0003, exactly as they were derived."""
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
        ids.append(resource_uuid(f"{document_id}|{key}"))
    return ids


def correction_ids_for(
    patient_id: str,
    document_id: str,
    version: int,
    resources: Sequence[FhirResource],
    existing: Iterable[str],
) -> list[str]:
    """A reviewer's resource keeps its stored id when it names one; a new one gets a fresh
    deterministic id tied to the patient, the document and the version it was made against."""
    known = set(existing)
    used: set[str] = set()
    ids: list[str] = []
    for ordinal, resource in enumerate(resources):
        local = resource.get("id")
        if isinstance(local, str) and local in known and local not in used:
            rid = local
        else:
            name = unambiguous_name(patient_id, document_id, "correction", str(version))
            rid = resource_uuid(name + unambiguous_name(str(ordinal)), _NAMESPACE_V2_BYTES)
        used.add(rid)
        ids.append(rid)
    return ids


def content_of(resource: FhirResource) -> bytes:
    """Canonical bytes of a resource without id and meta: what decides 'unchanged'."""
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    return dumps_exact(body, option=orjson.OPT_SORT_KEYS)


def stamp(
    resource: FhirResource,
    *,
    resource_id: str,
    document_id: str,
    version_id: int,
    last_updated: datetime | str,
) -> FhirResource:
    """A copy of the resource as stored: our id, and meta naming its source document.
    `last_updated` may be given already as FHIR text (a batch stamps many with one time)."""
    meta = dict(resource.get("meta") or {})
    meta["source"] = document_source(document_id)
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = (
        last_updated if isinstance(last_updated, str) else fhir_instant(last_updated)
    )
    stamped = dict(resource)
    stamped["id"] = resource_id
    stamped["meta"] = meta
    return stamped


def fhir_instant(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def local_reference_map(resources: Sequence[FhirResource], ids: Sequence[str]) -> dict[str, str]:
    """'Type/<extractor id>' (and 'urn:uuid:<extractor id>') -> 'Type/<stored id>' for the
    resources of one document, so links between them still resolve once stored."""
    mapping: dict[str, str] = {}
    for resource, new_id in zip(resources, ids, strict=True):
        local = resource.get("id")
        if isinstance(local, str) and local:
            target = f"{resource['resourceType']}/{new_id}"
            mapping[f"{resource['resourceType']}/{local}"] = target
            mapping[f"urn:uuid:{local}"] = target
    return mapping


def rewrite_references(value: Any, mapping: dict[str, str]) -> Any:
    """A copy of `value` with every `reference` in `mapping` replaced (shared if unchanged)."""
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item in mapping:
                new: Any = mapping[item]
            else:
                new = rewrite_references(item, mapping)
            changed = changed or new is not item
            out[key] = new
        return out if changed else value
    if isinstance(value, list):
        items = [rewrite_references(item, mapping) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def rewrite_local_references(
    resources: Sequence[FhirResource],
    mapping: dict[str, str],
    texts: Sequence[bytes | None] | None = None,
) -> tuple[list[FhirResource], list[bytes | None]]:
    """Rewrite links between a document's own resources; a C-speed scan of each resource's JSON
    (the event's text when given) finds the few that have one, and only those are walked and
    copied. Returns the resources and the texts still true of them (None where rewritten)."""
    out: list[FhirResource] = []
    out_texts: list[bytes | None] = []
    for n, resource in enumerate(resources):
        text = texts[n] if texts is not None else None
        linked = (
            links_to_any(text, mapping)
            if text is not None
            else links_to_any(dumps_exact(resource), mapping)
        )
        if linked:
            rewritten = rewrite_references(resource, mapping)
            if rewritten is not resource:
                resource, text = rewritten, None
        out.append(resource)
        out_texts.append(text)
    return out, out_texts


@dataclass(frozen=True, slots=True)
class DocumentResources:
    """A document's resources as one merge sees them, worked out once: their stored ids, the
    links between them, and (when the event is at hand) each one's JSON text."""

    ids: list[str]
    local_links: dict[str, str]
    texts: list[bytes] | None


def prepare_resources(
    document_id: str,
    resources: Sequence[FhirResource],
    *,
    patient_id: str,
    scheme: int,
    raw: bytes | None = None,
) -> DocumentResources:
    ids = resource_ids_for(document_id, resources, patient_id=patient_id, scheme=scheme)
    return DocumentResources(
        ids, local_reference_map(resources, ids), resource_texts(raw, resources)
    )
