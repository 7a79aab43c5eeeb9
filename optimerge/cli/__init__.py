"""`optimerge`: the operator's command. Every subcommand has --help."""

from __future__ import annotations

import typer

from optimerge.cli import app as app_cmd
from optimerge.cli import (
    bench,
    data,
    demo,
    dlq,
    infra,
    legacy,
    monitor,
    notify,
    ops,
    status,
    thresholds,
)

app = typer.Typer(
    name="optimerge",
    help="Merge AI-extracted FHIR resources into patient records at once; flag only the doubtful.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
infra.register(app)
ops.register(app)
status.register(app)
notify.register(app)
data.register(app)
demo.register(app)
dlq.register(app)
monitor.register(app)
thresholds.register(app)
legacy.register(app)
bench.register(app)
app_cmd.register(app)


def main() -> None:
    app()
