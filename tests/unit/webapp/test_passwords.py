import pytest

from webapp.passwords import (
    check_name,
    check_password,
    hash_password,
    new_api_token,
    token_digest,
    verify_password,
)


def test_argon2_round_trip():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")


def test_a_missing_account_never_verifies():
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-a-hash", "anything at all")


@pytest.mark.parametrize("name", ["ana", "ana.lopez", "a_b-c@example.org", "X9"])
def test_good_names(name):
    assert check_name(name) is None


@pytest.mark.parametrize("name", ["", ".ana", "ana lopez", "a" * 65, "ana/../x", "<b>"])
def test_bad_names(name):
    assert check_name(name)


def test_password_rules():
    assert check_password("short") and "10" in check_password("short")
    assert check_password(" " * 12)
    assert check_password("x" * 2000)
    assert check_password("a long passphrase") is None


def test_api_tokens_are_random_and_only_their_digest_is_kept():
    token, digest = new_api_token()
    other, _ = new_api_token()
    assert token != other and token.startswith("omt_")
    assert digest == token_digest(token) and len(digest) == 64 and token not in digest
