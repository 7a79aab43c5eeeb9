"""The end-state checks of the fault suite, one function each: each returns the problems it
found (an empty list when the invariant holds), so a report can list them all."""

from __future__ import annotations

from collections import Counter

import psycopg

from domain.resources import content_of
from tests.audit_helpers import verify_trail
from tests.faults.feed import Expected, Published


def documents_at_newest_version(
    conn: psycopg.Connection, expected: dict[str, Expected]
) -> list[str]:
    rows = {
        doc: (version, ev, status)
        for doc, version, ev, status in conn.execute(
            "SELECT document_id, version, extraction_version, processing_status FROM documents"
        ).fetchall()
    }
    problems = [f"{doc}: missing" for doc in expected if doc not in rows]
    problems += [f"{doc}: not in the feed" for doc in rows if doc not in expected]
    for doc, want in expected.items():
        got = rows.get(doc)
        if got and got != (want.version, want.extraction_version, "COMPLETE"):
            problems.append(
                f"{doc}: version/extraction_version/status {got}, expected "
                f"{(want.version, want.extraction_version, 'COMPLETE')}"
            )
    return problems


def resources_neither_lost_nor_duplicated(
    conn: psycopg.Connection, expected: dict[str, Expected]
) -> list[str]:
    stored: dict[str, dict[str, bytes]] = {}
    for doc, rid, body in conn.execute("SELECT document_id, resource_id, body FROM resources"):
        stored.setdefault(doc, {})[rid] = content_of(body)
    problems = []
    for doc, want in expected.items():
        got = stored.get(doc, {})
        if got != want.resources:
            problems.append(
                f"{doc}: {len(got)} resources stored, {len(want.resources)} expected "
                f"(missing {sorted(set(want.resources) - set(got))[:3]}, "
                f"extra {sorted(set(got) - set(want.resources))[:3]})"
            )
    return problems


def one_audit_entry_per_change(
    conn: psycopg.Connection, expected: dict[str, Expected]
) -> list[str]:
    counts = Counter(doc for (doc,) in conn.execute("SELECT document_id FROM audit_log").fetchall())
    return [
        f"{doc}: {counts.get(doc, 0)} audit entries, {want.changes} changes"
        for doc, want in expected.items()
        if counts.get(doc, 0) != want.changes
    ]


def chains_verified(conn: psycopg.Connection) -> list[str]:
    report = verify_trail(conn)
    return [f"{b.patient_id} seq {b.seq}: {b.reason}" for b in report.breaks]


def every_action_decided_once(conn: psycopg.Connection, published: list[Published]) -> list[str]:
    rows = dict(conn.execute("SELECT action_id::text, outcome FROM review_actions").fetchall())
    actions = [p.action_id for p in published if p.action_id]
    problems = [f"action {a}: never decided" for a in actions if a not in rows]
    problems += [f"action {a}: {rows[a]}" for a in actions if rows.get(a, "applied") != "applied"]
    duplicates = [a for a, n in Counter(actions).items() if n > 1]
    return problems + [f"action {a} published twice" for a in duplicates]


def no_worker_exited_by_itself(unexpected_exits: list[str]) -> list[str]:
    return list(unexpected_exits)
