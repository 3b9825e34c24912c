"""The sales figures (D1), pure: a small hand-made history with known answers
for the funnel, the outcomes, time in stage (median, p90), speed to lead, the
rep days, the weekly SLA and rep load; and the chart geometry."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import charts, core

T0 = core.epoch(dt.datetime(2026, 1, 5))  # a Monday
H = 3600
REP1, REP2 = 11, 12


def at(hours: float) -> int:
    return T0 + int(hours * H)


def steps(*moves) -> list[core.Step]:
    """``(kind, old, new, hours)`` tuples as history steps."""
    return [core.Step(kind, old, new, at(hours)) for kind, old, new, hours in moves]


def history() -> list[core.LeadFact]:
    """Four leads: A goes through every stage and converts; B skips the
    teleprospecting stages (sales-ready), is declined by rep 1, accepted by
    rep 2 and disqualified; C waits in stage 2; D is disqualified in stage 1."""
    a = core.build_fact(
        core.LeadNow(1, 5, "qualified", "converted", at(0), owner_id=REP1, team_id=7),
        steps(
            ("stage", None, "1", 0),
            ("stage", "1", "2", 2),
            ("stage", "2", "3", 10),
            ("stage", "3", "4", 12),
            ("stage", "4", "5", 20),
            ("sales_ready", "0", "1", 20),
            ("status", "open", "qualified", 50),
        ),
        [core.Handling(REP1, at(21), accepted=at(23))],
        [at(30)],
    )
    b = core.build_fact(
        core.LeadNow(2, 5, "disqualified", "no_budget", at(0), owner_id=REP2, team_id=8),
        steps(
            ("stage", None, "1", 0),
            ("stage", "1", "2", 4),
            ("stage", "2", "5", 8),
            ("sales_ready", "0", "1", 8),
            ("status", "open", "disqualified", 40),
        ),
        [core.Handling(REP1, at(8.5), ended=at(10)), core.Handling(REP2, at(11), accepted=at(12))],
        [],
    )
    c = core.build_fact(
        core.LeadNow(3, 2, "open", "new", at(1)),
        steps(("stage", None, "1", 1), ("stage", "1", "2", 3)),
        [],
        [],
    )
    d = core.build_fact(
        core.LeadNow(4, 1, "disqualified", "duplicate", at(2)),
        steps(("stage", None, "1", 2), ("status", "open", "disqualified", 12)),
        [],
        [],
    )
    return [a, b, c, d]


WEEK = (at(0), at(24 * 7))


def test_percentile_interpolates_between_ranks():
    assert core.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert core.percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert core.percentile([5], 0.9) == 5
    assert core.percentile([], 0.5) is None


@settings(deadline=None)  # a loaded machine must not fail a pure property
@given(st.lists(st.integers(-1000, 1000), min_size=1, max_size=50), st.floats(0, 1))
def test_percentile_stays_within_the_values_and_grows_with_q(values, q):
    value = core.percentile(values, q)
    assert min(values) <= value <= max(values)
    assert core.percentile(values, 0) == min(values) and core.percentile(values, 1) == max(values)
    assert core.percentile(values, min(1, q + 0.1)) >= value - 1e-9


def test_d1_p7_a_fact_reads_stage_entries_exits_and_the_hand_off():
    a, b, c, d = history()
    assert a.entered == (at(0), at(2), at(10), at(12), at(20))
    assert a.left == (at(2), at(10), at(12), at(20), at(50))  # stage 5 is left at the outcome
    assert (a.outcome, a.outcome_at, a.sales_ready_at) == ("converted", at(50), at(20))
    assert (a.assigned_at, a.accepted_at, a.first_activity_at) == (at(21), at(23), at(30))
    assert b.entered == (at(0), at(4), None, None, at(8))  # P3: sales-ready skips stages 3 and 4
    assert (b.outcome, b.outcome_reason, b.assigned_at, b.accepted_at) == (
        "disqualified",
        "no_budget",
        at(8.5),
        at(12),
    )
    assert c.left == (at(3), None, None, None, None) and c.stage_since == at(3) and c.outcome is None
    assert d.left[0] == at(12) and d.active_until == at(12)


def test_d1_funnel_counts_entries_and_who_went_on():
    funnel = core.funnel(history(), *WEEK)
    assert [(step.stage, step.entered, step.advanced) for step in funnel] == [
        (1, 4, 3),
        (2, 3, 2),
        (3, 1, 1),
        (4, 1, 1),
        (5, 2, 1),  # from stage 5, going on is converting
    ]
    assert funnel[0].rate == 0.75 and funnel[4].rate == 0.5
    assert core.funnel(history(), at(5), at(9))[4].entered == 1  # only B entered stage 5 then


def test_d1_outcomes_per_reason():
    outcomes = core.outcomes(history(), *WEEK)
    assert outcomes.converted == 1 and outcomes.disqualified_total == 2
    reasons = {code: count for code, _label, count in outcomes.disqualified}
    assert reasons["no_budget"] == 1 and reasons["duplicate"] == 1 and reasons["competitor"] == 0
    assert core.outcomes(history(), at(45), at(60)).converted == 1
    assert core.outcomes(history(), at(45), at(60)).disqualified_total == 0


def test_d1_p7_time_in_stage_median_and_p90():
    times = {time.stage: time.spread for time in core.time_in_stage(history(), *WEEK)}
    # Stage 1 stays: 2 h (A), 4 h (B), 2 h (C), 10 h (D, left at its outcome).
    assert (times[1].count, times[1].p50, times[1].p90) == (4, 3 * H, pytest.approx(8.2 * H))
    assert (times[2].count, times[2].p50, times[2].p90) == (2, 6 * H, pytest.approx(7.6 * H))  # C still there
    assert (times[3].p50, times[4].p50) == (2 * H, 8 * H)
    assert (times[5].p50, times[5].p90) == (31 * H, pytest.approx(31.8 * H))
    # Only the stays that ended in the range count.
    assert core.time_in_stage(history(), at(45), at(60))[4].spread.count == 1


def test_d1_speed_to_lead_per_rep_and_for_all():
    per_rep, every = core.speed_to_lead(history(), *WEEK, lambda fact: fact.owner_id)
    assert every.leads == 2
    assert (every.assigned.p50, every.assigned.p90) == (0.75 * H, pytest.approx(0.95 * H))
    assert (every.accepted.p50, every.accepted.p90) == (3.5 * H, pytest.approx(3.9 * H))
    assert (every.first_activity.count, every.first_activity.p50) == (1, 10 * H)
    assert [(speed.key, speed.leads, speed.accepted.p50) for speed in per_rep] == [
        (REP1, 1, 3 * H),
        (REP2, 1, 4 * H),
    ]
    per_team, _ = core.speed_to_lead(history(), *WEEK, lambda fact: fact.team_id)
    assert [speed.key for speed in per_team] == [7, 8]


def intervals() -> list[core.Interval]:
    return [
        core.Interval(REP1, at(21), until=at(50), accepted=at(23)),  # A until its outcome
        core.Interval(REP1, at(8.5), until=at(10), ended=at(10), ended_as=core.DECLINED),
        core.Interval(REP2, at(11), until=at(40), accepted=at(12)),
        core.Interval(REP2, at(30), until=at(60), ended=at(60), ended_as=core.OVERDUE),
        core.Interval(REP1, at(26), until=at(170), ended=at(170), ended_as=core.REASSIGNED),  # next week
    ]


def test_d1_r6_rep_days_count_open_leads_at_the_day_end_and_the_events():
    first, last = dt.date(2026, 1, 5), dt.date(2026, 1, 12)
    days = {(day.rep_id, day.day.day): day for day in core.rep_days(intervals(), first, last)}
    monday = days[(REP1, 5)]
    assert (monday.open_leads, monday.assigned, monday.accepted, monday.declined) == (1, 2, 1, 1)
    assert days[(REP1, 6)].open_leads == 2  # A (until hour 50) and the one from hour 26
    assert days[(REP1, 7)].open_leads == 1 and days[(REP1, 12)].reassigned == 1
    assert (REP1, 12) in days and days[(REP1, 12)].open_leads == 0
    assert days[(REP2, 5)].open_leads == 1 and days[(REP2, 6)].open_leads == 1  # overdue one, until hour 60
    assert days[(REP2, 7)].overdue == 1 and (REP2, 8) not in days


def test_d1_r6_weekly_sla_and_rep_load():
    first, last = dt.date(2026, 1, 5), dt.date(2026, 1, 18)
    days = core.rep_days(intervals(), first, last)
    weeks, reps = core.weekly_sla(days, first, last)
    assert [(week.start.day, week.overdue, week.declined, week.reassigned) for week in weeks] == [
        (5, 1, 1, 0),
        (12, 0, 0, 1),
    ]
    assert [(row.rep_id, row.assigned, row.accepted, row.overdue, row.declined) for row in reps] == [
        (REP1, 3, 1, 0, 1),
        (REP2, 2, 1, 1, 0),
    ]
    loads = {load.rep_id: load for load in core.rep_load(days, first, dt.date(2026, 1, 8), {REP1: 2, 99: 5})}
    assert loads[REP1].open_leads == (1, 2, 1, 1) and loads[REP1].days_full == 1 and loads[REP1].peak == 2
    assert loads[REP2].capacity == 0 and loads[99].open_leads == (0, 0, 0, 0)


def test_chart_geometry_has_round_ticks_and_bars_in_proportion():
    assert [charts.nice_ceiling(v) for v in (0, 3, 7, 12, 26, 180)] == [1, 5, 10, 20, 50, 200]
    funnel = charts.hbars([("a", 10, ""), ("b", 5, "50%")])
    assert funnel.bars[1].width == pytest.approx(funnel.bars[0].width / 2)
    chart = charts.columns(["1", "2"], [("Median", [2, None]), ("p90", [4, 8])])
    assert [tick.label for tick in chart.ticks] == ["0", "2", "4", "6", "8"]
    assert len(chart.groups[1].columns) == 1 and chart.groups[1].columns[0].height == pytest.approx(
        chart.base - 14
    )
    assert [tick.label for tick in charts.columns(["w"], [("n", [1])], integers=True).ticks] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]
    assert (
        charts.axis_top(32) == 40 and charts.axis_top(0.3) == 0.4 and charts.axis_top(9, integers=True) == 12
    )
    line = charts.lines(["d1", "d2", "d3"], [("Rep", [0, 2, 4], 5)])
    assert line.lines[0].points.count(",") == 3 and line.lines[0].reference_y is not None
