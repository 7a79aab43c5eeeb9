"""`optimerge bench`: throughput and latency of the pipeline against the ceiling and a baseline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from optimerge.cli._common import fail, print_json, resolved

FHIR_P99_TARGET_MS = 50.0


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Measure the pipeline (default), the FHIR API (`bench fhir`) or the threshold "
        "replay (`bench thresholds`)."
    )
    group.callback(invoke_without_command=True)(bench)
    group.command("fhir")(bench_fhir)
    group.command("thresholds")(bench_thresholds)
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
    report: Annotated[
        Path | None, typer.Option(help="Also write the figures with plots to this HTML file.")
    ] = None,
    scaling: Annotated[
        str, typer.Option(help="Worker counts of the scaling curve, comma-separated.")
    ] = "1,2,3",
    twins: Annotated[
        int,
        typer.Option(
            min=1,
            help="Each of the sample's 12 patients filed under this many ids: the feed spreads "
            "over 12 x TWINS patients, as a hospital's does (1: the sample's dozen keys, which "
            "fill the partitions unevenly).",
        ),
    ] = 1000,
) -> None:
    """Measure, in one run on this machine: the pipeline (real workers) against the raw COPY of
    the same documents into a minimal keyed table (the limit), the COPY of our own rows, and a
    naive one-transaction-per-document consumer; CPU ms per document of the workers, the broker
    and PostgreSQL; a scaling curve; the upload-to-merged latency at half the measured rate and
    its split by stage; rule checks and a 100-resource merge.

    Targets (docs/contract.md#commands): pipeline/raw_copy >= 0.5, pipeline/naive >= 20, p99
    upload-to-merged at half rate <= 150 ms and p50 <= 30 ms, a 100-resource merge and re-merge
    p99 <= 25 ms. `optimerge bench fhir` measures the FHIR read API."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        curve = tuple(sorted({int(n) for n in scaling.split(",") if n.strip()}))
    except ValueError:
        fail(f"--scaling {scaling!r}: give worker counts such as 1,2,3", code=2)
    if any(n < 1 for n in curve):
        fail("--scaling: worker counts start at 1", code=2)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from optimerge.bench.runner import BenchConfig, run_bench

    # Its topics and consumer group are its own: locally it runs as the admin.
    settings = resolved("admin")
    console = Console(file=sys.stderr)
    config = BenchConfig(
        documents=documents, workers=workers, repeats=repeat, scaling=curve, twins=twins
    )
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
    if report is not None:
        from optimerge.bench.report import render_report

        report.write_text(render_report(result))
        console.print(f"report written to {report}")
    if as_json:
        print_json(result)
    else:
        _table(result)


def _per_transaction(m: dict[str, Any]) -> str:
    full, half = m.get("documents_per_transaction"), m.get("half_documents_per_transaction")
    return " / ".join("n/a" if v is None else f"{v:.1f}" for v in (full, half))


def _table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from optimerge.bench.machine import describe as describe_machine

    m = result["median"]
    table = Table(title=f"optimerge bench: medians of {result['config']['repeats']} runs")
    table.add_column("figure")
    table.add_column("value", justify="right")
    big = result["big_document"]
    rows = [
        ("pipeline documents/s", f"{m['documents_per_s']:,.0f}"),
        ("pipeline resources/s", f"{m['resources_per_s']:,.0f}"),
        ("raw COPY documents/s (the limit)", f"{m['raw_copy_documents_per_s']:,.0f}"),
        ("own-schema COPY documents/s", f"{m['ceiling_documents_per_s']:,.0f}"),
        ("naive documents/s", f"{m['naive_documents_per_s']:,.0f}"),
        ("pipeline/own_schema_copy", f"{result['ratios']['pipeline/own_schema_copy']:.2f}"),
        ("upload-to-merged at full speed p50/p95/p99 ms", _trio(m, "full")),
        (f"upload-to-merged at {m['half_rate_per_s']:,.0f}/s p50/p95/p99 ms", _trio(m, "half")),
        *(
            (f"  stage {name} p50/p95/p99 ms", _trio(s, None))
            for name, s in m.get("half_stages", {}).items()
        ),
        *(
            (f"CPU ms/document: {name}", "n/a" if v is None else f"{v:.3f}")
            for name, v in m["cpu_ms_per_document"].items()
        ),
        ("machine at full speed", describe_machine(m.get("machine_full"))),
        (f"machine at {m['half_rate_per_s']:,.0f}/s", describe_machine(m.get("machine_half"))),
        ("documents per transaction, full speed / half rate", _per_transaction(m)),
        *(
            (f"scaling: {n} worker(s) documents/s", f"{v:,.0f}")
            for n, v in m["scaling_documents_per_s"].items()
        ),
        ("rule checks per document", f"{result['rule_check_us_per_document']:.1f} µs"),
        ("100-resource merge p50/p99 ms", f"{big['merge_p50_ms']:.1f} / {big['merge_p99_ms']:.1f}"),
        (
            "100-resource re-merge p50/p99 ms",
            f"{big['remerge_p50_ms']:.1f} / {big['remerge_p99_ms']:.1f}",
        ),
        (
            "the same document re-merged again and again, p50/p99 ms",
            f"{big['remerge_repeated_p50_ms']:.1f} / {big['remerge_repeated_p99_ms']:.1f}",
        ),
        ("load average before / after", _load(result["load_average"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    for name, t in result["targets"].items():
        shown = "n/a" if t["value"] is None else f"{t['value']:.2f}"
        table.add_row(
            f"{name} (target {t['target']})", f"[{'green' if t['met'] else 'red'}]{shown}[/]"
        )
    Console().print(table)


def _trio(figures: dict[str, Any], prefix: str | None) -> str:
    keys = [f"{prefix}_{p}_ms" if prefix else f"{p}_ms" for p in ("p50", "p95", "p99")]
    return " / ".join("n/a" if figures.get(k) is None else f"{figures[k]:,.0f}" for k in keys)


def _load(load: dict[str, list[float]]) -> str:
    return " / ".join(f"{v[0]:.2f}" for v in (load["before"], load["after"]))


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


def bench_thresholds(
    documents: Annotated[int, typer.Option(help="Documents in the reviewed history.")] = 100_000,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object with every figure.")
    ] = False,
) -> None:
    """How fast `thresholds evaluate` and `recommend` replay a judged history: a scratch
    database holding a reviewed history of N documents (the demo feed judged by a staging and
    the default rule set, verdicts from a known truth), then one evaluate and one recommend."""
    from rich.console import Console

    from optimerge.bench.thresholds import run_thresholds_bench

    console = Console(file=sys.stderr)
    result = run_thresholds_bench(resolved("admin"), documents, say=console.print)
    if as_json:
        print_json(result)
        return
    e, r = result["evaluate"], result["recommend"]
    Console().print(
        f"thresholds evaluate, {e['documents']} documents: {e['total_seconds']:.1f} s "
        f"(read {e['read_seconds']:.1f} s, rules {e['rules_seconds']:.1f} s, "
        f"{e['us_per_document']:.0f} us a document); recommend: read {r['read_seconds']:.1f} s, "
        f"search {r['search_seconds']:.1f} s"
    )


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
