"""`optimerge status`: the health of every component (docs/contract.md#health); exit 1 when any
is down."""

from __future__ import annotations

from typing import Annotated

import typer

from optimerge.cli._common import print_json, resolved


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each component.")] = 5.0,
) -> None:
    """PostgreSQL, Kafka, the workers' consumer group (members, lag per partition) and each
    worker's last heartbeat. Exits 1 when something is down."""
    from pipeline.health import check_health

    report = check_health(resolved(), timeout=timeout)
    if as_json:
        print_json(report.as_json())
    else:
        for c in report.components:
            mark = "ok  " if c.status == "ok" else "DOWN"
            typer.echo(f"{mark} {c.name:<15} {c.summary}")
        group = report.component("consumer_group").details
        for p in group.get("partitions", []):
            if p["lag"] or p["owner"] is None:
                owner = p["owner"] or "unassigned"
                typer.echo(f"     {p['topic']}[{p['partition']}] lag {p['lag']} ({owner})")
        typer.echo(f"status: {report.status}")
    if not report.ok:
        raise typer.Exit(1)
