"""Server-drawn SVG charts: bars in proportion, labels escaped, a chart with no data says so."""

import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal

from bot.web.console.admin_charts import Bar, bar_chart, column_chart, percent

SVG = "{http://www.w3.org/2000/svg}"


def widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect x="150" y="\d+" width="([\d.]+)"', svg)]


def test_bars_are_in_proportion_to_their_values() -> None:
    svg = str(bar_chart("Funnel", [Bar("new", 40), Bar("mql", 10), Bar("won", 0)]))
    assert widths(svg) == [360.0, 90.0, 0.0]  # 640 wide - 150 label - 130 note = 360 for the largest
    root = ElementTree.fromstring(svg)  # well-formed XML
    assert root.get("role") == "img" and root.get("aria-label") == "Funnel"
    assert root.find(f"{SVG}title") is not None


def test_visitor_text_in_labels_is_escaped() -> None:
    hostile = '<script>alert(1)</script>" onload="x'
    svg = str(bar_chart(f"Sources {hostile}", [Bar(hostile, Decimal("2.5"), note=hostile)]))
    root = ElementTree.fromstring(svg)
    assert not [e for e in root.iter() if e.tag == f"{SVG}script" or "onload" in e.attrib]
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert texts[0] == hostile and root.get("aria-label") == f"Sources {hostile}"


def test_columns_group_series_per_category_with_a_legend() -> None:
    svg = str(column_chart("Forecast", ["2026-01", "2026-02"], [("value", [100, 50]), ("weighted", [40, 0])]))
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#', svg) if h != "12"]
    assert heights == [150.0, 60.0, 75.0, 0.0]  # 220 high - 10 top - 40 bottom - 20 legend = 150
    assert svg.count(">value</text>") == 1 and svg.count(">weighted</text>") == 1
    ElementTree.fromstring(svg)


def test_empty_charts_and_missing_rates_are_said_plainly() -> None:
    assert "no data yet" in bar_chart("Reps", []) and "no data yet" in column_chart("Forecast", [], [])
    assert (percent(None), percent(0.125)) == ("–", "12.5%")
