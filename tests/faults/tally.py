"""The figures of a checkpoint: the record against what the feed published so far, counted as
lost (a document behind its newest version, a resource or audit entry missing, an action never
decided, a change never announced) and duplicated (a version too many, a resource or audit entry
too many, two differing copies of one output id); and every problem in words."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import psycopg

from domain.resources import content_of
from tests.faults import invariants
from tests.faults.feed import Expected, Published
from tests.faults.outputs import OutputLedger


@dataclass
class Tally:
    documents: int = 0
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    outputs: int = 0
    redelivered_outputs: int = 0
    superseded_unannounced: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not any(self.problems.values())


def _documents(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> None:
    rows = dict(conn.execute("SELECT document_id, version FROM documents").fetchall())
    for doc, want in expected.items():
        got = rows.get(doc, 0)
        t.lost += max(0, want.version - got)
        t.duplicated += max(0, got - want.version)
    t.duplicated += sum(1 for doc in rows if doc not in expected)


def _resources(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> None:
    stored: dict[str, dict[str, bytes]] = {}
    for doc, rid, body in conn.execute("SELECT document_id, resource_id, body FROM resources"):
        stored.setdefault(doc, {})[rid] = content_of(body)
    for doc, want in expected.items():
        got = stored.get(doc, {})
        t.lost += len(set(want.resources) - set(got))
        t.lost += sum(1 for rid in want.resources if rid in got and got[rid] != want.resources[rid])
        t.duplicated += len(set(got) - set(want.resources))


def _audit(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> None:
    counts = Counter(doc for (doc,) in conn.execute("SELECT document_id FROM audit_log").fetchall())
    for doc, want in expected.items():
        t.lost += max(0, want.changes - counts.get(doc, 0))
        t.duplicated += max(0, counts.get(doc, 0) - want.changes)


def tally(
    conn: psycopg.Connection,
    expected: dict[str, Expected],
    published: list[Published],
    ledger: OutputLedger,
) -> Tally:
    t = Tally(documents=len(expected), events=len(published))
    _documents(conn, expected, t)
    _resources(conn, expected, t)
    _audit(conn, expected, t)
    undecided = invariants.every_action_decided_once(conn, published)
    t.lost += sum(1 for p in undecided if p.endswith("never decided"))
    ledger.catch_up()
    unannounced = ledger.unannounced(expected)
    conflicting = ledger.conflicting()
    t.lost += len(unannounced)
    t.duplicated += len(conflicting)
    t.outputs, t.redelivered_outputs = ledger.messages, ledger.redelivered()
    t.superseded_unannounced = ledger.superseded_unannounced(expected)
    t.problems = {
        "documents at newest version once": invariants.documents_at_newest_version(conn, expected),
        "resources not lost nor duplicated": invariants.resources_neither_lost_nor_duplicated(
            conn, expected
        ),
        "one audit entry per change": invariants.one_audit_entry_per_change(conn, expected),
        "audit chains verified": invariants.chains_verified(conn),
        "every action applied once": undecided,
        "newest version of each announced": unannounced,
        "outputs deduplicable by id": conflicting,
    }
    return t
