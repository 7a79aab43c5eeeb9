"""The one place a FHIR read of patient data is recorded: every /fhir/ endpoint that answers
with PHI awaits `record_read` exactly once, with what it is about to send
(docs/contract.md#read-audit). A search returning many resources is one entry naming their
patients and the count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from domain.read_audit import ReadChannel, fhir_subjects
from webapp.read_audit import audit_read
from webapp.roles import User


async def record_read(
    request: Request,
    user: User,
    interaction: str,
    resources: Sequence[dict[str, Any]],
    *,
    patient_id: str | None = None,
) -> None:
    """`interaction`: read, vread, history, search or everything; `resources`: the resources
    in the answer (their ids, types and meta.source name the patients and documents);
    `patient_id`: the patient the request names ($everything)."""
    patients, documents = fhir_subjects(resources)
    await audit_read(
        request,
        user,
        ReadChannel.FHIR,
        f"fhir_{interaction}",
        patients=[*patients, *([patient_id] if patient_id else [])],
        documents=documents,
        count=len(resources),
    )
