"""What the audit page says about the trail's integrity, without recomputing any chain: the
newest signed verification record of `optimerge audit checkpoint` (docs/contract.md#audit-trail),
judged for its signature and its age; for a page about one patient, that patient's chain
recomputed now (one chain is cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain.audit_checkpoints import record_valid
from domain.audit_keys import AuditKeyring
from domain.audit_verify import VerifyReport, break_json
from storage.audit_verifications import StoredVerification


@dataclass(frozen=True, slots=True)
class AuditState:
    # None: never verified, or the record cannot be trusted (see `problem`).
    ok: bool | None
    verified_at: datetime | None = None
    stale: bool = False
    mode: str | None = None
    patients: int = 0
    entries: int = 0
    breaks: list[dict[str, Any]] = field(default_factory=list)
    breaks_total: int = 0
    problem: str | None = None
    # The one patient of a filtered page, checked now.
    patient: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "stale": self.stale,
            "mode": self.mode,
            "patients": self.patients,
            "entries": self.entries,
            "breaks": self.breaks,
            "breaks_total": self.breaks_total,
            "problem": self.problem,
            "patient": self.patient,
        }


def audit_state(
    stored: StoredVerification | None,
    keyring: AuditKeyring,
    *,
    now: datetime,
    stale_after: timedelta,
    patient: VerifyReport | None = None,
) -> AuditState:
    checked = None if patient is None else _patient_check(patient)
    if stored is None:
        return AuditState(
            None,
            problem="not verified yet: `optimerge audit checkpoint` verifies the trail every "
            "minute (`optimerge run` starts it)",
            patient=checked,
        )
    if not record_valid(keyring, stored.record, stored.key_id, stored.signature):
        return AuditState(
            False,
            verified_at=stored.verified_at,
            problem="the newest verification record does not carry a valid signature: it was "
            "forged or altered in the database",
            patient=checked,
        )
    record = orjson.loads(stored.record)
    stale = now - stored.verified_at > stale_after
    return AuditState(
        bool(record["ok"]) and (checked is None or checked["ok"]),
        verified_at=stored.verified_at,
        stale=stale,
        mode=record.get("mode"),
        patients=int(record.get("patients", 0)),
        entries=int(record.get("entries", 0)),
        breaks=list(record.get("breaks", [])),
        breaks_total=int(record.get("breaks_total", 0)),
        patient=checked,
    )


def _patient_check(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "entries": report.entries,
        "breaks": [break_json(b) for b in report.breaks],
    }
