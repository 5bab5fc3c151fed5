"""Charts as SVG drawn on the server: no JavaScript, nothing to load, allowed by the console's CSP.

Two shapes cover the dashboard: horizontal bars (funnel, sources, reps, drop-off) and grouped columns
(forecast: value and weighted value per month). Every label is XML-escaped (a lead source is visitor
data), every chart has a <title> and an aria-label, and the page shows the same numbers in a table.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

PALETTE = ("#3b6fd8", "#9bb7ee", "#d8743b", "#4c9a6a")
Number = int | float | Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number
    note: str = ""  # shown after the bar, e.g. "42 (35 %)"


def _scale(value: Number, largest: Number, length: float) -> float:
    return 0.0 if largest <= 0 or value <= 0 else float(value) / float(largest) * length


def _svg(title: str, width: int, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label={quoteattr(title)} '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(title: str, bars: Sequence[Bar], width: int = 640, label_width: int = 150) -> Markup:
    """Horizontal bars, longest = the largest value; an empty chart says there is no data."""
    row, gap, note_width = 22, 6, 130
    if not bars:
        return _svg(title, width, 30, ['<text x="0" y="20" class="chart-empty">no data yet</text>'])
    largest = max(bar.value for bar in bars)
    room = width - label_width - note_width
    body = []
    for index, bar in enumerate(bars):
        y = index * (row + gap)
        length = _scale(bar.value, largest, room)
        body.append(
            f'<g class="bar"><text x="{label_width - 8}" y="{y + row * 0.72:.1f}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{row}" fill="{PALETTE[0]}" rx="3">'
            f"<title>{escape(bar.label)}: {escape(bar.note or str(bar.value))}</title></rect>"
            f'<text x="{label_width + length + 6:.1f}" y="{y + row * 0.72:.1f}">'
            f"{escape(bar.note or str(bar.value))}</text></g>"
        )
    return _svg(title, width, len(bars) * (row + gap), body)


def column_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Grouped columns: one group per category, one column per series, with a legend."""
    if not categories:
        return _svg(title, width, 30, ['<text x="0" y="20" class="chart-empty">no data yet</text>'])
    top, bottom, legend = 10, 40, 20
    plot = height - top - bottom - legend
    largest = max((value for _, values in series for value in values), default=0)
    group = width / len(categories)
    column = min(40.0, group * 0.8 / max(1, len(series)))
    body = [f'<line x1="0" x2="{width}" y1="{top + plot}" y2="{top + plot}" stroke="#c9ced6"/>']
    for c, category in enumerate(categories):
        left = c * group + (group - column * len(series)) / 2
        for s, (name, values) in enumerate(series):
            length = _scale(values[c], largest, plot)
            x = left + s * column
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot - length:.1f}" width="{column - 2:.1f}" '
                f'height="{length:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(category)} {escape(name)}: {values[c]}</title></rect>"
            )
        body.append(
            f'<text x="{c * group + group / 2:.1f}" y="{top + plot + 16}" text-anchor="middle">'
            f"{escape(category)}</text>"
        )
    for s, (name, _) in enumerate(series):
        x = s * 160
        body.append(
            f'<rect x="{x}" y="{height - 14}" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 18}" y="{height - 4}">{escape(name)}</text>'
        )
    return _svg(title, width, height, body)


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"
