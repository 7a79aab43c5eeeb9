"""The figures of a checkpoint: the record against what the feed published so far, counted as
lost (a document behind its newest version, a resource or audit entry missing, an action never
decided, a document whose newest state was never announced) and duplicated (a version too many,
a resource or audit entry too many, two differing copies of one output id); and every problem in
words. One query per table: a checkpoint runs after every fault."""

from __future__ import annotations

import time
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
    # How long each check took (a checkpoint follows every fault).
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not any(self.problems.values())


def _documents(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> list[str]:
    rows = {
        doc: (version, ev, status)
        for doc, version, ev, status in conn.execute(
            "SELECT document_id, version, extraction_version, processing_status FROM documents"
        ).fetchall()
    }
    problems = [f"{doc}: not in the feed" for doc in rows if doc not in expected]
    t.duplicated += len(problems)
    for doc, want in expected.items():
        got = rows.get(doc)
        if got is None:
            t.lost += want.version
            problems.append(f"{doc}: missing")
            continue
        t.lost += max(0, want.version - got[0])
        t.duplicated += max(0, got[0] - want.version)
        if got != (want.version, want.extraction_version, "COMPLETE"):
            problems.append(
                f"{doc}: version/extraction_version/status {got}, expected "
                f"{(want.version, want.extraction_version, 'COMPLETE')}"
            )
    return problems


def _resources(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> list[str]:
    stored: dict[str, dict[str, bytes]] = {}
    for doc, rid, body in conn.execute("SELECT document_id, resource_id, body FROM resources"):
        stored.setdefault(doc, {})[rid] = content_of(body)
    problems = []
    for doc, want in expected.items():
        got = stored.get(doc, {})
        if got == want.resources:
            continue
        missing = set(want.resources) - set(got)
        extra = set(got) - set(want.resources)
        changed = [r for r in want.resources if r in got and got[r] != want.resources[r]]
        t.lost += len(missing) + len(changed)
        t.duplicated += len(extra)
        problems.append(
            f"{doc}: missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}, "
            f"changed {changed[:3]}"
        )
    return problems


def _audit(conn: psycopg.Connection, expected: dict[str, Expected], t: Tally) -> list[str]:
    counts = Counter(doc for (doc,) in conn.execute("SELECT document_id FROM audit_log").fetchall())
    problems = []
    for doc, want in expected.items():
        got = counts.get(doc, 0)
        if got != want.changes:
            t.lost += max(0, want.changes - got)
            t.duplicated += max(0, got - want.changes)
            problems.append(f"{doc}: {got} audit entries, {want.changes} changes")
    return problems


def tally(
    conn: psycopg.Connection,
    expected: dict[str, Expected],
    published: list[Published],
    ledger: OutputLedger,
    *,
    final: bool = False,
) -> Tally:
    """`final`: nothing publishes any more, so the output topics are read to their very end."""
    t = Tally(documents=len(expected), events=len(published))
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        t.seconds[name] = round(time.monotonic() - clock, 2)
        clock = time.monotonic()

    documents = _documents(conn, expected, t)
    lap("documents")
    resources = _resources(conn, expected, t)
    lap("resources")
    audit = _audit(conn, expected, t)
    undecided = invariants.every_action_decided_once(conn, published)
    t.lost += sum(1 for p in undecided if p.endswith("never decided"))
    lap("audit+actions")
    chains = invariants.chains_verified(conn)
    lap("chains")
    if final:
        ledger.catch_up()
    else:
        ledger.until_announced(expected)
    lap("outputs")
    unannounced = ledger.unannounced(expected)
    conflicting = ledger.conflicting()
    t.lost += len(unannounced)
    t.duplicated += len(conflicting)
    t.outputs, t.redelivered_outputs = ledger.messages, ledger.redelivered()
    t.superseded_unannounced = ledger.superseded_unannounced(expected)
    t.problems = {
        "documents at newest version once": documents,
        "resources not lost nor duplicated": resources,
        "one audit entry per change": audit,
        "audit chains verified": chains,
        "every action applied once": undecided,
        "newest version of each announced": unannounced,
        "outputs deduplicable by id": conflicting,
    }
    return t
