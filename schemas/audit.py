"""A signed audit checkpoint on audit.checkpoints (docs/contract.md#audit-trail): the newest
position of one patient's audit chain that a verification found intact, written outside the
database so that deleting or rewriting the chain since shows."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from schemas.events import _Event


class AuditCheckpoint(_Event):
    """One patient's verified chain position; the topic is compacted by `patient_id`."""

    patient_id: str = Field(min_length=1)
    # The last verified entry: its `seq` and its MAC (`hash` in the audit table).
    seq: int = Field(ge=1)
    head: str = Field(min_length=1)
    # Entries up to this seq were written before the audit key existed (unkeyed SHA-256).
    legacy_seq: int = Field(default=0, ge=0)
    checkpointed_at: AwareDatetime
    # The audit key that signed this checkpoint, and its HMAC-SHA256 over the fields above.
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    signature: str = Field(pattern=r"^[0-9a-f]{64}$")
