"""Who may do what: four roles, a handful of permissions (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    OPERATOR = "operator"


class Permission(StrEnum):
    VIEW_QUEUE = "view_queue"  # dashboard, flagged list, verify page, document API
    ACT = "act"  # mark correct, correct data, remove from record
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    # Patient records over the FHIR API (webapp/fhir/). Every role reads records already (the
    # document API, the bundle); a role for other systems may get this alone.
    READ_RECORDS = "read_records"
    # Processing status of a document (ids, times, errors: no patient data).
    VIEW_STATUS = "view_status"
    VIEW_OPS = "view_ops"  # the operator console, health, dead letters without their payload
    RETRY_DEAD_LETTERS = "retry_dead_letters"
    # A dead letter's payload is the event as sent: patient data.
    VIEW_DEAD_LETTER_PAYLOAD = "view_dead_letter_payload"
    # Store and activate rule-set versions (the flag rules' thresholds): admins only.
    MANAGE_RULE_SETS = "manage_rule_sets"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset(
        {Permission.VIEW_QUEUE, Permission.ACT, Permission.READ_RECORDS, Permission.VIEW_STATUS}
    ),
    # Compliance officers read everything and change nothing.
    Role.AUDITOR: frozenset(
        {
            Permission.VIEW_QUEUE,
            Permission.VIEW_AUDIT,
            Permission.READ_RECORDS,
            Permission.VIEW_STATUS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
    # Operators run the pipeline: console, health, retries; no patient data, no reviews.
    Role.OPERATOR: frozenset(
        {Permission.VIEW_OPS, Permission.RETRY_DEAD_LETTERS, Permission.VIEW_STATUS}
    ),
}


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}: choose one of {choices}") from None
