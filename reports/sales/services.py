"""The sales dashboard (SPEC D1) assembled: the rollup counted and narrowed in SQL
(``reports.sales.queries``), the figures finished by ``reports.core``, the
charts' geometry by ``reports.charts``, and each chart's numbers as CSV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from auth.models import Team, User
from leads.core import csv_io
from reports import building, charts, core
from reports.sales import queries
from reports.sales.models import SalesRollupState
from reports.sales.queries import Filters

DEFAULT_DAYS = 90
MAX_DAYS = 731  # two years: the widest range a page asks for
CHARTS = ("funnel", "outcomes", "time-in-stage", "speed-reps", "speed-teams", "sla", "sla-reps", "load")


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 90 days, today included."""
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def duration(seconds: float | None) -> str:
    """A duration for people: minutes under an hour, hours under two days, else days."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@dataclass(frozen=True)
class SalesDashboard:
    filters: Filters
    funnel: list[core.FunnelStep]
    outcomes: core.Outcomes
    stage_times: list[core.StageTime]
    stuck: dict[int, list[queries.StuckLead]]
    speed_reps: list[core.Speed]
    speed_teams: list[core.Speed]
    speed_all: core.Speed
    weeks: list[core.Week]
    sla_reps: list[core.RepSla]
    loads: list[core.RepLoad]
    days: list[dt.date]
    rep_names: dict[int, str]
    team_names: dict[int, str]
    refreshed_at: int | None

    def rep(self, rep_id: int | None) -> str:
        return self.rep_names.get(rep_id, f"Rep {rep_id}") if rep_id else "Nobody yet"

    def team(self, team_id: int | None) -> str:
        return self.team_names.get(team_id, f"Team {team_id}") if team_id else "No team"

    # --- the charts' geometry ---

    def funnel_chart(self) -> charts.HBarChart:
        return charts.hbars(
            [
                (
                    f"{step.stage}. {step.label}",
                    step.entered,
                    "" if step.rate is None else f"{step.rate * 100:.0f}% on",
                )
                for step in self.funnel
            ]
        )

    def time_unit(self) -> tuple[str, int]:
        """Hours, or days when a stay's 90th percentile passes three days."""
        longest = max((time.spread.p90 or 0 for time in self.stage_times), default=0)
        return ("days", 86400) if longest > 3 * 86400 else ("hours", 3600)

    def time_chart(self) -> charts.ColumnChart:
        _name, unit = self.time_unit()

        def scaled(value):
            return None if value is None else value / unit

        return charts.columns(
            [str(time.stage) for time in self.stage_times],
            [
                ("Median", [scaled(time.spread.p50) for time in self.stage_times]),
                ("90th percentile", [scaled(time.spread.p90) for time in self.stage_times]),
            ],
            fmt=lambda value: f"{value:.1f}".removesuffix(".0"),
        )

    def sla_chart(self) -> charts.ColumnChart:
        return charts.columns(
            [week.start.strftime("%d %b") for week in self.weeks],
            [
                ("Not accepted in time", [week.overdue for week in self.weeks]),
                ("Declined", [week.declined for week in self.weeks]),
                ("Re-assigned by hand", [week.reassigned for week in self.weeks]),
            ],
            fmt=lambda value: f"{value:g}",
            integers=True,
        )

    def load_chart(self) -> charts.LineChart:
        return charts.lines(
            [day.strftime("%d %b") for day in self.days],
            [(self.rep(load.rep_id), list(load.open_leads), load.capacity or None) for load in self.loads],
        )


# What each CSV needs: the parts of the dashboard computed for it alone.
_PARTS = {
    "funnel": {"funnel"},
    "outcomes": {"outcomes"},
    "time-in-stage": {"stage_times"},
    "speed-reps": {"speeds"},
    "speed-teams": {"speeds"},
    "sla": {"rep_days"},
    "sla-reps": {"rep_days"},
    "load": {"rep_days"},
}
_EVERY_PART = {"funnel", "outcomes", "stage_times", "stuck", "speeds", "rep_days"}


def sales_dashboard(filters: Filters, chart: str | None = None) -> SalesDashboard:
    """Every figure of the dashboard for ``filters`` (or only those of ``chart``,
    one of ``CHARTS``, for its CSV), counted in the database: the funnel in one
    aggregate row, the outcomes grouped, one duration column per stage, the
    three spans of the sales-ready leads, five small reads of the stuck leads
    and the rep days summed per rep and day."""
    parts = _PARTS[chart] if chart else _EVERY_PART
    speed_reps: list[core.Speed] = []
    speed_teams: list[core.Speed] = []
    speed_all = core.Speed(None, 0, core.Spread.of([]), core.Spread.of([]), core.Spread.of([]))
    if "speeds" in parts:
        speed_reps, speed_teams, speed_all = queries.speeds(filters)
    weeks: list[core.Week] = []
    sla_reps: list[core.RepSla] = []
    loads: list[core.RepLoad] = []
    if "rep_days" in parts:
        days = queries.rep_days_in_range(filters)
        weeks, sla_reps = core.weekly_sla(days, filters.start, filters.end)
        if chart in (None, "load"):
            loads = core.rep_load(days, filters.start, filters.end, queries.capacities(filters))
    rep_ids = {speed.key for speed in speed_reps} | {row.rep_id for row in sla_reps}
    rep_ids |= {load.rep_id for load in loads}
    team_ids = {speed.key for speed in speed_teams}
    return SalesDashboard(
        filters=filters,
        funnel=queries.funnel(filters) if "funnel" in parts else core.funnel_of({}),
        outcomes=queries.outcomes(filters) if "outcomes" in parts else core.outcomes_of([]),
        stage_times=queries.stage_times(filters) if "stage_times" in parts else core.stage_times({}),
        stuck=queries.stuck_leads(filters) if "stuck" in parts else {},
        speed_reps=speed_reps,
        speed_teams=speed_teams,
        speed_all=speed_all,
        weeks=weeks,
        sla_reps=sla_reps,
        loads=loads,
        days=[filters.start + dt.timedelta(days=n) for n in range((filters.end - filters.start).days + 1)],
        rep_names=queries.names(User, rep_ids),
        team_names=queries.names(Team, team_ids),
        refreshed_at=queries.refreshed_at() if chart is None else None,
    )


