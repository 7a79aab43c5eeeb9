"""The monitoring files in deploy/prometheus/ as Prometheus itself reads them: `promtool check`
and the alert rules' unit tests (`promtool test rules`), every alert with a case it fires on and
one it stays silent on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
RULE_TESTS = DEPLOY / "tests" / "alerts_test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run scripts/setup.sh (it installs Debian's prometheus)")
    return found


def _run(promtool: str, *args: str, cwd: Path = DEPLOY) -> str:
    done = subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _alert_names() -> set[str]:
    return set(re.findall(r"^\s*- alert: (\w+)", (DEPLOY / "alerts.yml").read_text(), re.M))


def _tested_cases() -> tuple[set[str], set[str]]:
    """Alerts with a case that must fire, and alerts with a case that must stay silent."""
    text = RULE_TESTS.read_text()
    cases = re.findall(r"alertname: (\w+)\n\s*exp_alerts:( \[\])?", text)
    fires = {name for name, empty in cases if not empty}
    silent = {name for name, empty in cases if empty}
    return fires, silent


def test_the_rules_and_the_config_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    assert "SUCCESS" in _run(promtool, "check", "rules", "alerts.yml")
    # The config names the app's scrape token file, which `make run` makes in .state/.
    here = tmp_path / "deploy" / "prometheus"
    here.mkdir(parents=True)
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(DEPLOY / name, here / name)
    (tmp_path / ".state").mkdir()
    (tmp_path / ".state" / "app-metrics-token").write_text("token-for-the-check\n")
    assert "SUCCESS" in _run(promtool, "check", "config", "prometheus.yml", cwd=here)


def test_every_alert_fires_and_stays_silent_where_its_unit_tests_say(promtool: str) -> None:
    names = _alert_names()
    assert len(names) >= 15
    fires, silent = _tested_cases()
    assert names - fires == set(), "alerts without a case that must fire"
    assert names - silent == set(), "alerts without a case that must stay silent"
    assert (fires | silent) - names == set(), "tests of alerts that do not exist"
    assert "SUCCESS" in _run(promtool, "test", "rules", str(RULE_TESTS.relative_to(DEPLOY)))


def test_the_seed_003_alerts_exist() -> None:
    assert {
        "OptimergeNoWorkers",
        "OptimergeNoWorkersConsuming",
        "OptimergeFailureRateHigh",
        "OptimergeConsumerLagGrowing",
        "OptimergeReviewQueueGrowing",
        "OptimergeUploadToMergedSlow",
    } <= _alert_names()
