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


# --- Durations as histograms: the day blocks' maths (D1) ------------------------


def test_d1_a_bucket_reads_back_within_one_percent_and_small_lengths_exactly():
    assert core.PRECISION < 0.01
    assert (core.bucket_of(0), core.bucket_value(0)) == (0, 0)
    assert core.bucket_of(-5) == 0  # nothing shorter than nothing
    for seconds in range(1, 50):  # buckets narrower than a second hold one length: read exactly
        assert core.bucket_value(core.bucket_of(seconds)) == seconds
    for seconds in (50, 59, 60, 3599, 3600, 3 * H, 8 * H + 1, 86_400, 31 * 86_400, 400 * 86_400):
        bucket = core.bucket_of(seconds)
        assert core.RATIO ** (bucket - 1) <= seconds < core.RATIO**bucket
        assert core.bucket_value(bucket) == pytest.approx(seconds, rel=core.PRECISION)
    assert core.bucket_of(3 * H) < core.bucket_of(3 * H + 300)  # 3 h and 3 h 05 are told apart


@settings(deadline=None)
@given(st.integers(1, 10**9))
def test_d1_every_length_lands_in_the_bucket_that_bounds_it(seconds):
    bucket = core.bucket_of(seconds)
    assert core.RATIO ** (bucket - 1) <= seconds < core.RATIO**bucket
    assert abs(core.bucket_value(bucket) - seconds) <= core.PRECISION * seconds + 1e-9


def test_d1_histogram_percentiles_empty_one_value_all_equal():
    assert core.histogram_percentile({}, 0.5) is None
    assert core.spread_of_histogram({}) == core.Spread(0, None, None)
    one = {core.bucket_of(7 * H): 1}
    assert core.spread_of_histogram(one).count == 1
    assert core.spread_of_histogram(one).p50 == core.spread_of_histogram(one).p90
    assert core.spread_of_histogram(one).p50 == pytest.approx(7 * H, rel=core.PRECISION)
    same = {core.bucket_of(42): 10}  # ten stays of 42 s: read exactly
    assert core.spread_of_histogram(same) == core.Spread(10, 42, 42)
    zeros = {0: 3}
    assert core.spread_of_histogram(zeros) == core.Spread(3, 0, 0)
    # Ranks across buckets interpolate as ``percentile`` does: 1, 2, 3, 4 seconds.
    small = {core.bucket_of(value): 1 for value in (1, 2, 3, 4)}
    assert core.histogram_percentile(small, 0.5) == 2.5
    assert core.histogram_percentile(small, 0.9) == pytest.approx(3.7)


@settings(deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=80), st.floats(0, 1))
def test_d1_histogram_percentiles_are_within_the_precision_of_the_exact_ones(values, q):
    counts: dict[int, int] = {}
    for value in values:
        counts[core.bucket_of(value)] = counts.get(core.bucket_of(value), 0) + 1
    read = core.histogram_percentile(counts, q)
    exact = core.percentile(values, q)
    assert abs(read - exact) <= core.PRECISION * exact + 1e-6
    # …and exactly the percentile of the values as their buckets read them back.
    assert read == pytest.approx(core.percentile([core.bucket_value(core.bucket_of(v)) for v in values], q))


@settings(deadline=None)
@given(st.integers(0, 30_000), st.integers(-3, 800))
def test_d1_day_blocks_cover_the_range_once_aligned_at_most_two_of_a_size(first, span):
    last = first + span
    blocks = core.day_blocks(first, last)
    days = []
    for level, index in blocks:
        assert 0 <= level < core.LEVELS
        days += range(index << level, (index + 1) << level)
    assert days == list(range(first, last + 1))  # in order, no gap, no overlap, nothing outside
    sizes = [level for level, _index in blocks]
    assert all(sizes.count(level) <= 2 for level in set(sizes) if level < core.LEVELS - 1)


def test_d1_day_blocks_of_one_day_and_of_none():
    assert core.day_blocks(20_000, 20_000) == [(0, 20_000)]
    assert core.day_blocks(20_001, 20_000) == []
    assert core.day_blocks(256, 511) == [(8, 1)]  # one aligned block of 256 days


def test_d1_funnel_and_time_in_stage_from_the_day_blocks_of_a_known_history():
    facts = history()
    counts = core.day_histograms(facts, *WEEK)
    assert core.funnel_of_histograms(counts) == core.funnel(facts, *WEEK)
    times = {time.stage: time.spread for time in core.stage_times_of_histograms(counts)}
    exact = {time.stage: time.spread for time in core.time_in_stage(facts, *WEEK)}
    for stage in core.STAGES:
        assert times[stage].count == exact[stage].count
        for read, known in ((times[stage].p50, exact[stage].p50), (times[stage].p90, exact[stage].p90)):
            assert (read is None) == (known is None)
            if known is not None:
                assert read == pytest.approx(known, rel=core.PRECISION)
    # Stage 1: 2 h, 4 h, 2 h and 10 h: median 3 h, p90 8.2 h, each within 1%.
    assert (times[1].p50, times[1].p90) == (
        pytest.approx(3 * H, rel=core.PRECISION),
        pytest.approx(8.2 * H, rel=core.PRECISION),
    )
    # Whole days: a range ending at hour 45 still holds all of that day.
    assert core.day_histograms(facts, at(0), at(1))[core.FUNNEL + 1] == {1: 3, 0: 1}
    # Summed per block, a range's cells are the same as counted per day.
    cells = [cell for fact in facts for cell in core.fact_cells(fact.entered, fact.left, fact.outcome)]
    stored = core.block_cells(cells)
    first, last = WEEK[0] // core.DAY, (WEEK[1] - 1) // core.DAY
    summed: dict[int, dict[int, int]] = {}
    for level, index in core.day_blocks(first, last):
        for (at_level, at_index, kind, bucket, _rep, _team), count in stored.items():
            if (at_level, at_index) == (level, index):
                summed.setdefault(kind, {})[bucket] = summed.get(kind, {}).get(bucket, 0) + count
    assert summed == {kind: dict(histogram) for kind, histogram in counts.items() if histogram}


