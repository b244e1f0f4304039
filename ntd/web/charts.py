"""The dashboard's charts as SVG markup: pure functions from figures to `Markup`.

Every label is escaped here, because the markup is inserted into templates as is. Each chart
carries `<title>` and `<desc>` for screen readers (the page also shows the figures as a table).
Colours come from classes in static/ntd.css and geometry from presentation attributes: the
Content-Security-Policy forbids `style=""`, so nothing here is an inline style.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
"""The viewBox; the stylesheet scales the SVG to its column."""
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
"""Margins for the value axis (left) and the category labels (bottom)."""
MAX_LABELS = 8
"""Category labels beyond this many crowd the axis: every n-th is shown."""
CHAR_WIDTH, LABEL_GAP = 8, 12
"""A label's character at the axis' 13px (a digit is some 7.2 wide) and the space between two
labels: a 10-character date needs 92 units, so at 28 days (21 a bar) every fifth is shown."""


@dataclass(frozen=True, slots=True)
class Chart:
    """What every chart says about itself: an id unique on the page, a title and a description."""

    ident: str
    title: str
    desc: str


def _open(chart: Chart, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    ident = escape(chart.ident)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.desc)}</desc>',
    ]


def _empty(chart: Chart, message: str = "no data in this range") -> Markup:
    parts = _open(chart, WIDTH, 60)
    parts.append(f'<text class="chart-empty" x="{WIDTH // 2}" y="34" text-anchor="middle">')
    parts.append(f"{escape(message)}</text></svg>")
    return Markup("".join(parts))


def _number(value: float) -> str:
    """A coordinate with at most one decimal: short markup, exact enough for a screen."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_top(top: float) -> float:
    """The axis maximum: the next 1, 2 or 5 times a power of ten at or above `top`."""
    if top <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= top:
        step *= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= top:
            return factor * step
    return 10 * step


def _ticks(top: float, whole: bool) -> list[float]:
    """The gridlines' values: 0, half and the top; for whole numbers (counts) only whole
    values, so that no label is rounded (a top of 1 would read 0, 0, 1): then one per unit."""
    half = top / 2
    if not whole or half.is_integer():
        return [0.0, half, top]
    return [float(n) for n in range(int(top) + 1)]


def _axis(top: float, fmt: str, whole: bool = False) -> list[str]:
    """The value axis: gridlines at the ticks, labelled."""
    plot = HEIGHT - TOP - BOTTOM
    parts = []
    for value in _ticks(top, whole):
        y = _number(TOP + plot * (1 - value / top))
        label = fmt.format(value)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>'
        )
    return parts


