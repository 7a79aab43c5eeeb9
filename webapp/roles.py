"""Who may do what: three roles, a handful of permissions (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_QUEUE = "view_queue"  # dashboard, flagged list, verify page, document API
    ACT = "act"  # mark correct, correct data, remove from record
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    # Patient records over the FHIR API (webapp/fhir/). Every role reads records already (the
    # document API, the bundle); a role for other systems may get this alone.
    READ_RECORDS = "read_records"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset({Permission.VIEW_QUEUE, Permission.ACT, Permission.READ_RECORDS}),
    # Compliance officers read everything and change nothing.
    Role.AUDITOR: frozenset(
        {Permission.VIEW_QUEUE, Permission.VIEW_AUDIT, Permission.READ_RECORDS}
    ),
    Role.ADMIN: frozenset(Permission),
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
