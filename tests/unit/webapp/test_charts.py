"""Server-drawn charts: valid SVG, escaped labels, the band and the limit drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from webapp.charts import Series, horizontal_bars, line_chart, percent, stacked_bars


def test_a_line_chart_is_svg_with_its_band_and_escaped_labels() -> None:
    svg = line_chart(
        "Flag <rate>", ["10:00", "10:01"], [Series("a&b", [0.1, None])], percent, band=(0.05, 0.2)
    )
    root = ET.fromstring(str(svg))
    assert root.tag.endswith("svg") and root.get("role") == "img"
    assert "Flag &lt;rate&gt;" in svg and "a&amp;b: 10 %" in svg
    assert 'class="band"' in svg and svg.count("<circle") == 1


def test_stacked_and_horizontal_bars() -> None:
    bars = stacked_bars("Reasons", ["x", "y"], [Series("r1", [1, 2]), Series("r2", [0, 3])])
    ET.fromstring(str(bars))
    assert bars.count("<rect") == 3  # zero-height parts are left out
    lag = horizontal_bars("Lag", [("extraction.results[0]", 5), ("review.actions[0]", 0)])
    ET.fromstring(str(lag))
    assert "extraction.results[0]: 5" in lag
