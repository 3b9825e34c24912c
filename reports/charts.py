"""The geometry of the dashboards' server-drawn SVG charts (the sales and the
marketers' dashboards): horizontal bars, grouped columns and lines, each with
a value axis of round ticks. Plain values in, coordinates out; the templates
(``templates/reports/_charts.html``) draw them with a title, axis labels and
classes only (no inline style).

The score charts of ``leads.scoring`` draw score buckets and bands and nothing
else; these take any labelled series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 640
SERIES_CLASSES = 6  # series-0 … series-5 in the style sheet; more series reuse them


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def axis_top(largest: float, integers: bool = False) -> float:
    """The top of a value axis of four equal round steps at or above ``largest``
    (whole steps for counts)."""
    step = nice_ceiling(largest / 4) if largest > 0 else (1 if integers else 0.25)
    if integers:
        step = max(1, math.ceil(step))
    return step * 4


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Tick:
    label: str
    at: float  # y for a value axis, x for a time axis


def _value_ticks(top: float, base: float, height: float, fmt: Callable[[float], str]) -> list[Tick]:
    return [Tick(fmt(top * step / 4), base - height * step / 4) for step in range(5)]


# --- Horizontal bars (the funnel) --------------------------------------------------


@dataclass(frozen=True)
class HBar:
    label: str
    value: float
    note: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class HBarChart:
    width: int
    height: int
    left: int
    bar_height: int
    bars: list[HBar]


def hbars(items: Sequence[tuple[str, float, str]], width: int = WIDTH, left: int = 230) -> HBarChart:
    """One bar per ``(label, value, note)``, as long as its share of the largest,
    centred like a funnel; the note is written after the bar's value."""
    row, bar_height = 34, 24
    span = width - left - 10
    top = max((value for _label, value, _note in items), default=0) or 1
    bars = []
    for index, (label, value, note) in enumerate(items):
        length = span * value / top
        bars.append(HBar(label, value, note, left + (span - length) / 2, 8 + index * row, length, bar_height))
    return HBarChart(width, 16 + row * len(items), left, bar_height, bars)


# --- Grouped columns (time in stage, weekly SLA) ----------------------------------


@dataclass(frozen=True)
class Column:
    series: int
    name: str
    value: float
    x: float
    y: float
    width: float
    height: float
    text: str

    @property
    def css(self) -> str:
        return f"series-{self.series % SERIES_CLASSES}"


@dataclass(frozen=True)
class ColumnGroup:
    label: str
    centre: float
    columns: list[Column]


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: int
    base: float
    ticks: list[Tick]
    groups: list[ColumnGroup]
    names: list[str]
    label_every: int  # write every n-th group's label (many weeks would overlap)


def columns(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    fmt: Callable[[float], str] = _plain,
    width: int = WIDTH,
    height: int = 260,
    integers: bool = False,
    top: float | None = None,
    notes: Sequence[Sequence[str]] | None = None,
) -> ColumnChart:
    """Per category, one column per series (None draws nothing), over a value
    axis from 0 to a round ceiling (whole steps with ``integers``), or to
    ``top`` (shares: 100); ``fmt`` writes the ticks and the values, and
    ``notes`` (per series, per category) follow a value in its title."""
    left, top_margin, bottom = 56, 14, 40
    base = height - bottom
    plot = base - top_margin
    largest = max((value or 0 for _name, values in series for value in values), default=0)
    top = top or axis_top(largest, integers)
    slot = (width - left - 6) / max(1, len(categories))
    inner = min(slot * 0.8, 36.0 * max(1, len(series)))  # a few categories: columns stay slim
    each = inner / max(1, len(series))
    groups = []
    for index, category in enumerate(categories):
        start = left + slot * index + (slot - inner) / 2
        cols = []
        for number, (name, values) in enumerate(series):
            value = values[index]
            if value is None:
                continue
            tall = plot * value / top
            text = fmt(value) + (f" ({notes[number][index]})" if notes and notes[number][index] else "")
            cols.append(Column(number, name, value, start + each * number, base - tall, each, tall, text))
        groups.append(ColumnGroup(category, left + slot * index + slot / 2, cols))
    label_every = max(1, math.ceil(len(categories) / max(1, (width - left) // 60)))
    return ColumnChart(
        width,
        height,
        left,
        base,
        _value_ticks(top, base, plot, fmt),
        groups,
        [n for n, _ in series],
        label_every,
    )


# --- Lines (rep load over time) ----------------------------------------------------


@dataclass(frozen=True)
class Dot:
    """A point of a line drawn as a dot, with its x label and value for its title."""

    x: float
    y: float
    label: str
    value: float


@dataclass(frozen=True)
class Line:
    series: int
    name: str
    points: str  # "x,y x,y …" for a polyline
    reference_y: float | None  # the capacity line, None without one
    reference: float | None
    last: float
    dots: tuple[Dot, ...] = ()

    @property
    def css(self) -> str:
        return f"series-{self.series % SERIES_CLASSES}"


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    right: int
    base: float
    ticks: list[Tick]
    x_ticks: list[Tick]
    lines: list[Line]


def lines(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], float | None]],
    width: int = WIDTH,
    height: int = 260,
    x_ticks: int = 6,
    dots: bool = False,
) -> LineChart:
    """One polyline per ``(name, values, reference)`` over the same x labels,
    and a horizontal line at each series' reference value (its capacity, or
    None); with ``dots``, each point is a dot titled with its x label and value
    (few points: weeks). A single x label sits in the middle."""
    left, right, top_margin, bottom = 44, width - 8, 14, 40
    base = height - bottom
    plot = base - top_margin
    largest = max(
        [value for _name, values, _ref in series for value in values]
        + [ref for _name, _values, ref in series if ref is not None],
        default=0,
    )
    top = axis_top(largest, integers=True)
    count = len(x_labels)
    step = (right - left) / max(1, count - 1)
    at = [left + step * index if count > 1 else (left + right) / 2 for index in range(count)]

    scale = plot / top
    xs = [f"{x:.1f}" for x in at]
    drawn = []
    for number, (name, values, reference) in enumerate(series):
        points = " ".join(f"{x},{base - scale * value:.1f}" for x, value in zip(xs, values, strict=False))
        ref_y = round(base - scale * reference, 1) if reference is not None else None
        marks = (
            tuple(
                Dot(round(x, 1), round(base - scale * value, 1), label, value)
                for x, label, value in zip(at, x_labels, values, strict=False)
            )
            if dots
            else ()
        )
        drawn.append(Line(number, name, points, ref_y, reference, values[-1] if values else 0, marks))
    every = max(1, math.ceil(count / x_ticks))
    ticks = [Tick(x_labels[index], at[index]) for index in range(0, count, every)]
    return LineChart(width, height, left, right, base, _value_ticks(top, base, plot, _plain), ticks, drawn)
