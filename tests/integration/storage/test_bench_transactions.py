"""The bench's count of worker transactions (optimerge/bench/pipeline.py) on real PostgreSQL."""

from __future__ import annotations

from optimerge.bench.pipeline import transactions
from storage.db import connect

from ._factories import extraction, incoming, merge


def test_documents_written_together_count_as_one_transaction(database_url: str) -> None:
    with connect(database_url) as conn:
        merge(conn, [incoming(extraction(f"tx-a-{n}", f"p-{n}")) for n in range(3)])
        merge(conn, [incoming(extraction("tx-a-3", "p-3")), incoming(extraction("tx-a-4"))])
        merge(conn, [incoming(extraction("other-1"))])
    assert transactions(database_url, "tx-a-") == (5, 2)
    assert transactions(database_url, "none-") == (0, 0)
