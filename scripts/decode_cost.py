"""What decoding an extraction costs per document, by step, over the bench's documents (no I/O):
reading the JSON with exact decimals, the input contract's scans, the model's validation, and,
for comparison, a typed msgspec decode into a Struct of the event's shape (docs/bench.md, sixth
pass: building the Python objects is most of it, whichever decoder builds them).

    .venv/bin/python scripts/decode_cost.py --documents 500"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from optimerge.bench.feed import bench_documents
from optimerge.demo import load_sample, with_twins
from schemas.events import ExtractionResult
from schemas.exact_json import loads_exact
from schemas.input_contract import event_problem


class _Model(msgspec.Struct):
    name: str
    version: str | None = None


class _TypedEvent(msgspec.Struct):
    """The event's shape, for the comparison only: the pydantic models stay the contract."""

    document_id: str
    patient_id: str
    uploaded_at: str
    extracted_at: str
    model: _Model
    confidence: float
    extraction_version: int = 1
    resources: list[dict[str, Any]] = []
    patient: dict[str, Any] = {}
    source_snippets: dict[str, list[dict[str, Any]]] = {}
    document: dict[str, Any] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many passes")
    args = parser.parse_args()
    sample = with_twins(load_sample(), 10)
    now = datetime.now(UTC)
    raws = [d.stamped(now) for d in bench_documents(sample, args.documents, seed=5)]
    parsed = [loads_exact(raw) for raw in raws]
    # Decimals as loads_exact makes them, so both build the same objects.
    typed = msgspec.json.Decoder(_TypedEvent, float_hook=Decimal)
    print(f"{len(raws)} documents, {sum(map(len, raws)) / len(raws):,.0f} bytes each")

    def each(name: str, step: Callable[[], object]) -> None:
        best = min(timeit.repeat(step, number=1, repeat=args.repeat))
        print(f"{name:44s} {best / len(raws) * 1e6:7.1f} µs per document")

    each("JSON with exact decimals (loads_exact)", lambda: [loads_exact(r) for r in raws])
    each(
        "input contract scans (event_problem)",
        lambda: [event_problem(p, r) for p, r in zip(parsed, raws, strict=True)],
    )
    each(
        "model validation (model_validate)",
        lambda: [ExtractionResult.model_validate(p) for p in parsed],
    )
    each("typed msgspec decode, for comparison", lambda: [typed.decode(r) for r in raws])


if __name__ == "__main__":
    main()
