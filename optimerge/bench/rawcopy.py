"""The limit: the same documents COPYed into one minimal keyed table, nothing else.

Each document is a row of its own (ordinal 0: the event without its resources) and one row per
resource (ordinal 1..n), every body as `jsonb`, primary key (document_id, ordinal): no rules, no
audit, no outputs, no secondary index, no foreign key. The pipeline is measured against this
(issue 17); the own-schema COPY (ceiling.py) measures our rows, not the limit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from optimerge.bench.feed import BenchDocument
from storage.databases import create_database, drop_database
from storage.db import connect

BATCH = 500
TABLE = (
    "CREATE TABLE raw_copy (document_id text NOT NULL, ordinal integer NOT NULL, "
    "resource_type text NOT NULL, body jsonb NOT NULL, PRIMARY KEY (document_id, ordinal))"
)


@contextmanager
def bare_database(server_url: str) -> Iterator[str]:
    """An empty database of its own (no migrations: only the table below), dropped afterwards."""
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name, attempts=240)


def raw_rows(documents: list[BenchDocument]) -> list[list[tuple[str, int, str, str]]]:
    """Per document, its rows: the JSON texts are made here, before the clock starts."""
    out = []
    for d in documents:
        event = orjson.loads(d.payload)
        resources = event.pop("resources")
        rows = [(d.result.document_id, 0, "Document", orjson.dumps(event).decode())]
        rows.extend(
            (d.result.document_id, n, str(r["resourceType"]), orjson.dumps(r).decode())
            for n, r in enumerate(resources, start=1)
        )
        out.append(rows)
    return out


def run_raw_copy(server_url: str, documents: list[BenchDocument]) -> float:
    """Documents per second a plain COPY sustains, BATCH documents per transaction."""
    rows = raw_rows(documents)
    with bare_database(server_url) as url, connect(url) as conn:
        conn.execute(TABLE)
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(
                    "COPY raw_copy (document_id, ordinal, resource_type, body) FROM STDIN"
                ) as copy,
            ):
                for document in rows[start : start + BATCH]:
                    for row in document:
                        copy.write_row(row)
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed
