"""The benchmark's documents: Synthea-based, serialised once, stamped with the send time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from optimerge.demo import DemoDocument, SampleData, build_documents
from schemas import ExtractionResult

# Serialised in place of uploaded_at, and replaced by the real send time (cheap bytes.replace).
_SENTINEL = datetime(2000, 1, 1, tzinfo=UTC)
_SENTINEL_JSON = b'"uploaded_at":"2000-01-01T00:00:00Z"'


@dataclass(frozen=True, slots=True)
class BenchDocument:
    result: ExtractionResult
    payload: bytes
    key: bytes

    def stamped(self, now: datetime) -> bytes:
        when = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return self.payload.replace(_SENTINEL_JSON, f'"uploaded_at":"{when}"'.encode(), 1)


def bench_documents(sample: SampleData, count: int, *, seed: int) -> list[BenchDocument]:
    documents: list[DemoDocument] = build_documents(sample, count, seed=seed)
    out = []
    for doc in documents:
        result = doc.result.model_copy(
            update={"document_id": f"bench-{doc.result.document_id}", "uploaded_at": _SENTINEL}
        )
        payload = result.model_dump_json().encode()
        if _SENTINEL_JSON not in payload:
            raise RuntimeError("uploaded_at did not serialise as expected")
        out.append(BenchDocument(result, payload, result.patient_id.encode()))
    return out


def resource_count(documents: list[BenchDocument]) -> int:
    return sum(len(d.result.resources) for d in documents)
