"""The marketers' dashboard (SPEC D2) put together: the named queries' grouped
rows, named (sources, capture sources, campaigns, product lines), filled into
every week of the range, totalled per breakdown value, and as CSV.
``marketing_dashboard(filters, by)`` is the one call the page, its fragment
and its CSV make."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from leads.core import csv_io
from leads.intake.models import CaptureSource
from leads.records import interaction_types
from leads.records.models import Campaign, ProductLine
from reports import building, charts, core
from reports.marketing import queries
from reports.marketing.models import MarketingRollupState
from reports.marketing.queries import (
    BEFORE,
    CAMPAIGN,
    CAPTURE_PREFIX,
    CAPTURE_SOURCE,
    CONVERTED,
    EVERY_CAPTURE,
    EVERY_RULE,
    LEAD,
    MQL,
    PRODUCT_LINE,
    RULE_PREFIX,
    SALES_READY,
    SOURCE,
    Filters,
)

DEFAULT_DAYS = 90
MAX_DAYS = 731  # two years of weeks at most on one page
PRECEDING_SHOWN = 10  # the interaction types shown, most frequent first
METRICS = ("leads", MQL, SALES_READY, CONVERTED)
METRIC_LABELS = {
    "leads": "Leads",
    MQL: "Marketing qualified",
    SALES_READY: "Sales-ready",
    CONVERTED: "Converted",
}
NONE_LABELS = {
    SOURCE: "No source",
    CAPTURE_SOURCE: "Not from a capture source",
    CAMPAIGN: "No campaign",
    PRODUCT_LINE: "No product line",
}


def source_key(source: str | None):
    """The dashboard's source of a ``Lead.source``: every capture form is one
    source and every automatic rule another (their own breakdown names them)."""
    if source and source.startswith(CAPTURE_PREFIX):
        return EVERY_CAPTURE
    if source and source.startswith(RULE_PREFIX):
        return EVERY_RULE
    return source


def source_label(key: str | None) -> str:
    """How a source key reads."""
    return {EVERY_CAPTURE: "Capture forms", EVERY_RULE: "Automatic rules"}.get(
        key, key or NONE_LABELS[SOURCE]
    )


def _capture_id(source):
    if source and source.startswith(CAPTURE_PREFIX) and source[len(CAPTURE_PREFIX) :].isdigit():
        return int(source[len(CAPTURE_PREFIX) :])
    return None


def group_key(by: str, raw):
    """The breakdown value a grouped row's raw column value belongs to."""
    if by == SOURCE:
        return source_key(raw)
    if by == CAPTURE_SOURCE:
        return _capture_id(raw)
    return raw


def names(by: str) -> dict:
    """Breakdown value → name, for the breakdowns whose values are ids."""
    model = {CAPTURE_SOURCE: CaptureSource, CAMPAIGN: Campaign, PRODUCT_LINE: ProductLine}.get(by)
    if model is None:
        return {}
    return dict(model.select(model.id, model.name).tuples())


@dataclass
class Counts:
    """The four figures of one week, one breakdown value or the whole range."""

    leads: int = 0
    mql: int = 0
    sales_ready: int = 0
    converted: int = 0

    def add(self, metric: str, count: int) -> None:
        setattr(self, metric, getattr(self, metric) + count)


@dataclass
class GroupRow:
    """One breakdown value over the range, with the MQL → converted figures:
    of its leads marketing qualified in the range, how many are converted now."""

    key: object
    label: str
    counts: Counts
    mql_converted: int = 0

    @property
    def mql_rate(self) -> float | None:
        return self.mql_converted / self.counts.mql if self.counts.mql else None


@dataclass(frozen=True)
class WeekRow:
    week: dt.date
    label: str
    counts: Counts


@dataclass(frozen=True)
class Preceding:
    """An interaction type and how many of the range's sales-ready leads had one
    in the ``rollup.PRECEDING_DAYS`` before they became sales-ready."""

    type: str
    label: str
    leads: int
    share: float | None


