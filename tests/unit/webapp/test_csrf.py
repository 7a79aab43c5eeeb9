import pytest

from webapp import csrf


def test_session_token_is_made_once_and_kept():
    session: dict = {}
    token = csrf.session_token(session)
    assert len(token) >= 32
    assert csrf.session_token(session) == token


@pytest.mark.parametrize(
    ("expected", "submitted", "ok"),
    [
        ("abc123", "abc123", True),
        ("abc123", "abc124", False),
        ("abc123", "", False),
        ("", "", False),
        (None, None, False),
        ("abc123", None, False),
        ("abc123", ["abc123"], False),
    ],
)
def test_tokens_match(expected, submitted, ok):
    assert csrf.tokens_match(expected, submitted) is ok


def test_check_refuses_a_session_without_token():
    with pytest.raises(csrf.CsrfError):
        csrf.check({}, "anything")
    session = {csrf.SESSION_KEY: "t0k3n"}
    csrf.check(session, "t0k3n")
    with pytest.raises(csrf.CsrfError):
        csrf.check(session, "other")
