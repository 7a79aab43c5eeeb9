"""A grammar of bad inputs (issue 12): what an adversary, or a broken extractor, may publish.
Used by the property tests here and by the integration fuzz through real workers."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from schemas.exact_json import dumps_exact

PATIENT = "fuzz-patient"


def valid_extraction(document_id: str, patient_id: str = PATIENT, **extra: Any) -> dict[str, Any]:
    return {
        "document_id": document_id,
        "patient_id": patient_id,
        "extraction_version": 1,
        "uploaded_at": "2026-11-22T10:00:00Z",
        "extracted_at": "2026-11-22T10:00:05Z",
        "model": {"name": "extractor-large", "version": "2026.10"},
        "confidence": 0.97,
        "patient": {"name": {"family": "Fuzz", "given": ["Test"]}, "birth_date": "1970-04-03"},
        "resources": [
            {"resourceType": "Condition", "id": "c1", "code": {"text": "finding"}},
            {"resourceType": "Observation", "valueQuantity": {"value": 1.5, "unit": "mg"}},
            {"resourceType": "Observation", "status": "final", "code": {"text": "other"}},
        ],
        **extra,
    }


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"x": [value]}
    return value


Mutation = Callable[[random.Random, str], tuple[bytes, bytes | None]]


def _json(doc: dict[str, Any]) -> bytes:
    return dumps_exact(doc)


def _key(doc: dict[str, Any]) -> bytes:
    return str(doc.get("patient_id", PATIENT)).encode()


def _with(**changes: Any) -> Mutation:
    def mutate(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
        doc = valid_extraction(doc_id)
        doc.update(changes)
        return _json(doc), _key(doc)

    return mutate


def _invalid_utf8(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = bytearray(_json(valid_extraction(doc_id)))
    raw[rng.randrange(len(raw))] = rng.choice([0xFF, 0xC0, 0x80, 0xFE])
    return bytes(raw), PATIENT.encode()


def _truncated(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = _json(valid_extraction(doc_id))
    return raw[: rng.randrange(1, len(raw) - 1)], PATIENT.encode()


def _nan(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = _json(valid_extraction(doc_id)).replace(b'"confidence":0.97', b'"confidence":NaN')
    return raw, PATIENT.encode()


def _huge_number(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = _json(valid_extraction(doc_id)).replace(b'"value":1.5', b'"value":1e400')
    return raw, PATIENT.encode()


def _tiny_number(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = _json(valid_extraction(doc_id)).replace(b'"value":1.5', b'"value":1e-400')
    return raw, PATIENT.encode()


def _long_integer(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    raw = _json(valid_extraction(doc_id)).replace(b'"value":1.5', b'"value":' + b"9" * 5000)
    return raw, PATIENT.encode()


def _deep_resources(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    doc = valid_extraction(doc_id)
    doc["resources"][0]["extension"] = _deep(rng.choice([70, 300, 2000]))
    return _dumps_deep(doc), PATIENT.encode()


def _dumps_deep(doc: dict[str, Any]) -> bytes:
    # orjson stops at 254 levels: write deep documents by hand.
    deep = doc["resources"][0].pop("extension")
    levels = 0
    while isinstance(deep, dict):
        levels += 1
        deep = deep["x"][0]
    head = _json(doc)
    inner = b'{"x":[' * levels + b'"leaf"' + b"]}" * levels
    marker = b'"resources":[{'
    return head.replace(marker, marker + b'"extension":' + inner + b",", 1)


def _giant_string(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    return _with(resources=[{"resourceType": "Condition", "note": [{"text": "x" * 300_000}]}])(
        rng, doc_id
    )


def _nul(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    where = rng.choice(["model", "note", "document_id"])
    doc = valid_extraction(doc_id)
    if where == "model":
        doc["model"]["name"] = "extractor\x00large"
    elif where == "note":
        doc["resources"][0]["note"] = [{"text": "pasted\x00from a PDF"}]
    else:
        doc["document_id"] = doc_id + "\x00"
    return _json(doc), PATIENT.encode()


def _control(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    doc = valid_extraction(doc_id)
    doc["resources"][1]["code"] = {"text": "bell\x07" + chr(rng.choice([1, 8, 27, 31, 127]))}
    return _json(doc), PATIENT.encode()


def _mismatched_key(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    return _json(valid_extraction(doc_id)), b"someone-else"


def _null_key(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    return _json(valid_extraction(doc_id)), None


def _wrong_types(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    field, value = rng.choice(
        [
            ("confidence", "high"),
            ("extraction_version", "two"),
            ("resources", {"not": "a list"}),
            ("model", "gpt"),
            ("uploaded_at", 12345),
            ("patient", []),
            ("document_id", 42),
            ("extraction_version", True),
        ]
    )
    return _with(**{field: value})(rng, doc_id)


def _impossible_dates(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    field, value = rng.choice(
        [
            ("uploaded_at", "9999-12-31T23:59:59-14:00"),
            ("uploaded_at", "0001-01-01T00:00:00+14:00"),
            ("extracted_at", "2026-02-30T10:00:00Z"),
            ("uploaded_at", "2026-11-22T10:00:00"),  # naive
            ("patient", {"birth_date": "1970-13-01"}),
        ]
    )
    return _with(**{field: value})(rng, doc_id)


def _big_version(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    return _with(extraction_version=rng.choice([2**31, 2**63, 10**30]))(rng, doc_id)


def _bad_resources(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    resources = rng.choice(
        [
            [{"resourceType": "Patient", "id": "p2"}],
            [{"resourceType": "NotAType"}],
            [{"resourceType": "Bundle", "entry": []}],
            [{"code": {"text": "no type"}}],
            [{"resourceType": "Condition"}] * 1001,
            ["not an object"],
        ]
    )
    return _with(resources=resources)(rng, doc_id)


def _not_an_object(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    return rng.choice([b"[]", b"null", b"42", b'"text"', b"", b"   "]), PATIENT.encode()


GRAMMAR: dict[str, Mutation] = {
    "invalid_utf8": _invalid_utf8,
    "truncated_json": _truncated,
    "wrong_types": _wrong_types,
    "huge_number": _huge_number,
    "tiny_number": _tiny_number,
    "long_integer": _long_integer,
    "nan": _nan,
    "impossible_dates": _impossible_dates,
    "deep_nesting": _deep_resources,
    "giant_string": _giant_string,
    "nul": _nul,
    "control_characters": _control,
    "mismatched_key": _mismatched_key,
    "null_key": _null_key,
    "big_version": _big_version,
    "bad_resources": _bad_resources,
    "not_an_object": _not_an_object,
}


def unknown_fields(rng: random.Random, doc_id: str) -> tuple[bytes, bytes | None]:
    """Valid, with fields nobody declared: must be merged, and the fields kept."""
    doc = valid_extraction(doc_id, vendor_score=0.950, vendor={"run": rng.randrange(10**6)})
    doc["model"]["temperature"] = 0.10
    return _json(doc), _key(doc)
