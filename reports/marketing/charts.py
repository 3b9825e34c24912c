"""Where to draw the dashboard's server-side SVG charts: plain numbers in, the
coordinates a template draws out (no framework, no database). A line chart of
counts per week, several series, and a bar chart of shares (0 to 100 %)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 260
LEFT, BOTTOM, TOP, RIGHT = 48, 44, 16, 12  # room for the y ticks, the x labels and the axis titles
_NICE = (1, 2, 5)


def nice_top(value: int, ticks: int = 4) -> int:
    """The smallest "nice" number (1, 2, 5 × 10ⁿ per tick) at or above ``value``
    that splits into ``ticks`` whole steps (at least ``ticks``)."""
    scale = 1
    while True:
        for nice in _NICE:
            step = nice * scale
            if step * ticks >= value:
                return step * ticks
        scale *= 10


@dataclass(frozen=True)
class Series:
    """One line: its name, its class index (colour) and its points as SVG text."""

    name: str
    index: int
    points: str
    dots: tuple[tuple[float, float, str, int], ...]  # x, y, the x label, the value


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    base: float
    right: float
    y_ticks: tuple[tuple[int, float], ...]
    x_ticks: tuple[tuple[str, float], ...]
    series: tuple[Series, ...]


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> LineChart:
    """Counts per x label (weeks), one line per ``(name, values)``; the y axis
    runs from 0 to a nice number above the largest value; at most about eight x
    labels are written."""
    top = nice_top(max([1, *(value for _name, values in series for value in values)]))
    base, room = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    span = WIDTH - LEFT - RIGHT
    step = span / (len(labels) - 1) if len(labels) > 1 else 0
    xs = [LEFT + (index * step if len(labels) > 1 else span / 2) for index in range(len(labels))]
    every = max(1, -(-len(labels) // 8))
    drawn = []
    for index, (name, values) in enumerate(series):
        dots = tuple(
            (round(x, 1), round(base - room * value / top, 1), label, value)
            for x, label, value in zip(xs, labels, values, strict=True)
        )
        drawn.append(Series(name, index, " ".join(f"{x},{y}" for x, y, _l, _v in dots), dots))
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        base=base,
        right=WIDTH - RIGHT,
        y_ticks=tuple((value, round(base - room * value / top, 1)) for value in range(0, top + 1, top // 4)),
        x_ticks=tuple(
            (label, round(x, 1))
            for i, (label, x) in enumerate(zip(labels, xs, strict=True))
            if i % every == 0
        ),
        series=tuple(drawn),
    )


@dataclass(frozen=True)
class ShareBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    share: float | None  # None: nothing to divide by
    count: int
    of: int

    @property
    def percent(self) -> str:
        return "–" if self.share is None else f"{self.share * 100:.0f}%"


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    base: float
    y_ticks: tuple[tuple[int, float], ...]
    bars: tuple[ShareBar, ...]


def share_chart(items: Sequence[tuple[str, int, int]]) -> BarChart:
    """One bar per ``(label, count, of)``: the share ``count / of`` from 0 to 100 %."""
    base, room = HEIGHT - BOTTOM, HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(items))
    bars = []
    for index, (label, count, of) in enumerate(items):
        share = count / of if of else None
        height = room * (share or 0)
        bars.append(
            ShareBar(
                x=round(LEFT + index * slot + slot * 0.15, 1),
                y=round(base - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=label,
                share=share,
                count=count,
                of=of,
            )
        )
    ticks = tuple((percent, round(base - room * percent / 100, 1)) for percent in (0, 50, 100))
    return BarChart(WIDTH, HEIGHT, LEFT, base, ticks, tuple(bars))