def _labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """The category labels under the plot, thinned to every n-th so that none overlap."""
    slot = xs[1] - xs[0] if len(xs) > 1 else float(WIDTH)
    wide = max(len(label) for label in labels) * CHAR_WIDTH + LABEL_GAP
    every = max(1, -(-len(labels) // MAX_LABELS), math.ceil(wide / slot))
    y = HEIGHT - BOTTOM + 16
    return [
        f'<text class="chart-axis" x="{_number(x)}" y="{y}" text-anchor="middle">'
        f"{escape(label)}</text>"
        for n, (label, x) in enumerate(zip(labels, xs, strict=True))
        if n % every == 0
    ]


def bar_chart(chart: Chart, points: Sequence[tuple[str, float]], fmt: str = "{:,.0f}") -> Markup:
    """Vertical bars, one per (label, value), each with a tooltip naming both."""
    if not points or all(value == 0 for _, value in points):
        return _empty(chart)
    top = _nice_top(max(value for _, value in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    bar = max(1.0, slot * 0.8)
    whole = all(float(value).is_integer() for _, value in points)
    parts = _open(chart) + _axis(top, fmt, whole)
    xs = []
    for n, (label, value) in enumerate(points):
        height = plot_h * value / top
        x = LEFT + slot * n + (slot - bar) / 2
        xs.append(x + bar / 2)
        parts.append(
            f'<rect class="chart-bar" x="{_number(x)}" y="{_number(TOP + plot_h - height)}" '
            f'width="{_number(bar)}" height="{_number(height)}">'
            f"<title>{escape(label)}: {escape(fmt.format(value))}</title></rect>"
        )
    parts += _labels([label for label, _ in points], xs)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    chart: Chart, points: Sequence[tuple[str, float | None]], top: float = 1.0, fmt: str = "{:.0%}"
) -> Markup:
    """A line through the values that exist (None: nothing to divide, no point), on a fixed
    scale from 0 to `top` (rates: 0 to 100 %)."""
    known = [(n, value) for n, (_, value) in enumerate(points) if value is not None]
    if not known:
        return _empty(chart)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    xs = [LEFT + slot * (n + 0.5) for n in range(len(points))]

    def at(n: int, value: float) -> tuple[str, str]:
        return _number(xs[n]), _number(TOP + plot_h * (1 - min(value, top) / top))

    parts = _open(chart) + _axis(top, fmt)
    path = " ".join(",".join(at(n, value)) for n, value in known)
    parts.append(f'<polyline class="chart-line" fill="none" points="{path}"/>')
    for n, value in known:
        x, y = at(n, value)
        label = points[n][0]
        parts.append(
            f'<circle class="chart-dot" cx="{x}" cy="{y}" r="3">'
            f"<title>{escape(label)}: {escape(fmt.format(value))}</title></circle>"
        )
    parts += _labels([label for label, _ in points], xs)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(chart: Chart, items: Sequence[tuple[str, float]], fmt: str = "{:,.0f}") -> Markup:
    """Horizontal bars, largest first as given: long labels (seller names) read best so."""
    if not items:
        return _empty(chart)
    row, label_w = 24, 200
    height = TOP + row * len(items) + 8
    top = max(value for _, value in items) or 1
    plot_w = WIDTH - label_w - RIGHT - 48
    parts = _open(chart, WIDTH, height)
    for n, (label, value) in enumerate(items):
        y = TOP + row * n
        width = plot_w * value / top
        parts.append(
            f'<text class="chart-axis" x="{label_w - 8}" y="{y + row / 2:.0f}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(_clip(label))}</text>'
        )
        parts.append(
            f'<rect class="chart-bar" x="{label_w}" y="{y + 3}" width="{_number(width)}" '
            f'height="{row - 6}"><title>{escape(label)}: {escape(fmt.format(value))}</title></rect>'
        )
        parts.append(
            f'<text class="chart-value" x="{_number(label_w + width + 6)}" y="{y + row / 2:.0f}" '
            f'dominant-baseline="middle">{escape(fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _clip(label: str, most: int = 28) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


# -- series: the dashboard's figures shaped for the charts ------------------------------------

MAX_DAYS = 92
"""Longer ranges are shown by week: 92 bars of a few pixels each are still readable."""


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included (none when end is before start)."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def filings_series(per_day: Mapping[str, int], start: date, end: date) -> list[tuple[str, int]]:
    """Cases filed per day in [start, end], days without filings as 0; by week (labelled by
    its first day) when the range is longer than MAX_DAYS."""
    days = days_between(start, end)
    counts = [(day, per_day.get(day.isoformat(), 0)) for day in days]
    if len(days) <= MAX_DAYS:
        return [(day.isoformat(), count) for day, count in counts]
    weeks: dict[date, int] = {}
    for day, count in counts:
        monday = day - timedelta(days=day.weekday())
        weeks[max(monday, start)] = weeks.get(max(monday, start), 0) + count
    return [(day.isoformat(), count) for day, count in sorted(weeks.items())]


def sample_days(start: date, end: date, most: int = 8) -> list[date]:
    """At most `most` days spread evenly over [start, end], end included: the moments a
    figure that is computed as of a time (the takedown rate) is drawn at."""
    days = days_between(start, end)
    if len(days) <= most:
        return days
    step = (len(days) - 1) / (most - 1)
    return sorted({days[round(step * n)] for n in range(most)})


TAKEDOWN_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 1),
    ("1–4 h", 4),
    ("4–12 h", 12),
    ("12–24 h", 24),
    ("1–2 d", 48),
    ("2–4 d", 96),
    ("4–7 d", 168),
    ("> 7 d", float("inf")),
)
"""Upper bounds (hours, exclusive) of the time-to-takedown histogram's buckets."""


def hours_histogram(hours: Iterable[float]) -> list[tuple[str, int]]:
    """How many takedowns took how long, by TAKEDOWN_BUCKETS."""
    counts = [0] * len(TAKEDOWN_BUCKETS)
    for value in hours:
        index = next(n for n, (_, bound) in enumerate(TAKEDOWN_BUCKETS) if value < bound)
        counts[index] += 1
    return [(label, count) for (label, _), count in zip(TAKEDOWN_BUCKETS, counts, strict=True)]
