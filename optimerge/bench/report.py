"""`optimerge bench --report FILE.html`: the bench's figures as one self-contained page, with
server-drawn SVG plots (webapp/charts.py): throughput over time, the latency histogram at half
rate, the CPU split per process, the scaling curve and the latency split by stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from optimerge.bench.machine import describe as describe_machine
from webapp.charts import Series, count, horizontal_bars, line_chart, millis, stacked_bars

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.05rem; margin: 22px 0 6px; }
table { border-collapse: collapse; }
td, th { padding: 3px 10px; border-bottom: 1px solid #e3e7ee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #146c2e; } .missed { color: #b3261e; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 18px; }
.chart { width: 100%; height: auto; display: block; }
.chart .grid { stroke: #e3e7ee; stroke-width: 1; }
.chart .axis { font-size: 10px; fill: #5b6475; }
.chart .limit { stroke: #b3261e; stroke-dasharray: 4 3; stroke-width: 1.2; }
.chart .line { fill: none; stroke-width: 2; }
.chart .line.s0, .chart .dot.s0 { stroke: #2f5fb3; fill: #2f5fb3; }
.chart .line.s0 { fill: none; }
.chart .bar.s0 { fill: #2f5fb3; } .chart .bar.s1 { fill: #e0a526; }
"""


_STAGE_ROW = Markup("<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>")


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.2f}{unit}" if abs(v) < 10 else f"{v:,.0f}{unit}"
    return f"{v}{unit}"


def _rows(pairs: Sequence[tuple[str, Any]]) -> Markup:
    return Markup("").join(
        Markup("<tr><td>{}</td><td class=n>{}</td></tr>").format(k, v) for k, v in pairs
    )


def _latency_histogram(samples: Sequence[float]) -> Markup:
    if not samples:
        return Markup("<p>no samples</p>")
    top = max(samples)
    width = max(1.0, top / 40)
    bins = [0] * (int(top // width) + 1)
    for v in samples:
        bins[int(v // width)] += 1
    labels = [f"{i * width:.0f}" for i in range(len(bins))]
    return stacked_bars(
        "Upload-to-merged at half rate: documents per latency bin (ms)",
        labels,
        [Series("documents", [float(b) for b in bins])],
    )


def _throughput(points: Sequence[Sequence[float]]) -> Markup:
    if not points:
        return Markup("<p>no samples</p>")
    labels = [f"{p[0]:.0f} s" for p in points]
    return line_chart(
        "Pipeline throughput over time (documents/s)",
        labels,
        [Series("documents/s", [p[1] for p in points])],
        count,
    )


def render_report(result: dict[str, Any]) -> str:
    m, ratios, targets = result["median"], result["ratios"], result["targets"]
    cpu = m.get("cpu_ms_per_document", {})
    stages = m.get("half_stages", {})
    scaling = m.get("scaling_documents_per_s", {})
    series = result.get("series", {})
    cfg = result["config"]
    target_rows = Markup("").join(
        Markup("<tr><td>{}</td><td class=n>{}</td><td>{}</td><td class={}>{}</td></tr>").format(
            name,
            _fmt(t["value"]),
            t["target"],
            "met" if t["met"] else "missed",
            "met" if t["met"] else "missed",
        )
        for name, t in targets.items()
    )
    figures = _rows(
        [
            ("pipeline documents/s", _fmt(m["documents_per_s"])),
            ("raw COPY documents/s (the limit)", _fmt(m["raw_copy_documents_per_s"])),
            ("own-schema COPY documents/s", _fmt(m["ceiling_documents_per_s"])),
            ("naive documents/s", _fmt(m["naive_documents_per_s"])),
            *((f"ratio {k}", _fmt(v)) for k, v in ratios.items()),
            ("half rate (documents/s)", _fmt(m.get("half_rate_per_s"))),
            ("upload-to-merged p50 / p95 / p99 at half rate (ms)", _trio(m, "half")),
            ("upload-to-merged p50 / p95 / p99 at full speed (ms)", _trio(m, "full")),
            *((f"CPU ms/document: {k}", _fmt(v)) for k, v in cpu.items()),
            ("machine at full speed", describe_machine(m.get("machine_full"))),
            ("machine at half rate", describe_machine(m.get("machine_half"))),
            ("documents per transaction at full speed", _fmt(m.get("documents_per_transaction"))),
            (
                "documents per transaction at half rate",
                _fmt(m.get("half_documents_per_transaction")),
            ),
            *((f"scaling: {k} worker(s) documents/s", _fmt(v)) for k, v in scaling.items()),
        ]
    )
    stage_rows = Markup("").join(
        _STAGE_ROW.format(name, _fmt(s.get("p50_ms")), _fmt(s.get("p95_ms")), _fmt(s.get("p99_ms")))
        for name, s in stages.items()
    )
    charts = [
        _throughput(series.get("throughput", [])),
        _latency_histogram(series.get("half_latencies_ms", [])),
        horizontal_bars(
            "CPU ms per document, by process",
            [(k, v or 0.0) for k, v in cpu.items() if k != "total"],
            _ms,
        ),
        line_chart(
            "Scaling curve (documents/s by worker count)",
            [f"{k} w" for k in scaling],
            [Series("documents/s", list(scaling.values()))],
            count,
        ),
        horizontal_bars(
            "Half-rate latency split, p50 by stage (ms)",
            [(k, s.get("p50_ms") or 0.0) for k, s in stages.items()],
            millis,
        ),
    ]
    page = Markup(
        "<!doctype html><html lang=en><meta charset=utf-8><title>optimerge bench</title>"
        "<style>{style}</style><h1>optimerge bench</h1>"
        "<p>{docs:,} documents ({res:,} resources), {workers} workers, {repeats} repeats "
        "(medians), {cpus} CPUs; load average before {before}, after {after}.</p>"
        "<h2>Targets</h2><table><tr><th>figure</th><th>value</th><th>target</th><th></th></tr>"
        "{targets}</table><h2>Figures</h2><table>{figures}</table>"
        "<h2>Latency split at half rate (ms, from the workers' stage histograms)</h2>"
        "<table><tr><th>stage</th><th>p50</th><th>p95</th><th>p99</th></tr>{stages}</table>"
        "<h2>Plots</h2><div class=grid>{charts}</div></html>"
    ).format(
        style=Markup(_STYLE),  # noqa: S704 (a constant)
        docs=cfg["documents"],
        res=cfg["resources"],
        workers=cfg["workers"],
        repeats=cfg["repeats"],
        cpus=cfg.get("cpus"),
        before=", ".join(f"{v:.2f}" for v in result["load_average"]["before"]),
        after=", ".join(f"{v:.2f}" for v in result["load_average"]["after"]),
        targets=target_rows,
        figures=figures,
        stages=stage_rows,
        charts=Markup("").join(
            Markup("<figure><figcaption>{}</figcaption>{}</figure>").format(caption, c)
            for caption, c in zip(_CAPTIONS, charts, strict=True)
        ),
    )
    return str(page)


_CAPTIONS = (
    "Throughput over time: documents merged per second since the first publish",
    "Latency histogram: upload-to-merged at half rate (ms)",
    "CPU split: ms per document by process over the pipeline phase",
    "Scaling curve: documents/s by worker count",
    "Latency split at half rate: p50 by stage (ms)",
)


def _ms(v: float) -> str:
    return f"{v:.3f} ms"


def _trio(m: dict[str, Any], prefix: str) -> str:
    return " / ".join(_fmt(m.get(f"{prefix}_{p}_ms")) for p in ("p50", "p95", "p99"))
