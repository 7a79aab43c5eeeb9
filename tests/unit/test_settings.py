"""Settings: thresholds come from env vars or a TOML file, never from code."""

from __future__ import annotations

import pytest

from optimerge.settings import load_settings


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
