"""Settings: thresholds come from env vars or a TOML file, never from code."""

from __future__ import annotations

import pytest

from config import MissingEndpointError, load_settings


def test_thresholds_from_a_toml_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "optimerge.toml"
    config.write_text("partitions = 6\n[rules]\nmin_confidence = 0.7\nname_similarity_min = 85\n")
    monkeypatch.setenv("OPTIMERGE_CONFIG", str(config))
    settings = load_settings()
    assert settings.rules.min_confidence == 0.7
    assert settings.rules.name_similarity_min == 85
    assert settings.partitions == 6


def test_env_vars_win_over_the_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "optimerge.toml"
    config.write_text("[rules]\nmin_confidence = 0.7\n")
    monkeypatch.setenv("OPTIMERGE_CONFIG", str(config))
    monkeypatch.setenv("OPTIMERGE_RULES__MIN_CONFIDENCE", "0.75")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = load_settings()
    assert settings.rules.min_confidence == 0.75
    assert settings.kafka_bootstrap_servers == "kafka:9092"


def test_a_bad_threshold_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPTIMERGE_RULES__MIN_CONFIDENCE", "1.5")
    with pytest.raises(ValueError, match="min_confidence"):
        load_settings()


def test_resolved_settings_know_both_endpoints_or_say_which_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(partitions=4)
    with pytest.raises(MissingEndpointError, match="KAFKA_BOOTSTRAP_SERVERS is not set"):
        settings.resolved(database_url="postgresql://db/x")
    with pytest.raises(MissingEndpointError, match="DATABASE_URL is not set"):
        settings.resolved(kafka_bootstrap_servers="k:9092")
    resolved = settings.resolved(kafka_bootstrap_servers="k:9092", database_url="postgresql://db/x")
    assert (resolved.kafka_bootstrap_servers, resolved.database_url) == (
        "k:9092",
        "postgresql://db/x",
    )
    assert resolved.partitions == 4 and resolved.rules == settings.rules


def test_the_state_dir_is_where_the_command_runs(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPTIMERGE_INFRA__STATE_DIR", raising=False)
    assert load_settings().infra.state_dir == tmp_path / ".state"


def test_static_membership_and_timeouts_reach_faust(monkeypatch, tmp_path):
    import pytest
    from pydantic import ValidationError

    from config import load_settings
    from streams.app import create_app

    monkeypatch.setenv("OPTIMERGE_WORKER_INSTANCE_ID", "pod-7.example_a")
    settings = load_settings().resolved(
        kafka_bootstrap_servers="127.0.0.1:9", database_url="postgresql://x@127.0.0.1:9/x"
    )
    app = create_app(settings, datadir=tmp_path)
    assert app.conf.consumer_group_instance_id == "pod-7.example_a"
    assert (app.conf.broker_session_timeout, app.conf.broker_heartbeat_interval) == (10.0, 1.0)
    assert app.conf.broker_rebalance_timeout == 10.0
    assert app.conf.broker_request_timeout == 15.0  # not faust's 90 s
    monkeypatch.setenv("OPTIMERGE_WORKER_INSTANCE_ID", "two words")
    with pytest.raises(ValidationError):
        load_settings()
