"""`optimerge monitor`'s book of windows: summed across workers per start and rule-set version."""

from datetime import UTC, datetime

from rich.console import Console

from optimerge.cli.monitor import WindowBook, render_table
from schemas.metrics import PipelineMetricsWindow

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def window(worker: str, version: int | None, documents: int) -> PipelineMetricsWindow:
    return PipelineMetricsWindow(
        worker_id=worker, window_start=START, window_end=START.replace(minute=1),
        rule_set_version=version, documents=documents, flagged=1, flag_rate=1 / documents,
    )  # fmt: skip


def test_a_switch_shows_a_row_per_version_summed_across_workers():
    book = WindowBook()
    for w in (window("a", 0, 10), window("b", 0, 5), window("a", 2, 4), window("c", None, 1)):
        book.add(w)
    rows = book.latest(10)
    assert [(r.rule_set_version, r.documents) for r in rows] == [(None, 1), (0, 15), (2, 4)]
    console = Console(width=200, record=True)
    console.print(render_table(rows, title="t"))
    text = console.export_text()
    assert "rules" in text and " v0 " in text and " v2 " in text