def test_d1_speeds_per_rep_and_team_in_one_pass_are_the_cores():
    rows = [
        (REP1, 7, 10, 20, None),
        (REP2, 8, 5, None, None),
        (REP1, 7, 30, 40, 50),
        (None, None, None, None, None),
        (REP1, 8, 1, 2, 3),  # a rep who changed teams between refreshes
        (REP2, 8, 7, 9, 11),
    ]
    per_rep, per_team, every = core.speeds_by_rep_and_team(rows)
    assert per_rep == core.speeds(rows, key=0)[0]
    assert per_team == core.speeds(rows, key=1)[0]
    assert every == core.speeds(rows, key=0)[1]
    assert core.speeds_by_rep_and_team([]) == ([], [], core.speeds([], key=0)[1])


def test_d2_shared_charts_draw_titled_dots_and_shares_on_a_fixed_axis():
    """D2 (the marketers' dashboard draws with the sales one's charts): a line's
    points as dots carrying their label and value, a single week in the middle,
    and shares on an axis of 0 to 100 % with each column's count in its title."""
    chart = charts.lines(["w1", "w2"], [("Leads", [3, 9], None)], dots=True)
    dots = chart.lines[0].dots
    assert [(d.label, d.value) for d in dots] == [("w1", 3), ("w2", 9)] and dots[1].y < dots[0].y
    assert [tick.label for tick in chart.ticks] == ["0", "3", "6", "9", "12"]
    assert charts.lines(["w1"], [("Leads", [1], None)]).lines[0].dots == ()
    single = charts.lines(["w1"], [("Leads", [1], None)], dots=True)
    assert single.lines[0].dots[0].x == pytest.approx((single.left + single.right) / 2)
    shares = charts.columns(
        ["a", "b"],
        [("Converted", [50.0, None])],
        fmt=lambda v: f"{v:.0f}%",
        top=100,
        notes=[["1 of 2", "0 of 0"]],
    )
    assert [tick.label for tick in shares.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    (half,) = shares.groups[0].columns
    assert half.text == "50% (1 of 2)" and half.height == pytest.approx((shares.base - 14) / 2)
    assert shares.groups[1].columns == []


def test_d1_speed_to_lead_from_the_day_blocks_is_within_the_precision_of_the_exact():
    """Speed to lead per rep, per team and for all summed from the blocks'
    histograms: the same groups and counts as ``speed_to_lead``, each median
    and 90th percentile within ``PRECISION``; a block holds the cells of its days."""
    facts = history()
    counts = core.speed_histograms(facts, *WEEK)
    per_rep, per_team, every = core.speeds_of_histograms(counts)
    exact_reps, exact_all = core.speed_to_lead(facts, *WEEK, lambda fact: fact.owner_id)
    exact_teams, _ = core.speed_to_lead(facts, *WEEK, lambda fact: fact.team_id)
    checked = 0
    for read, exact in zip([*per_rep, *per_team, every], [*exact_reps, *exact_teams, exact_all], strict=True):
        assert (read.key, read.leads) == (exact.key, exact.leads)
        for name in ("assigned", "accepted", "first_activity"):
            spread, known = getattr(read, name), getattr(exact, name)
            assert spread.count == known.count
            for value, target in ((spread.p50, known.p50), (spread.p90, known.p90)):
                assert (value is None) == (target is None)
                if target is not None:
                    assert value == pytest.approx(target, rel=core.PRECISION)
                    checked += 1
    assert checked and every.leads
    assert [speed.key for speed in per_rep] == [REP1, REP2] or None in [speed.key for speed in per_rep]
    # Nothing sales-ready: no cells; and a block of 2 days sums its two days' cells.
    assert core.speed_cells(REP1, 7, None, None, None, None) == []
    cells = core.speed_cells(REP1, 7, 3 * core.DAY, 3 * core.DAY + 60, None, 4 * core.DAY)
    assert cells == [
        (core.SPEED, 3, 0, REP1, 7),
        (core.SPEED + 1, 3, core.bucket_of(60), REP1, 7),
        (core.SPEED + 3, 3, core.bucket_of(core.DAY), REP1, 7),
    ]
    assert core.block_cells(cells)[(1, 1, core.SPEED, 0, REP1, 7)] == 1
    assert core.speeds_of_histograms({}) == ([], [], core.speeds([], key=0)[1])