@dataclass
class Dashboard:
    by: str
    weeks: list[dt.date]
    totals_per_week: list[Counts]
    rows: list[WeekRow]  # per week and breakdown value, rows with a figure only
    groups: list[GroupRow]
    preceding: list[Preceding]
    total: Counts
    mql_converted: int

    @property
    def mql_rate(self) -> float | None:
        return self.mql_converted / self.total.mql if self.total.mql else None

    def weekly_chart(self) -> charts.LineChart:
        """One line per figure over the weeks, each week a titled dot."""
        labels = [week.isoformat() for week in self.weeks]
        series = [(METRIC_LABELS[m], [getattr(c, m) for c in self.totals_per_week], None) for m in METRICS]
        return charts.lines(labels, series, x_ticks=8, dots=True)

    def mql_chart(self) -> charts.ColumnChart:
        """The MQL → converted rate per breakdown value, 0 to 100 %."""
        return _share_chart(
            "Converted", [(row.label, row.mql_converted, row.counts.mql) for row in self.groups]
        )

    def preceding_chart(self) -> charts.ColumnChart:
        """Per interaction type, the share of the range's sales-ready leads that had one before."""
        shares = [(row.label, row.leads, self.total.sales_ready) for row in self.preceding]
        return _share_chart("Sales-ready leads with one", shares)


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def _share_chart(name: str, items: list[tuple[str, int, int]]) -> charts.ColumnChart:
    """One column per ``(label, count, of)``: ``count / of`` on an axis of 0 to
    100 %, titled with the count (none when there is nothing to divide by)."""
    return charts.columns(
        [label for label, _count, _of in items],
        [(name, [count * 100 / of if of else None for _label, count, of in items])],
        fmt=_percent,
        top=100,
        notes=[[f"{count} of {of}" for _label, count, of in items]],
    )


