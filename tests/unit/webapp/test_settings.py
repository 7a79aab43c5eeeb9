import stat

import pytest
from pydantic import SecretStr

from webapp.settings import (
    SECRET_KEY_FILE,
    AppConfigError,
    AppSettings,
    load_or_create_secret,
    resolve_secret,
)

STRONG = "from-the-environment-" + "0123456789abcdef" * 2


def test_the_secret_is_made_once_private_and_then_reused(tmp_path):
    path = tmp_path / "state" / SECRET_KEY_FILE
    first = load_or_create_secret(path)
    assert len(first.get_secret_value()) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path).get_secret_value() == first.get_secret_value()


def test_an_explicit_secret_wins_and_writes_nothing(tmp_path):
    settings = AppSettings(secret_key=SecretStr(STRONG))
    assert resolve_secret(settings, tmp_path).get_secret_value() == STRONG
    assert not (tmp_path / SECRET_KEY_FILE).exists()


@pytest.mark.parametrize("key", ["x", "", "k" * 31])
def test_a_short_or_empty_session_key_refuses_to_start(tmp_path, key):
    with pytest.raises(AppConfigError, match="at least 32 random bytes"):
        resolve_secret(AppSettings(secret_key=SecretStr(key)), tmp_path)


def test_an_empty_key_file_is_refused_never_read_as_an_empty_key(tmp_path):
    (tmp_path / SECRET_KEY_FILE).write_text("\n")
    with pytest.raises(AppConfigError, match=r"has 0 bytes"):
        resolve_secret(AppSettings(), tmp_path)


def test_settings_come_from_optimerge_app_variables(monkeypatch):
    monkeypatch.setenv("OPTIMERGE_APP_PAGE_SIZE", "25")
    monkeypatch.setenv("OPTIMERGE_APP_SECRET_KEY", "s3cret")
    monkeypatch.setenv("OPTIMERGE_APP_ALLOWED_HOSTS", '["review.example.org"]')
    settings = AppSettings()
    assert settings.page_size == 25
    assert settings.allowed_hosts == ["review.example.org"]
    assert "s3cret" not in repr(settings)
    assert settings.insecure_http is False  # Secure cookies and HSTS unless told otherwise
