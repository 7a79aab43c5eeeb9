"""Charts drawn on the server as SVG (no JavaScript, no library): lines with a target band or
limit, stacked bars, and horizontal bars. Numbers are also in the page as text; a chart is the
picture of them (role="img" with a title)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 60, 10, 12, 28
Format = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float | None]


def percent(v: float) -> str:
    return f"{v * 100:.1f} %" if 0 < v < 0.1 else f"{v * 100:.0f} %"


def count(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or v == int(v) else f"{v:.1f}"


def millis(v: float) -> str:
    return f"{v / 1000:,.1f} s" if v >= 10_000 else f"{v:,.0f} ms"


def _x(i: int, n: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner * (i + 0.5) / n if n else 0)


def _y(v: float, top: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (1 - (v / top if top else 0))


def _frame(title: str, top: float, fmt: Format, labels: Sequence[str], body: list[str]) -> Markup:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, 0.5, 1.0):
        y = _y(top * tick, top)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(top * tick))}</text>"
        )
    step = max(1, len(labels) // 6)
    for i in range(0, len(labels), step):
        parts.append(
            f'<text class="axis" x="{_x(i, len(labels)):.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="middle">{escape(labels[i])}</text>'
        )
    parts.extend(body)
    parts.append("</svg>")
    # Every value interpolated above went through escape().
    return Markup("".join(parts))  # noqa: S704


def _top(values: Sequence[float | None], floor: float) -> float:
    present = [v for v in values if v is not None]
    return max([floor, *present]) * 1.1 if present or floor else 1.0


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Format,
    *,
    band: tuple[float, float] | None = None,
    limit: float | None = None,
    floor: float = 0.0,
    cap: float | None = None,
) -> Markup:
    """Lines over the buckets; a shaded target band or a dashed limit line; `cap` bounds the
    axis (1.0 for rates)."""
    marks: list[float | None] = [band[1]] if band else [limit] if limit is not None else []
    top = _top([v for s in series for v in s.values] + marks, floor)
    if cap is not None:
        top = min(top, cap)
    body: list[str] = []
    if band is not None:
        y1, y0 = _y(band[1], top), _y(band[0], top)
        body.append(
            f'<rect class="band" x="{LEFT}" y="{y1:.1f}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{y0 - y1:.1f}"><title>target {escape(fmt(band[0]))} – '
            f"{escape(fmt(band[1]))}</title></rect>"
        )
    if limit is not None:
        y = _y(limit, top)
        body.append(
            f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
            f"<title>limit {escape(fmt(limit))}</title></line>"
        )
    n = len(labels)
    for index, s in enumerate(series):
        points = [(_x(i, n), _y(v, top), v) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            body.append(f'<polyline class="line s{index}" points="{path}"/>')
        for x, y, v in points:
            body.append(
                f'<circle class="dot s{index}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(s.label)}: {escape(fmt(v))}</title></circle>"
            )
    return _frame(title, top, fmt, labels, body)


def stacked_bars(
    title: str, labels: Sequence[str], stacks: Sequence[Series], fmt: Format = count
) -> Markup:
    n = len(labels)
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(n)]
    top = _top(totals, 1.0)
    width = max(2.0, (WIDTH - LEFT - RIGHT) / max(n, 1) * 0.7)
    body: list[str] = []
    for i in range(n):
        base = 0.0
        for index, s in enumerate(stacks):
            v = s.values[i] or 0
            if not v:
                continue
            y_top, y_base = _y(base + v, top), _y(base, top)
            body.append(
                f'<rect class="bar s{index}" x="{_x(i, n) - width / 2:.1f}" y="{y_top:.1f}" '
                f'width="{width:.1f}" height="{y_base - y_top:.1f}"><title>{escape(labels[i])} '
                f"{escape(s.label)}: {escape(fmt(v))}</title></rect>"
            )
            base += v
    return _frame(title, top, fmt, labels, body)


def horizontal_bars(title: str, items: Sequence[tuple[str, float]], fmt: Format = count) -> Markup:
    row = 18
    height = max(40, TOP + row * len(items) + 8)
    top = max([1.0, *(v for _, v in items)])
    inner = WIDTH - 170 - RIGHT
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, v) in enumerate(items):
        y = TOP + i * row
        w = inner * v / top
        parts.append(
            f'<text class="axis" x="164" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar s0" x="170" y="{y + 2}" width="{max(w, 1):.1f}" height="{row - 6}">'
            f"<title>{escape(label)}: {escape(fmt(v))}</title></rect>"
            f'<text class="axis" x="{174 + w:.1f}" y="{y + 12}">{escape(fmt(v))}</text>'
        )
    parts.append("</svg>")
    # Every value interpolated above went through escape().
    return Markup("".join(parts))  # noqa: S704


def tradeoff_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    marks: Sequence[tuple[int, str]],
    fmt: Format = percent,
) -> Markup:
    """Rates (0..1) against the values of one threshold (the x labels), with a vertical mark at
    each (index, label): where the current and the recommended threshold are."""
    chart = line_chart(title, labels, series, fmt, cap=1.0)
    n = len(labels)
    lines = []
    for row, (index, label) in enumerate(marks):
        x = _x(index, n)
        kind = escape(label.split()[0].lower())
        # One label a row: marks at the same value must not print over each other.
        y = TOP + 9 + 11 * row
        lines.append(
            f'<line class="mark mark-{kind}" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" '
            f'y2="{HEIGHT - BOTTOM}"><title>{escape(label)}</title></line>'
            f'<text class="axis mark-label" x="{x + 3:.1f}" y="{y}">{escape(label)}</text>'
        )
    # Every value interpolated above went through escape().
    return Markup(str(chart).replace("</svg>", "".join(lines) + "</svg>"))  # noqa: S704
