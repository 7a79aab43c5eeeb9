"""The database roles hold exactly the privileges docs/contract.md#database-roles gives them: a
table nobody decided on (a new migration's) fails here, rather than open or closed by chance."""

from __future__ import annotations

import psycopg

from config import ResolvedSettings
from storage.db import connect
from storage.roles import APP_ROLE, WORKER_ROLE

SEL, INS, UPD, DEL = "SELECT", "INSERT", "UPDATE", "DELETE"
# Table-level privileges; column-level ones are checked below.
EXPECTED: dict[str, dict[str, set[str]]] = {
    WORKER_ROLE: {
        "patients": {SEL},
        "documents": {SEL, INS, UPD},
        "resources": {SEL, INS, DEL},
        "resource_history": {SEL, INS},
        "review_actions": {SEL, INS},
        "review_action_receipts": {SEL, INS},
        "rule_sets": {SEL},
        "rule_set_activations": {SEL},
        "review_verdicts": {INS},
        "_yoyo_migration": {SEL},
        "_yoyo_version": {SEL},
    },
    APP_ROLE: {
        "patients": {SEL},
        "documents": {SEL},
        "resources": {SEL},
        "resource_history": {SEL},
        "review_actions": {SEL},
        "audit_log": {SEL},
        "users": {SEL, INS, UPD, DEL},
        "api_tokens": {SEL, INS},
        "app_sessions": {SEL, INS, DEL},
        "login_throttle": {SEL, INS, DEL},
        "metrics_windows": {SEL, INS},
        "dlq_retries": {SEL, INS},
        "notification_deliveries": {SEL, INS},
        "read_audit": {SEL, INS},
        "audit_verifications": {SEL, INS},
        "rule_sets": {SEL, INS},
        "rule_set_activations": {SEL, INS},
        "review_verdicts": {SEL},
        "_yoyo_migration": {SEL},
        "_yoyo_version": {SEL},
    },
}
COLUMNS = {
    (WORKER_ROLE, "patients", INS): {"patient_id", "record", "family", "given", "birth_date"},
    (WORKER_ROLE, "patients", UPD): {"record", "family", "given", "birth_date", "updated_at"},
    (WORKER_ROLE, "review_verdicts", SEL): {"action_id"},
    (APP_ROLE, "patients", INS): {"patient_id"},
    (APP_ROLE, "patients", UPD): {"updated_at"},
    (APP_ROLE, "dlq_retries", UPD): {"state", "replay_partition", "replay_offset"},
    (APP_ROLE, "api_tokens", UPD): {"last_used_at", "revoked_at"},
    (APP_ROLE, "app_sessions", UPD): {"last_seen_at"},
    (APP_ROLE, "login_throttle", UPD): {"failures", "last_failure_at", "blocked_until"},
}


def _table_privileges(conn: psycopg.Connection, role: str) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT c.relname, p.privilege FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', "
        "'REFERENCES', 'TRIGGER']) AS p(privilege) "
        "WHERE c.relkind = 'r' AND has_table_privilege(%s, c.oid, p.privilege)",
        (role,),
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, privilege in rows:
        found.setdefault(table, set()).add(privilege)
    return found


def test_each_role_may_do_what_its_code_does_and_nothing_more(settings: ResolvedSettings) -> None:
    with connect(settings.migration_url) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        undecided = tables - set(EXPECTED[WORKER_ROLE]) - set(EXPECTED[APP_ROLE]) - {
            "audit_log", "users", "api_tokens", "metrics_windows", "dlq_retries",
            "notification_deliveries", "read_audit", "audit_verifications", "yoyo_lock",
            "_yoyo_log",
        }  # fmt: skip
        assert undecided == set(), "tables without a privilege decision (migrations 0007, 0010)"
        for role, expected in EXPECTED.items():
            assert _table_privileges(conn, role) == expected, role
        for (role, table, privilege), columns in COLUMNS.items():
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND has_column_privilege(%s, %s, column_name, %s)",
                (table, role, table, privilege),
            ).fetchall()
            assert {r[0] for r in rows} == columns, (role, table, privilege)
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        assert {WORKER_ROLE, APP_ROLE}.isdisjoint(o[0] for o in owners)
        [(definer, config, public_may)] = conn.execute(
            "SELECT prosecdef, proconfig, has_function_privilege('public', p.oid, 'EXECUTE') "
            "FROM pg_proc p WHERE proname = 'audit_append'"
        ).fetchall()
        assert definer and config == ["search_path=pg_catalog, public, pg_temp"]
        assert not public_may
        for role in (WORKER_ROLE, APP_ROLE):
            may = conn.execute(
                "SELECT has_function_privilege(%s, 'audit_append(jsonb)', 'EXECUTE'), "
                "has_schema_privilege(%s, 'public', 'CREATE')",
                (role, role),
            ).fetchone()
            assert may == (True, False), role
