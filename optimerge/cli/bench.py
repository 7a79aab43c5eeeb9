"""`optimerge bench`: throughput and latency of the pipeline against the ceiling and a baseline."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from optimerge.cli._common import print_json, resolved

TARGETS = {
    "pipeline/ceiling": 0.6,
    "pipeline/naive": 5.0,
}


FHIR_P99_TARGET_MS = 50.0


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Measure the pipeline (default) or the FHIR API (`bench fhir`).")
    group.callback(invoke_without_command=True)(bench)
    group.command("fhir")(bench_fhir)
    group.command("audit")(bench_audit)
    app.add_typer(group, name="bench")


def bench(
    ctx: typer.Context,
    documents: Annotated[
        int, typer.Option(help="Documents in the feed (about 10 resources each).")
    ] = 20_000,
    workers: Annotated[int, typer.Option(help="Worker processes for the pipeline phase.")] = 2,
    repeat: Annotated[int, typer.Option(help="Repeats of every phase; medians are reported.")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every figure.")
    ] = False,
) -> None:
    """Measure, in one run on this machine: the pipeline (real workers), a naive one-transaction-
    per-document consumer, the COPY ceiling of the database, rule checks and a 100-resource merge.

    Targets are ratios: pipeline/ceiling >= 0.6, pipeline/naive >= 5, p99 upload-to-merged at
    half the maximum rate <= 250 ms. `optimerge bench fhir` measures the FHIR read API."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from optimerge.bench.runner import BenchConfig, run_bench

    # Its topics and consumer group are its own: locally it runs as the admin.
    settings = resolved("admin")
    console = Console(file=sys.stderr)
    config = BenchConfig(documents=documents, workers=workers, repeats=repeat)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)
            if done >= total:
                bar.remove_task(tasks.pop(phase))

        result = run_bench(settings, config, say=console.print, progress=progress)
    if as_json:
        print_json(result)
    else:
        _table(result)


def _table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    m = result["median"]
    table = Table(title=f"optimerge bench: medians of {result['config']['repeats']} runs")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("pipeline documents/s", f"{m['documents_per_s']:,.0f}"),
        ("pipeline resources/s", f"{m['resources_per_s']:,.0f}"),
        ("naive documents/s", f"{m['naive_documents_per_s']:,.0f}"),
        ("ceiling (COPY) documents/s", f"{m['ceiling_documents_per_s']:,.0f}"),
        (
            "upload-to-merged at full speed p50/p95/p99 ms",
            f"{m['full_p50_ms']:,.0f} / {m['full_p95_ms']:,.0f} / {m['full_p99_ms']:,.0f}",
        ),
        (
            f"upload-to-merged at {m['half_rate_per_s']:,.0f}/s p50/p95/p99 ms",
            f"{m['half_p50_ms']:,.0f} / {m['half_p95_ms']:,.0f} / {m['half_p99_ms']:,.0f}",
        ),
        ("rule checks per document", f"{result['rule_check_us_per_document']:.1f} µs"),
        (
            "100-resource merge p50/p99",
            f"{result['big_document']['merge_p50_ms']:.1f} / "
            f"{result['big_document']['merge_p99_ms']:.1f} ms",
        ),
        (
            "100-resource re-merge p50/p99",
            f"{result['big_document']['remerge_p50_ms']:.1f} / "
            f"{result['big_document']['remerge_p99_ms']:.1f} ms",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    for name, ratio in result["ratios"].items():
        ok = ratio >= TARGETS[name]
        table.add_row(
            f"{name} (target >= {TARGETS[name]})", f"[{'green' if ok else 'red'}]{ratio:.2f}[/]"
        )
    Console().print(table)


def bench_fhir(
    requests: Annotated[int, typer.Option(help="Search requests measured.")] = 1_000,
    resources: Annotated[int, typer.Option(help="Resources in the patient's record.")] = 500,
    count: Annotated[int, typer.Option(help="_count of every search.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every figure.")
    ] = False,
) -> None:
    """Search latency of the FHIR read API over HTTP: a real `optimerge app` on a scratch
    database, one patient with 500 resources, 1,000 searches with _count=50 (every page of
    every type, both sort orders). Target: p99 < 50 ms; exit 1 when missed."""
    from rich.console import Console

    from optimerge.bench.fhir import FhirBenchConfig, run_fhir_bench

    settings = resolved()
    console = Console(file=sys.stderr)
    config = FhirBenchConfig(requests=requests, resources=resources, count=count)
    result = run_fhir_bench(settings, config, say=console.print)
    if as_json:
        print_json(result)
    else:
        ok = result["p99_ms"] < FHIR_P99_TARGET_MS
        Console().print(
            f"FHIR search, {requests} requests, _count={count}, {resources} resources: "
            f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
            f"p99 [{'green' if ok else 'red'}]{result['p99_ms']:.1f} ms[/] "
            f"(target < {FHIR_P99_TARGET_MS:.0f}), max {result['max_ms']:.1f} ms, "
            f"{result['requests_per_s']:.0f} requests/s"
        )
    if result["p99_ms"] >= FHIR_P99_TARGET_MS:
        raise typer.Exit(1)


def bench_audit(
    entries: Annotated[
        int, typer.Option(help="Audit entries written before the checkpoint.")
    ] = 100_000,
    patients: Annotated[int, typer.Option(help="Patients they belong to.")] = 10_000,
    new_entries: Annotated[
        int, typer.Option(help="Entries written after it, for the incremental run.")
    ] = 1_000,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every figure.")
    ] = False,
) -> None:
    """The audit trail on a scratch database: appends through audit_append() as the worker role
    against COPY as the owner; `audit verify --full` on every entry, then incremental after
    more entries (checkpoints read from Kafka included)."""
    from rich.console import Console

    from optimerge.bench.audit import AuditBenchConfig, run_audit_bench

    # Its topics are its own (scratch_topics): locally it runs as the admin, like `bench`.
    settings = resolved("admin")
    console = Console(file=sys.stderr)
    config = AuditBenchConfig(entries=entries, patients=patients, new_entries=new_entries)
    result = run_audit_bench(settings, config, say=console.print)
    if as_json:
        print_json(result)
        return
    full, incremental = result["full"], result["incremental"]
    Console().print(
        f"append: {result['append_entries_per_s']:,.0f} entries/s through audit_append() "
        f"(COPY and UPDATE as the owner, before: {result['copy_entries_per_s']:,.0f}/s)\n"
        f"audit verify --full, {full['entries_checked']:,} entries: {full['total_ms']:,.0f} ms\n"
        f"incremental after {new_entries:,} more: {incremental['total_ms']:,.0f} ms "
        f"({result['incremental_over_full']:.1%} of the full run); the checkpointer's own "
        f"incremental run: {result['checkpointer_incremental_ms']:,.0f} ms"
    )