def monday(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def range_filters(start: dt.date, end: dt.date, **records) -> Filters:
    """``Filters`` for whole days ``start`` to ``end``, both included."""
    return Filters(
        dt.datetime(start.year, start.month, start.day),
        dt.datetime(end.year, end.month, end.day) + dt.timedelta(days=1),
        **records,
    )


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last ``DEFAULT_DAYS`` days, today included."""
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def _weeks(filters: Filters) -> list[dt.date]:
    first, last = monday(filters.start.date()), monday((filters.end - dt.timedelta(microseconds=1)).date())
    return [first + dt.timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def _as_day(week) -> dt.date:
    """A week as the database hands it back: text, a date, or (peewee converting
    as the grouped column) a datetime."""
    if isinstance(week, dt.datetime):
        return week.date()
    return week if isinstance(week, dt.date) else dt.date.fromisoformat(str(week)[:10])


def marketing_dashboard(filters: Filters, by: str = SOURCE) -> Dashboard:
    """D2 for ``filters``, broken down ``by`` a source, capture source, campaign or
    product line: counts per week and per value, totals, the MQL → converted
    rate and the interactions that most often precede sales-readiness. Two
    queries on the rollup, whatever the range."""
    tally = _tally(filters, by)
    groups = _groups(by, tally)
    weeks = _weeks(filters)
    weekly = tally.weekly
    total = _sum(row.counts for row in groups)
    return Dashboard(
        by=by,
        weeks=weeks,
        totals_per_week=[_sum(c for (day, _key), c in weekly.items() if day == week) for week in weeks],
        rows=[
            WeekRow(week, row.label, weekly[(week, row.key)])
            for week in weeks
            for row in groups
            if (week, row.key) in weekly
        ],
        groups=groups,
        preceding=_preceding(tally.before, total.sales_ready),
        total=total,
        mql_converted=sum(row.mql_converted for row in groups),
    )


@dataclass
class _Tally:
    """The rollup's counts of a range: per (week, breakdown value), per value
    over the range (with the MQL leads converted now), and per interaction
    type before sales-ready; each lead once per week, or once in the range."""

    weekly: dict[tuple[dt.date, object], Counts]
    totals: dict[object, Counts]
    mql_converted: dict[object, int]
    before: dict[str, int]


def _tally(filters: Filters, by: str) -> _Tally:
    weekly: dict[tuple[dt.date, object], Counts] = defaultdict(Counts)
    totals: dict[object, Counts] = defaultdict(Counts)
    mql_converted: dict[object, int] = defaultdict(int)
    before: dict[str, int] = defaultdict(int)

    def add(event: str, week: dt.date, key, count: int, converted: int, *, in_week=True, in_range=True):
        if event.startswith(BEFORE):
            if in_range:
                before[event[len(BEFORE) :]] += count
            return
        metric = "leads" if event == LEAD else event
        if metric not in METRICS:
            return
        if in_week:
            weekly[(week, key)].add(metric, count)
        if in_range:
            totals[key].add(metric, count)
            if metric == MQL:
                mql_converted[key] += converted

    for number, event, raw, count, converted in queries.week_counts(filters, by):
        week = core.from_day_number(number * 7 - 3)
        add(event, week, group_key(by, raw), count, converted or 0)
    first, _end = queries.day_range(filters)
    for day, previous, event, raw, converted in queries.repeats(filters, by):
        week = monday(core.from_day_number(day))
        # the same lead on an earlier day of this week (and of the range), or of the range only
        add(
            event,
            week,
            group_key(by, raw),
            -1,
            -converted,
            in_week=previous >= max(first, core.day_number(week)),
        )
    return _Tally(dict(weekly), dict(totals), dict(mql_converted), dict(before))


def _groups(by: str, tally: _Tally) -> list[GroupRow]:
    """Each breakdown value over the range (every lead once per figure), most
    leads first."""
    named = names(by)

    def label(key) -> str:
        if by == SOURCE:
            return source_label(key)
        return named.get(key, NONE_LABELS[by]) if key is not None else NONE_LABELS[by]

    groups = [
        GroupRow(key, label(key), counts, tally.mql_converted.get(key, 0))
        for key, counts in tally.totals.items()
        if any(getattr(counts, metric) for metric in METRICS)
    ]
    return sorted(groups, key=lambda row: (-row.counts.leads, -row.counts.mql, row.label))


def _sum(many) -> Counts:
    total = Counts()
    for counts in many:
        for metric in METRICS:
            total.add(metric, getattr(counts, metric))
    return total


def _preceding(before: dict[str, int], sales_ready: int) -> list[Preceding]:
    vocabulary = interaction_types.vocabulary()
    ranked = sorted(((kind, leads) for kind, leads in before.items() if leads), key=lambda p: (-p[1], p[0]))
    return [
        Preceding(kind, vocabulary.label(kind), leads, leads / sales_ready if sales_ready else None)
        for kind, leads in ranked[:PRECEDING_SHOWN]
    ]


def source_choices(filters: Filters) -> list[tuple[str, str]]:
    """The sources of the leads created in the range, as (key, label) choices."""
    keys = {source_key(source) for (source,) in queries.sources_in_range(filters)}
    if filters.source:
        keys.add(filters.source)
    return sorted(((key, source_label(key)) for key in keys if key), key=lambda choice: choice[1].lower())


CSV_COLUMNS = (
    ("week", "Week (Monday)"),
    ("group", "Breakdown"),
    ("value", "Value"),
    ("leads", "Leads"),
    (MQL, "Marketing qualified"),
    (SALES_READY, "Sales-ready"),
    (CONVERTED, "Converted"),
)


def dashboard_csv(dashboard: Dashboard) -> Iterator[str]:
    """The counts per week and breakdown value as CSV lines (formula-neutralised)."""
    rows = (
        {
            "week": row.week.isoformat(),
            "group": queries.BREAKDOWNS[dashboard.by],
            "value": row.label,
            "leads": row.counts.leads,
            MQL: row.counts.mql,
            SALES_READY: row.counts.sales_ready,
            CONVERTED: row.counts.converted,
        }
        for row in dashboard.rows
    )
    return csv_io.export_csv(rows, CSV_COLUMNS)


def first_build() -> building.Building | None:
    """D2: how far the rollup's first count of the install's past leads has
    got, for the page to say so (None once it has caught up)."""
    return building.first_build(MarketingRollupState)
