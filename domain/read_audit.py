"""Who read which patient's record or document, when and from where (pure): one entry per
request, written before the answer goes out (docs/contract.md#read-audit)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.resources import document_source

MAX_USER_AGENT_CHARS = 256
_SOURCE_PREFIX = document_source("")


class ReadChannel(StrEnum):
    PAGE = "page"
    API = "api"
    FHIR = "fhir"
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class ReadEntry:
    actor: str
    # The app role of the actor (reviewer, auditor, admin, operator), or `cli`.
    actor_role: str
    channel: ReadChannel
    # What was shown: verify_page, document, bundle, dlq_payload, document_show,
    # patient_bundle, or fhir_<interaction> (read, vread, history, search, everything).
    what: str
    patient_ids: tuple[str, ...] = ()
    document_ids: tuple[str, ...] = ()
    resource_count: int = 0
    client_addr: str | None = None
    user_agent: str | None = None


def clean_user_agent(value: str | None) -> str | None:
    """A User-Agent as a person reads it: printable, at most 256 characters."""
    if not value:
        return None
    printable = "".join(c for c in value if c.isprintable())
    return printable[:MAX_USER_AGENT_CHARS] or None


def _patient_reference(value: Any) -> str | None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.removeprefix("Patient/") or None
    return None


def fhir_subjects(resources: Iterable[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(patients, documents) the resources of a FHIR answer name: a Patient's id, a `subject`
    or `patient` reference, and the document in `meta.source`. The documents' patients are
    added where the entry is written."""
    patients: set[str] = set()
    documents: set[str] = set()
    for resource in resources:
        if resource.get("resourceType") == "Patient" and isinstance(resource.get("id"), str):
            patients.add(resource["id"])
        for field in ("subject", "patient"):
            if (found := _patient_reference(resource.get(field))) is not None:
                patients.add(found)
        source = (resource.get("meta") or {}).get("source")
        if isinstance(source, str) and source.startswith(_SOURCE_PREFIX):
            documents.add(source.removeprefix(_SOURCE_PREFIX))
    return sorted(patients), sorted(documents)
