"""The audit key every test process shares (tests/fix_infra.py sets it), and the trail checked
the way `optimerge audit verify --full` does, with no checkpoint."""

from __future__ import annotations

import psycopg

from domain.audit_checkpoints import Checkpoints
from domain.audit_keys import AuditKeyring
from domain.audit_verify import VerifyReport
from pipeline.audit_check import verify_audit
from tests.fix_infra import TEST_AUDIT_KEY


def shared_keyring() -> AuditKeyring:
    return AuditKeyring.from_secrets(TEST_AUDIT_KEY)


def verify_trail(conn: psycopg.Connection, patient_id: str | None = None) -> VerifyReport:
    return verify_audit(
        conn, shared_keyring(), Checkpoints({}, []), full=True, patient_id=patient_id
    )
