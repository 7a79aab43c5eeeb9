# The front door: `make run` runs the whole system locally with a demo feed; `make test` runs every test.
.PHONY: setup run stop test lint unit bench chaos

OPTIMERGE := .venv/bin/optimerge
PYTEST_ARGS ?=

setup:
	@bash scripts/setup.sh

run: setup
	@$(OPTIMERGE) run

stop: setup
	@$(OPTIMERGE) infra down

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

unit: setup
	.venv/bin/pytest -m "not integration" $(PYTEST_ARGS)

test: lint
	.venv/bin/pytest $(PYTEST_ARGS)

# The long fault suites (tests/faults), each printing its table: one broker and one PostgreSQL
# (forty worker kills, servers killed thrice), and three brokers with a Patroni pair (three rounds
# of worker kills, the leading broker, the primary with commits in doubt, a zombie worker and a
# network-isolated one).
chaos: setup
	OPTIMERGE_FAULT_PLAN=long .venv/bin/pytest -m fault -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	@$(OPTIMERGE) bench
