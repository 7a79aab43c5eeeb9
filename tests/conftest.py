"""Test-suite wiring: fixture plugins live in their own modules (tests/fix_*.py)."""

import pytest

pytest_plugins = ["tests.fix_infra", "tests.fix_worker"]


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """A skipped test is a failed test here: an integration suite that did not run is red."""
    if report.skipped and not hasattr(report, "wasxfail"):
        return "failed", "S", "SKIPPED (fails the build)"
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    reports = reporter.stats.get("failed", []) if reporter else []
    if exitstatus == 0 and any(getattr(r, "skipped", False) for r in reports):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
