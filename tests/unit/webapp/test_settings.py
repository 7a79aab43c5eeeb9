import stat

from pydantic import SecretStr

from webapp.settings import SECRET_KEY_FILE, AppSettings, load_or_create_secret, resolve_secret


def test_the_secret_is_made_once_private_and_then_reused(tmp_path):
    path = tmp_path / "state" / SECRET_KEY_FILE
    first = load_or_create_secret(path)
    assert len(first.get_secret_value()) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path).get_secret_value() == first.get_secret_value()


def test_an_explicit_secret_wins_and_writes_nothing(tmp_path):
    settings = AppSettings(secret_key=SecretStr("from-the-environment"))
    assert resolve_secret(settings, tmp_path).get_secret_value() == "from-the-environment"
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_settings_come_from_optimerge_app_variables(monkeypatch):
    monkeypatch.setenv("OPTIMERGE_APP_PAGE_SIZE", "25")
    monkeypatch.setenv("OPTIMERGE_APP_SECRET_KEY", "s3cret")
    settings = AppSettings()
    assert settings.page_size == 25
    assert "s3cret" not in repr(settings)
