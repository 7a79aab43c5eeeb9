"""The database roles migration 0007 grants to (docs/contract.md#database-roles): cluster-wide
names, so one PostgreSQL cluster serves one optimerge deployment."""

from __future__ import annotations

# Merges, reviews, failures, the legacy import: appends to the audit trail, never alters it.
WORKER_ROLE = "optimerge_worker"
# The app, the notifier, `audit verify|checkpoint` and the reading commands.
APP_ROLE = "optimerge_app"
