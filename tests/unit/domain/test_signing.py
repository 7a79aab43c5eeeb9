"""Signatures of review actions (domain/signing.py): what they cover, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.signing import (
    Keyring,
    Problem,
    Refused,
    SigningKey,
    SigningKeyError,
    Verified,
    body_digest,
    canonical_json,
    parse_trusted_keys,
    signer_of,
)
from schemas import ActorKind, ReviewAction

APP, OPERATOR = SigningKey.generate(), SigningKey.generate()
RING = Keyring(
    tuple(
        parse_trusted_keys(
            f"{APP.trusted_line(ActorKind.REVIEWER, 'app')}\n"
            f"# a comment\n{OPERATOR.trusted_line(ActorKind.OPERATOR)}"
        )
    )
)


def _action(**changes: object) -> ReviewAction:
    return ReviewAction.model_validate(
        {
            "document_id": "d1",
            "patient_id": "p1",
            "action": "correct_data",
            "reviewer": "ana",
            "expected_version": 3,
            "corrected_resources": [{"resourceType": "Condition", "onset": 1.5, "n": 2}],
            "note": "checked",
            "requested_at": datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            **changes,
        }
    )


def test_a_signed_action_verifies_and_names_its_key() -> None:
    signed = APP.sign(_action())
    assert RING.verify(signed) == Verified(APP.key_id, ActorKind.REVIEWER)
    assert signer_of(signed) == APP.key_id
    assert ReviewAction.model_validate_json(signed.model_dump_json()) == signed


@pytest.mark.parametrize(
    "change",
    [
        {"reviewer": "bob"},
        {"document_id": "d2"},
        {"patient_id": "p2"},
        {"action": "rollback"},
        {"expected_version": 4},
        {"note": "other"},
        {"corrected_resources": [{"resourceType": "Condition", "onset": 1.6, "n": 2}]},
        {"requested_at": datetime(2026, 11, 23, 12, 0, 1, tzinfo=UTC)},
        {"actor_kind": "operator"},
    ],
)
def test_every_decided_field_is_covered(change: dict[str, object]) -> None:
    signed = APP.sign(_action())
    tampered = _action(**change).model_copy(update={"signature": signed.signature})
    verdict = RING.verify(tampered)
    assert isinstance(verdict, Refused)
    assert verdict.problem in (Problem.BAD_SIGNATURE, Problem.WRONG_KIND)


def test_missing_malformed_unknown_and_wrong_kind_are_told_apart() -> None:
    assert RING.verify(_action()) == Refused(Problem.MISSING, "the action carries no signature")
    bad = _action(signature="hmac:abc:def")
    assert isinstance(v := RING.verify(bad), Refused) and v.problem == Problem.MALFORMED
    stranger = SigningKey.generate().sign(_action())
    assert isinstance(v := RING.verify(stranger), Refused) and v.problem == Problem.UNKNOWN_KEY
    posing = APP.sign(_action(actor_kind="operator"))
    assert isinstance(v := RING.verify(posing), Refused) and v.problem == Problem.WRONG_KIND
    assert isinstance(RING.verify(OPERATOR.sign(_action(actor_kind="operator"))), Verified)


def test_the_body_hash_is_the_same_whichever_reader_parsed_the_numbers() -> None:
    as_float = _action(corrected_resources=[{"resourceType": "Observation", "v": 0.01, "w": 1.0}])
    as_decimal = as_float.model_copy(
        update={
            "corrected_resources": [
                {"w": Decimal("1.00"), "resourceType": "Observation", "v": Decimal("0.010")}
            ]
        }
    )
    assert body_digest(as_float) == body_digest(as_decimal)
    assert canonical_json({"b": [1, "é"], "a": None}) == '{"a":null,"b":[1,"\\u00e9"]}'
    with pytest.raises(ValueError, match="NaN"):
        canonical_json(float("nan"))


def test_keys_round_trip_and_bad_lines_are_named() -> None:
    again = SigningKey.from_pem(APP.pem())
    assert again.key_id == APP.key_id
    with pytest.raises(SigningKeyError, match="entry 1"):
        parse_trusted_keys("admin AAAA")
    with pytest.raises(SigningKeyError, match="not a base64 Ed25519 key"):
        parse_trusted_keys("reviewer not-base64!")
    with pytest.raises(SigningKeyError, match="PEM"):
        SigningKey.from_pem(b"")
