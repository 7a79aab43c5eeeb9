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


def test_a_tradeoff_chart_marks_the_current_and_the_recommended_value() -> None:
    from webapp.charts import tradeoff_chart

    svg = tradeoff_chart(
        "Against <min_confidence>",
        ["0.70", "0.75", "0.80"],
        [Series("Flag rate", [0.08, 0.1, 0.14]), Series("False positives", [0.09, None, 0.13])],
        [(2, "current 0.80"), (1, "recommended 0.75")],
    )
    root = ET.fromstring(str(svg))
    marks = [e for e in root.iter() if (e.get("class") or "").startswith("mark ")]
    assert [m.get("class") for m in marks] == ["mark mark-current", "mark mark-recommended"]
    assert "Against &lt;min_confidence&gt;" in svg and svg.count("<circle") == 5
