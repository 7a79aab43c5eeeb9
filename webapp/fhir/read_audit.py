"""The one place a FHIR read of patient data is recorded: every /fhir/ endpoint that answers
with PHI calls `record_read` exactly once, with what it is about to send.

A no-op today: the read audit (every read of PHI in the audit trail) has not landed. When it
does, this function writes its entry (who, when, which patients and resources) and nothing else
in the FHIR module changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from webapp.roles import User


def record_read(
    request: Request, user: User, interaction: str, resources: Sequence[dict[str, Any]]
) -> None:
    """`interaction`: read, vread, history, search or everything; `resources`: the resources
    in the answer (their ids, types and meta.source name the patients and documents)."""
    del request, user, interaction, resources
