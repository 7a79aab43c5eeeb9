"""Recording a read of patient data (docs/contract.md#read-audit): one INSERT per request that
shows a patient's record or a document, awaited before the answer goes out, so an answer is
never sent unrecorded (a failed INSERT fails the request)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request

from domain.read_audit import ReadChannel, ReadEntry, clean_user_agent
from storage.read_audit import record_read
from webapp.context import db
from webapp.roles import User


async def audit_read(
    request: Request,
    user: User,
    channel: ReadChannel,
    what: str,
    *,
    patients: Iterable[str] = (),
    documents: Iterable[str] = (),
    count: int = 0,
) -> None:
    entry = ReadEntry(
        actor=user.name,
        actor_role=user.role.value,
        channel=channel,
        what=what,
        patient_ids=tuple(sorted(set(patients))),
        document_ids=tuple(sorted(set(documents))),
        resource_count=count,
        client_addr=request.client.host if request.client else None,
        user_agent=clean_user_agent(request.headers.get("user-agent")),
    )
    await db(request, record_read, entry)
