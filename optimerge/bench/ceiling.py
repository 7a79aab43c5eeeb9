"""Our own schema's ceiling: the rows the pipeline writes (documents, resources, audit), COPYed
in with no Kafka and no rules. It measures our schema, not the limit (rawcopy.py is that)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from domain.audit import SYSTEM_ACTOR, AuditAction, AuditEntry, chain_hash
from domain.documents import extraction_head
from domain.merge_plan import plan_merge
from domain.reports import content_hash
from optimerge.bench.feed import BenchDocument
from schemas import ActorKind
from storage.db import connect
from storage.extraction_blob import compress

BATCH = 500


def _rows(documents: list[BenchDocument]) -> tuple[list[tuple], list[tuple], list[tuple]]:  # type: ignore[type-arg]
    now = datetime.now(UTC)
    docs, resources, audits = [], [], []
    heads: dict[str, tuple[int, str]] = {}
    for d in documents:
        r = d.result
        decision = plan_merge(r, None, (), now)
        assert decision.changes is not None
        docs.append(
            (
                r.document_id,
                r.patient_id,
                r.extraction_version,
                1,
                "auto_approved",
                True,
                "[]",
                r.confidence,
                r.model.name,
                r.model.version,
                r.model.is_fallback,
                len(r.resources),
                "COMPLETE",
                1,
                None,
                True,
                str(r.event_id),
                content_hash(r),
                compress(d.payload),
                extraction_head(r),
                r.uploaded_at,
                r.extracted_at,
                now,
                now,
                None,
                1.0,
            )
        )
        for w in decision.changes.inserts:
            resources.append(
                (
                    w.resource_id,
                    r.patient_id,
                    r.document_id,
                    w.resource_type,
                    w.version_id,
                    orjson.dumps(w.body).decode(),
                    now,
                )
            )
        seq, head = heads.get(r.patient_id, (0, ""))
        entry = AuditEntry(
            r.patient_id,
            r.document_id,
            AuditAction.MERGE,
            ActorKind.SYSTEM,
            SYSTEM_ACTOR,
            {"resource_count": len(r.resources)},
            now,
        )
        digest = chain_hash(head, seq + 1, entry)
        audits.append(
            (
                r.patient_id,
                seq + 1,
                r.document_id,
                "merge",
                "system",
                SYSTEM_ACTOR,
                orjson.dumps(entry.details).decode(),
                now,
                head,
                digest,
            )
        )
        heads[r.patient_id] = (seq + 1, digest)
    return docs, resources, audits


def run_ceiling(database_url: str, documents: list[BenchDocument]) -> float:
    """Documents per second that COPY alone sustains, in batches of BATCH per transaction."""
    docs, resources, audits = _rows(documents)
    by_doc: dict[str, list[tuple]] = {}  # type: ignore[type-arg]
    for row in resources:
        by_doc.setdefault(row[2], []).append(row)
    with connect(database_url) as conn:
        started = time.perf_counter()
        for start in range(0, len(docs), BATCH):
            chunk = docs[start : start + BATCH]
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(
                    "COPY documents (document_id, patient_id, extraction_version, version, "
                    "review_status, auto_approved, flag_reasons, confidence, model_name, "
                    "model_version, is_fallback, resource_count, processing_status, attempts, "
                    "error, is_merged, event_id, content_hash, extraction_lz4, extraction_head, "
                    "uploaded_at, extracted_at, received_at, merged_at, failed_at, processing_ms) "
                    "FROM STDIN"
                ) as copy:
                    for row in chunk:
                        copy.write_row(row)
                with cur.copy(
                    "COPY resources (resource_id, patient_id, document_id, resource_type, "
                    "version_id, body, last_updated) FROM STDIN"
                ) as copy:
                    for row in chunk:
                        for res in by_doc.get(row[0], ()):
                            copy.write_row(res)
                with cur.copy(
                    "COPY audit_log (patient_id, seq, document_id, action, actor_kind, actor, "
                    "details, occurred_at, prev_hash, hash) FROM STDIN"
                ) as copy:
                    for audit in audits[start : start + BATCH]:
                        copy.write_row(audit)
        elapsed = time.perf_counter() - started
    return len(docs) / elapsed
