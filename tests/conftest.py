"""Test-suite wiring: fixture plugins live in their own modules (tests/fix_*.py)."""

pytest_plugins = ["tests.fix_infra", "tests.fix_worker"]
