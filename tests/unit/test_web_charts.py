"""The dashboard's SVG charts: well-formed SVG with a title and a description, labels escaped,
no inline style, and the series the dashboard draws (days filled in, weeks for long ranges,
the time-to-takedown buckets, evenly spread sample days)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from ntd.web import charts

pytestmark = pytest.mark.fast

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & "quotes"'


def parsed(markup: str) -> ET.Element:
    """The chart as XML: parsing fails on anything not well-formed (an unescaped label)."""
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    return root


def accessible(root: ET.Element, title: str, desc: str) -> None:
    assert root.get("role") == "img"
    labelled = (root.get("aria-labelledby") or "").split()
    found = {el.get("id"): (el.text or "") for el in root if el.get("id") in labelled}
    assert list(found.values()) == [title, desc]


def no_inline_style(root: ET.Element) -> None:
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert element.tag != f"{SVG}style"
        assert element.tag != f"{SVG}script"


CHART = charts.Chart("c1", "Cases filed per day", "Cases filed each day")


def test_a_bar_chart_is_valid_svg_with_one_bar_per_value_and_a_tooltip_each() -> None:
    points = [("2031-03-01", 3.0), ("2031-03-02", 0.0), ("2031-03-03", 7.0)]

    root = parsed(charts.bar_chart(CHART, points))

    accessible(root, "Cases filed per day", "Cases filed each day")
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 3
    assert [bar.find(f"{SVG}title").text for bar in bars] == [  # type: ignore[union-attr]
        "2031-03-01: 3",
        "2031-03-02: 0",
        "2031-03-03: 7",
    ]
    heights = [float(bar.get("height", "0")) for bar in bars]
    assert heights[1] == 0 and heights[2] > heights[0] > 0
    no_inline_style(root)


def test_every_label_and_title_is_escaped() -> None:
    chart = charts.Chart('x"><script>', HOSTILE, HOSTILE)
    for markup in (
        charts.bar_chart(chart, [(HOSTILE, 1.0)]),
        charts.line_chart(chart, [(HOSTILE, 0.5)]),
        charts.hbar_chart(chart, [(HOSTILE, 2.0)]),
        charts.bar_chart(chart, []),
    ):
        assert "<script>" not in str(markup)
        root = parsed(markup)
        assert root.find(f"{SVG}title").text == HOSTILE  # type: ignore[union-attr]
        no_inline_style(root)


def test_a_line_chart_leaves_out_the_points_with_nothing_to_divide() -> None:
    points: list[tuple[str, float | None]] = [("a", None), ("b", 0.5), ("c", 1.0)]

    root = parsed(charts.line_chart(CHART, points))

    line = root.find(f"{SVG}polyline")
    assert line is not None and len(line.get("points", "").split()) == 2
    dots = root.findall(f"{SVG}circle")
    assert [d.find(f"{SVG}title").text for d in dots] == ["b: 50%", "c: 100%"]  # type: ignore[union-attr]


def test_a_chart_with_nothing_to_show_says_so() -> None:
    for markup in (
        charts.bar_chart(CHART, []),
        charts.bar_chart(CHART, [("a", 0.0)]),
        charts.line_chart(CHART, [("a", None)]),
        charts.hbar_chart(CHART, []),
    ):
        root = parsed(markup)
        accessible(root, "Cases filed per day", "Cases filed each day")
        assert [t.text for t in root.iter(f"{SVG}text")] == ["no data in this range"]


def test_top_sellers_are_drawn_largest_first_with_long_names_clipped() -> None:
    sellers = [("a-very-long-seller-name-that-goes-on (shop)", 9.0), ("s2 (shop)", 3.0)]

    root = parsed(charts.hbar_chart(CHART, sellers))

    bars = root.findall(f"{SVG}rect")
    assert float(bars[0].get("width", "0")) > float(bars[1].get("width", "0"))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels[0] is not None and labels[0].endswith("…") and len(labels[0]) == 28
    tip = bars[0].find(f"{SVG}title")
    assert tip is not None and tip.text == "a-very-long-seller-name-that-goes-on (shop): 9"


def test_filings_fill_the_days_without_any_and_go_by_week_over_long_ranges() -> None:
    per_day = {"2031-03-02": 4, "2031-03-04": 1, "2031-01-01": 9}

    days = charts.filings_series(per_day, date(2031, 3, 1), date(2031, 3, 4))
    weeks = charts.filings_series(per_day, date(2030, 11, 1), date(2031, 3, 4))

    assert days == [("2031-03-01", 0), ("2031-03-02", 4), ("2031-03-03", 0), ("2031-03-04", 1)]
    assert sum(count for _, count in weeks) == 14
    assert weeks[0][0] == "2030-11-01"  # the first week starts with the range
    assert len(weeks) <= 20


def test_sample_days_spread_over_the_range_and_end_on_its_last_day() -> None:
    assert charts.sample_days(date(2031, 3, 1), date(2031, 3, 3)) == [
        date(2031, 3, 1),
        date(2031, 3, 2),
        date(2031, 3, 3),
    ]
    sampled = charts.sample_days(date(2031, 1, 1), date(2031, 3, 31), most=8)
    assert len(sampled) == 8
    assert sampled[0] == date(2031, 1, 1) and sampled[-1] == date(2031, 3, 31)


def test_takedown_times_fall_into_their_buckets() -> None:
    spread = dict(charts.hours_histogram([0.5, 3, 3.99, 4, 30, 200, 1000]))

    assert spread["< 1 h"] == 1
    assert spread["1–4 h"] == 2
    assert spread["4–12 h"] == 1
    assert spread["1–2 d"] == 1
    assert spread["> 7 d"] == 2
    assert sum(spread.values()) == 7


def _axis_labels(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]


def test_a_count_axis_is_labelled_with_whole_numbers_none_rounded() -> None:
    """A chart of counts whose top is 1 once read 0, 0, 1 (the half rounded away)."""
    one = parsed(charts.bar_chart(CHART, [("2031-03-01", 1.0)]))
    five = parsed(charts.bar_chart(CHART, [("2031-03-01", 5.0)]))

    assert _axis_labels(one) == ["0", "1"]
    assert _axis_labels(five) == ["0", "1", "2", "3", "4", "5"]


def test_date_labels_under_a_long_range_do_not_overlap() -> None:
    days = charts.days_between(date(2031, 3, 1), date(2031, 3, 28))
    points = [(d.isoformat(), float(n % 4)) for n, d in enumerate(days)]

    root = parsed(charts.bar_chart(CHART, points))

    under = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    xs = [float(t.get("x", "0")) for t in under]
    widest = max(len(t.text or "") for t in under) * charts.CHAR_WIDTH
    assert 1 < len(under) < len(days)
    assert all(b - a >= widest for a, b in zip(xs, xs[1:], strict=False))
