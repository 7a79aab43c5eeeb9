"""Seed 004 for real: eight writers on overlapping documents of the same patients at once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from contextlib import suppress

from storage.db import connect
from tests.audit_helpers import verify_trail

from ._factories import DocumentNotFoundError, extraction, incoming, merge, rollback

WRITERS = 8
ROUNDS = 25
PATIENTS = ["p-a", "p-b", "p-c"]
DOCUMENTS = [(f"doc-{i}", PATIENTS[i % 3]) for i in range(12)]


def writer(database_url: str, seed: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        with connect(database_url) as conn:
            for _ in range(ROUNDS):
                picks = rng.sample(DOCUMENTS, 4)
                if rng.random() < 0.2:
                    with suppress(DocumentNotFoundError):
                        rollback(conn, picks[0][0], actor=f"w{seed}")
                    continue
                batch = [
                    incoming(extraction(d, p, version=rng.randint(1, 3), n=rng.randint(1, 6)))
                    for d, p in picks
                ]
                merge(conn, batch)
    except BaseException as exc:  # collected and asserted on: nothing may leak out
        errors.append(exc)


def test_eight_concurrent_writers_lose_and_duplicate_nothing(database_url):
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=writer, args=(database_url, seed, errors))
        for seed in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with connect(database_url) as conn:
        docs = conn.execute(
            "SELECT document_id, review_status, is_merged, resource_count, extraction_version "
            "FROM documents"
        ).fetchall()
        per_doc = Counter(
            d for (d,) in conn.execute("SELECT document_id FROM resources").fetchall()
        )
        for document_id, status, is_merged, count, _ in docs:
            expected = count if is_merged else 0
            assert per_doc.get(document_id, 0) == expected, (document_id, status)
        # Every resource row belongs to its document's patient.
        mismatched = conn.execute(
            "SELECT count(*) FROM resources r JOIN documents d USING (document_id) "
            "WHERE r.patient_id <> d.patient_id"
        ).fetchone()
        assert mismatched == (0,)
        assert verify_trail(conn).ok
        seqs = conn.execute(
            "SELECT patient_id, count(*), max(seq) FROM audit_log GROUP BY patient_id"
        ).fetchall()
        assert all(n == top for _, n, top in seqs)