# --- CSV, one per chart -------------------------------------------------------------


def _hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def _speed_rows(board: SalesDashboard, rows: list[core.Speed], label) -> list[dict]:
    found = []
    for speed in rows:
        found.append(
            {
                "who": label(speed.key),
                "leads": speed.leads,
                **{
                    f"{name}_{which}": _hours(getattr(getattr(speed, name), which))
                    for name in ("assigned", "accepted", "first_activity")
                    for which in ("p50", "p90")
                },
            }
        )
    return found


_SPEED_COLUMNS = [
    ("leads", "Sales-ready leads"),
    ("assigned_p50", "To assigned, median (h)"),
    ("assigned_p90", "To assigned, p90 (h)"),
    ("accepted_p50", "To accepted, median (h)"),
    ("accepted_p90", "To accepted, p90 (h)"),
    ("first_activity_p50", "To first activity, median (h)"),
    ("first_activity_p90", "To first activity, p90 (h)"),
]


def chart_csv(board: SalesDashboard, chart: str) -> Iterator[str]:
    """The numbers behind ``chart`` (one of ``CHARTS``) as CSV lines."""
    if chart == "funnel":
        rows = [
            {
                "stage": f"{step.stage}. {step.label}",
                "entered": step.entered,
                "advanced": step.advanced,
                "rate": "" if step.rate is None else f"{step.rate * 100:.1f}",
            }
            for step in board.funnel
        ]
        columns = [
            ("stage", "Stage"),
            ("entered", "Entered"),
            ("advanced", "Went on"),
            ("rate", "Went on (%)"),
        ]
    elif chart == "outcomes":
        rows = [{"outcome": "Converted", "reason": "", "leads": board.outcomes.converted}]
        rows += [
            {"outcome": "Disqualified", "reason": label, "leads": count}
            for _code, label, count in board.outcomes.disqualified
        ]
        columns = [("outcome", "Outcome"), ("reason", "Reason"), ("leads", "Leads")]
    elif chart == "time-in-stage":
        rows = [
            {
                "stage": f"{time.stage}. {time.label}",
                "stays": time.spread.count,
                "p50": _hours(time.spread.p50),
                "p90": _hours(time.spread.p90),
            }
            for time in board.stage_times
        ]
        columns = [
            ("stage", "Stage"),
            ("stays", "Stays ended"),
            ("p50", "Median (h)"),
            ("p90", "90th percentile (h)"),
        ]
    elif chart == "speed-reps":
        rows = _speed_rows(board, board.speed_reps, board.rep)
        columns = [("who", "Rep"), *_SPEED_COLUMNS]
    elif chart == "speed-teams":
        rows = _speed_rows(board, board.speed_teams, board.team)
        columns = [("who", "Team"), *_SPEED_COLUMNS]
    elif chart == "sla":
        rows = [
            {
                "week": week.start.isoformat(),
                "overdue": week.overdue,
                "declined": week.declined,
                "reassigned": week.reassigned,
            }
            for week in board.weeks
        ]
        columns = [
            ("week", "Week from"),
            ("overdue", "Not accepted in time"),
            ("declined", "Declined"),
            ("reassigned", "Re-assigned by hand"),
        ]
    elif chart == "sla-reps":
        rows = [
            {
                "rep": board.rep(row.rep_id),
                "assigned": row.assigned,
                "accepted": row.accepted,
                "overdue": row.overdue,
                "declined": row.declined,
                "reassigned": row.reassigned,
            }
            for row in board.sla_reps
        ]
        columns = [
            ("rep", "Rep"),
            ("assigned", "Assigned"),
            ("accepted", "Accepted"),
            ("overdue", "Not accepted in time"),
            ("declined", "Declined"),
            ("reassigned", "Re-assigned by hand"),
        ]
    elif chart == "load":
        rows = [
            {
                "day": day.isoformat(),
                "rep": board.rep(load.rep_id),
                "open": load.open_leads[index],
                "capacity": load.capacity,
            }
            for load in board.loads
            for index, day in enumerate(board.days)
        ]
        columns = [("day", "Day"), ("rep", "Rep"), ("open", "Open leads"), ("capacity", "Capacity")]
    else:
        raise KeyError(chart)
    return csv_io.export_csv(rows, columns)


def first_build() -> building.Building | None:
    """D1: how far the rollup's first count of the install's past leads has
    got, for the page to say so (None once it has caught up)."""
    return building.first_build(SalesRollupState)
