"""`optimerge monitor`: the pipeline.metrics windows summed across workers, live in a terminal."""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from confluent_kafka import Consumer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from domain.metrics_window import combine_windows
from optimerge.cli._common import fail, with_kafka
from schemas.metrics import LatencySummary, PipelineMetricsWindow
from streams.consumers import TopicMissingError, assign_all, tail_consumer
from streams.security import Kafka
from streams.topics import BoundTopic, Topics

# The flag rate a healthy pipeline stays within (docs/contract.md#metrics).
FLAG_RATE_RANGE = (0.05, 0.20)
UPLOAD_TO_MERGED_P99_MS = 500.0
# Window starts kept in memory: enough for any screen, bounded for a monitor left running for days.
_KEPT_WINDOWS = 500


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


class WindowBook:
    """The windows received so far: redeliveries dropped by event id, summed by window_start."""

    def __init__(self) -> None:
        self._by_start: dict[datetime, dict[uuid.UUID, PipelineMetricsWindow]] = defaultdict(dict)

    def add(self, window: PipelineMetricsWindow) -> None:
        self._by_start[window.window_start][window.event_id] = window
        for start in sorted(self._by_start)[:-_KEPT_WINDOWS]:
            del self._by_start[start]

    def __len__(self) -> int:
        return len(self._by_start)

    def latest(self, count: int) -> list[PipelineMetricsWindow]:
        """The `count` latest windows, each summed across workers, oldest first."""
        starts = sorted(self._by_start)[-count:] if count > 0 else []
        return [combine_windows(list(self._by_start[s].values())) for s in starts]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _latency(summary: LatencySummary, limit: float | None = None) -> Text:
    text = f"{_ms(summary.p95)} / {_ms(summary.p99)}"
    over = limit is not None and summary.p99 is not None and summary.p99 > limit
    return Text(text, style="red" if over else "")


def _flag_rate(window: PipelineMetricsWindow) -> Text:
    if not window.documents:
        return Text("-", style="dim")
    low, high = FLAG_RATE_RANGE
    inside = low <= window.flag_rate <= high
    return Text(f"{window.flag_rate:.1%}", style="green" if inside else "red")


def _top_reasons(window: PipelineMetricsWindow, count: int = 3) -> str:
    ranked = sorted(window.reasons.items(), key=lambda item: (-item[1], item[0]))[:count]
    return ", ".join(f"{rule} {n}" for rule, n in ranked)


def render_table(windows: list[PipelineMetricsWindow], *, title: str) -> Table:
    table = Table(title=title, expand=False)
    for name in ("window (UTC)", "workers", "docs", "flagged", "flag rate", "top reasons"):
        table.add_column(
            name, justify="left" if name in ("window (UTC)", "top reasons") else "right"
        )
    for name in ("failures", "dlq", "rollbacks", "FP rate", "merge p95/p99 ms", "upload→merged"):
        table.add_column(name, justify="right")
    for w in windows:
        reviewed = f"{w.false_positive_rate:.0%}" if w.reviewed_flagged else "-"
        table.add_row(
            w.window_start.strftime("%Y-%m-%d %H:%M:%S"),
            str(len(w.worker_id.split(","))),
            str(w.documents),
            str(w.flagged),
            _flag_rate(w),
            _top_reasons(w),
            Text(str(w.merge_failures), style="red" if w.merge_failures else ""),
            Text(str(w.dead_letters), style="yellow" if w.dead_letters else ""),
            str(w.rollbacks),
            reviewed,
            _latency(w.merge_latency_ms),
            _latency(w.upload_to_merged_ms, UPLOAD_TO_MERGED_P99_MS),
        )
    return table


def _consumer(
    bootstrap: Kafka, topic: BoundTopic[PipelineMetricsWindow], *, from_beginning: bool
) -> tuple[Consumer, set[int]]:
    """A consumer of every partition, in no group (a monitor never takes windows from another)."""
    consumer = tail_consumer(bootstrap, purpose="monitor", **{"enable.partition.eof": True})
    try:
        ends = assign_all(consumer, [topic.name], start="beginning" if from_beginning else "end")
    except TopicMissingError as exc:
        consumer.close()
        fail(str(exc))
    return consumer, {partition for _, partition in ends}


def _read(
    consumer: Consumer,
    topic: BoundTopic[PipelineMetricsWindow],
    assigned: set[int],
    book: WindowBook,
    *,
    deadline: float | None,
    caught_up: Callable[[bool], bool],
    on_window: Callable[[], None] = lambda: None,
) -> None:
    """Poll until the deadline or until `caught_up(every assigned partition is at its end)`."""
    from confluent_kafka import KafkaError

    at_end: set[int | None] = set()
    while deadline is None or time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                if caught_up(bool(assigned) and at_end >= assigned):
                    return
            elif error.fatal():
                fail(f"Kafka: {error.str()}")
            else:
                typer.echo(f"warning: Kafka: {error.str()}", err=True)
            continue
        at_end.discard(message.partition())
        try:
            book.add(topic.decode(message.value() or b""))
        except ValidationError as exc:
            typer.echo(f"warning: skipped an invalid metrics window: {exc}", err=True)
            continue
        on_window()


def monitor(
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Read every window kept on the topic.")
    ] = False,
    once: Annotated[
        bool,
        typer.Option("--once", help="Print the latest windows as JSON lines and exit."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Stop after this many seconds (with --once default: one window length + 10 s)."
        ),
    ] = None,
    rows: Annotated[int, typer.Option(help="How many of the latest windows to show.")] = 20,
) -> None:
    """Watch pipeline.metrics: one row per window, summed across workers.

    Flag rates outside 5-20 % and an upload-to-merged p99 over 500 ms are shown in red.
    Percentiles summed across workers are the highest worker's (an upper bound)."""
    settings, bootstrap = with_kafka()
    topic = Topics(settings.topic_prefix).pipeline_metrics
    if once and timeout is None:
        timeout = settings.metrics_window_seconds + 10
    deadline = None if timeout is None else time.monotonic() + timeout
    book = WindowBook()
    consumer, assigned = _consumer(bootstrap, topic, from_beginning=from_beginning)
    try:
        if once:
            # From the beginning: done at the end of the topic; from now on: after a window came.
            if assigned or not from_beginning:
                _read(
                    consumer,
                    topic,
                    assigned,
                    book,
                    deadline=deadline,
                    caught_up=lambda at_end: at_end and (from_beginning or len(book) > 0),
                )
            windows = book.latest(rows)
            if not windows:
                fail(f"no metrics window on {topic.name} within {timeout:g} s")
            for window in windows:
                sys.stdout.write(window.model_dump_json() + "\n")
            return
        title = f"optimerge: {topic.name}"
        with Live(render_table([], title=title), console=Console(), refresh_per_second=4) as live:

            def redraw() -> None:
                live.update(render_table(book.latest(rows), title=title))

            # Ctrl-C is how a person stops watching: not an error.
            with contextlib.suppress(KeyboardInterrupt):
                _read(
                    consumer,
                    topic,
                    assigned,
                    book,
                    deadline=deadline,
                    caught_up=lambda _: False,
                    on_window=redraw,
                )
    finally:
        consumer.close()
