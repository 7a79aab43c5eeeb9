"""Rule-set versions and their activations: appended, never changed (docs/contract.md#rule-sets)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from domain.rule_sets import SETTINGS_VERSION, Activation, RuleSet, RuleSetVersion
from domain.thresholds import RuleThresholds
from storage.db import Send


class UnknownRuleSetError(LookupError):
    """No rule set has this version number."""


_ACTIVE_VERSION = "SELECT version FROM rule_set_activations ORDER BY activation_id DESC LIMIT 1"


def active_version(cur: psycopg.Cursor) -> int:
    """The version activated last (0, the settings' thresholds, while none was)."""
    return _version(cur.execute(_ACTIVE_VERSION).fetchall())


def send_active_version(send: Send) -> Callable[[], int]:
    """`active_version`, sent with other queries (`storage.db.sent_together`): read it once
    they have been answered."""
    sent = send(_ACTIVE_VERSION, ())

    return lambda: _version(sent.rows())


def _version(rows: Sequence[tuple[Any, ...]]) -> int:
    return SETTINGS_VERSION if not rows else int(rows[0][0])


def load_rule_set(cur: psycopg.Cursor, version: int) -> RuleSet:
    row = cur.execute(
        "SELECT thresholds, by_model FROM rule_sets WHERE version = %s", (version,)
    ).fetchone()
    if row is None:
        raise UnknownRuleSetError(f"rule set version {version} does not exist")
    return _rule_set(version, row[0], row[1])


def _rule_set(version: int, thresholds: Any, by_model: Any) -> RuleSet:
    return RuleSet(
        version,
        RuleThresholds.model_validate(thresholds),
        {model: RuleThresholds.model_validate(t) for model, t in (by_model or {}).items()},
    )


def create_rule_set(
    conn: psycopg.Connection,
    *,
    thresholds: RuleThresholds,
    by_model: Mapping[str, RuleThresholds],
    created_by: str,
    reason: str,
    now: datetime,
    expected: Mapping[str, Any] | None = None,
) -> int:
    """Store a new version (the next number) and return it; it judges nothing until applied."""
    with conn.transaction(), conn.cursor() as cur:
        # One writer at a time: the next number is max + 1 with no gap and no race. An advisory
        # lock, as LOCK TABLE would need UPDATE on a table the app may only append to.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('optimerge.rule_sets'))")
        row = cur.execute("SELECT coalesce(max(version), 0) + 1 FROM rule_sets").fetchone()
        version = int(row[0]) if row else 1
        cur.execute(
            "INSERT INTO rule_sets (version, thresholds, by_model, created_by, created_at, "
            "reason, expected) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                version,
                Jsonb(thresholds.model_dump()),
                Jsonb({m: t.model_dump() for m, t in sorted(by_model.items())}),
                created_by,
                now,
                reason,
                Jsonb(dict(expected or {})),
            ),
        )
    return version


def activate(
    conn: psycopg.Connection, version: int, *, activated_by: str, reason: str, now: datetime
) -> Activation:
    """Make `version` the one that judges (0: the settings' thresholds again)."""
    with conn.transaction(), conn.cursor() as cur:
        if version != SETTINGS_VERSION:
            load_rule_set(cur, version)  # a clear error rather than the trigger's
        cur.execute(
            "INSERT INTO rule_set_activations (version, activated_by, activated_at, reason) "
            "VALUES (%s, %s, %s, %s)",
            (version, activated_by, now, reason),
        )
    return Activation(version, activated_by, now, reason)


def rule_set_versions(conn: psycopg.Connection) -> list[RuleSetVersion]:
    """Every stored version, newest first, the active one marked."""
    with conn.cursor() as cur:
        active = active_version(cur)
        rows = cur.execute(
            "SELECT version, thresholds, by_model, created_by, created_at, reason, expected "
            "FROM rule_sets ORDER BY version DESC"
        ).fetchall()
    return [
        RuleSetVersion(
            rule_set=_rule_set(version, thresholds, by_model),
            created_by=created_by,
            created_at=created_at,
            reason=reason,
            expected=expected or {},
            active=version == active,
        )
        for version, thresholds, by_model, created_by, created_at, reason, expected in rows
    ]


def activations(conn: psycopg.Connection, limit: int = 50) -> list[Activation]:
    """The latest activations, newest first."""
    rows = conn.execute(
        "SELECT version, activated_by, activated_at, reason FROM rule_set_activations "
        "ORDER BY activation_id DESC LIMIT %s",
        (limit,),
    ).fetchall()
    return [Activation(v, by, at, why) for v, by, at, why in rows]
