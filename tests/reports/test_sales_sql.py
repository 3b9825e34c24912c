"""The sales dashboard's figures counted in the database (D1) are the pure
core's over the same facts, on SQLite and PostgreSQL: a seeded mix of stored
facts (open, converted, disqualified with and without a reason, moments on the
range's bounds, missing hand-offs), several ranges and filters; and each
chart's CSV, computed alone, is the one the whole dashboard gives."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from reports import core
from reports.sales import rollup, services
from reports.sales.models import SalesLeadFact, SalesRepDay
from reports.sales.queries import Filters
from routing.models import RepProfile
from tests.factories import make_lead, make_product_line, make_team, make_user

FIRST = dt.date(2026, 3, 2)
START = core.day_start(FIRST)


def _store_facts(count: int = 60) -> dict:
    rng = random.Random(15)
    teams = [make_team(name="North"), make_team(name="South")]
    lines = [make_product_line(name="Widgets"), make_product_line(name="Gadgets")]
    reps = [make_user("rep", name=f"Rep {n}", team=teams[n % 2]) for n in range(3)]
    RepProfile.create(user=reps[0], capacity=3)
    bounds = [START, START + 7 * core.DAY, START + 14 * core.DAY]  # the ranges' edges, hit on purpose

    def moment(after: int) -> int:
        if rng.random() < 0.15:
            return max(after, rng.choice(bounds) - rng.choice((0, 1)))
        return after + rng.randrange(0, 3 * core.DAY)

    rows = []
    for _ in range(count):
        created = START - 5 * core.DAY + rng.randrange(0, 20 * core.DAY)
        entered, left = [None] * 5, [None] * 5
        when, stage = created, rng.choice((1, 1, 2, 3))
        last = stage
        while True:
            entered[stage - 1] = when
            last = stage
            if stage == 5 or rng.random() < 0.3:
                break
            when = moment(when)
            left[stage - 1] = when
            stage = min(5, stage + rng.choice((1, 1, 2)))
        outcome = rng.choice((None, None, core.CONVERTED, core.DISQUALIFIED))
        reason = (
            rng.choice(("no_budget", "", None, "other", "bad_fit")) if outcome == "disqualified" else None
        )
        outcome_at = moment(when) if outcome else None
        if outcome:
            left[last - 1] = max(outcome_at, entered[last - 1])
        ready = entered[4] if entered[4] is not None and rng.random() < 0.8 else None
        assigned = ready + rng.randrange(0, 3600) if ready and rng.random() < 0.8 else None
        accepted = assigned + rng.randrange(0, 7200) if assigned and rng.random() < 0.7 else None
        activity = ready + rng.randrange(0, 90_000) if ready and rng.random() < 0.5 else None
        owner = rng.choice(reps + [None]) if ready else None
        fact = core.LeadFact(
            lead_id=make_lead().id,
            stage=last,
            status={None: "open", "converted": "qualified", "disqualified": "disqualified"}[outcome],
            created=created,
            entered=tuple(entered),
            left=tuple(left),
            stage_since=when,
            product_line_id=rng.choice(lines).id,
            team_id=owner.team_id if owner else rng.choice([teams[0].id, None]),
            owner_id=owner.id if owner else None,
            outcome=outcome,
            outcome_reason=reason,
            outcome_at=outcome_at,
            sales_ready_at=ready,
            assigned_at=assigned,
            accepted_at=accepted,
            first_activity_at=activity,
        )
        row = {
            "lead": fact.lead_id,
            "product_line": fact.product_line_id,
            "team": fact.team_id,
            "owner": fact.owner_id,
            "stage": fact.stage,
            "status": fact.status,
            "outcome": fact.outcome,
            "outcome_reason": fact.outcome_reason,
            "outcome_at": fact.outcome_at,
            "created": fact.created,
            "stage_since": fact.stage_since,
            "sales_ready_at": ready,
            "assigned_at": assigned,
            "accepted_at": accepted,
            "first_activity_at": activity,
            "active_until": fact.active_until,
            "refreshed_at": START,
        }
        for index in range(5):
            row[f"entered_{index + 1}"], row[f"left_{index + 1}"] = entered[index], left[index]
        rows.append(row)
    SalesLeadFact.insert_many(rows).execute()
    SalesRepDay.insert_many(
        [
            {
                "day": core.day_number(FIRST) + day,
                "rep": rep.id,
                "product_line": rng.choice(lines).id,
                "team": rep.team_id,
                "open_leads": rng.randrange(0, 5),
                "assigned": rng.randrange(0, 3),
                "accepted": rng.randrange(0, 2),
                "overdue": rng.randrange(0, 2),
                "declined": rng.randrange(0, 2),
                "reassigned": rng.randrange(0, 2),
            }
            for rep in reps
            for day in range(0, 14, 2)
        ]
    ).execute()
    return {"teams": teams, "lines": lines, "reps": reps}


def _facts() -> list[core.LeadFact]:
    facts = []
    for row in SalesLeadFact.select():
        facts.append(
            core.LeadFact(
                row.lead_id,
                row.stage,
                row.status,
                row.created,
                tuple(getattr(row, f"entered_{stage}") for stage in core.STAGES),
                tuple(getattr(row, f"left_{stage}") for stage in core.STAGES),
                row.stage_since,
                row.product_line_id,
                row.team_id,
                row.owner_id,
                row.outcome,
                row.outcome_reason,
                row.outcome_at,
                row.sales_ready_at,
                row.assigned_at,
                row.accepted_at,
                row.first_activity_at,
            )
        )
    return facts


def _core_figures(facts: list[core.LeadFact], filters: Filters):
    """The pure core's answer: the facts the old page loaded, narrowed in Python."""
    start, end = filters.bounds
    facts = [
        fact
        for fact in facts
        if fact.active_until >= start
        and fact.created < end
        and (not filters.team_id or fact.team_id == filters.team_id)
        and (not filters.product_line_id or fact.product_line_id == filters.product_line_id)
        and (not filters.rep_id or fact.owner_id == filters.rep_id)
    ]
    speed_reps, speed_all = core.speed_to_lead(facts, start, end, lambda fact: fact.owner_id)
    speed_teams, _ = core.speed_to_lead(facts, start, end, lambda fact: fact.team_id)
    return (
        core.funnel(facts, start, end),
        core.outcomes(facts, start, end),
        core.time_in_stage(facts, start, end),
        speed_reps,
        speed_teams,
        speed_all,
    )


def test_d1_figures_counted_in_the_database_are_the_cores_on_both_backends(app):
    with app.app_context():
        made = _store_facts()
        assert rollup.store_day_blocks() > 0  # the facts were stored by hand: their day blocks too
        facts = _facts()
        assert len(facts) == 60
        asked = [
            Filters(FIRST, FIRST + dt.timedelta(days=6)),
            Filters(FIRST + dt.timedelta(days=7), FIRST + dt.timedelta(days=13)),
            Filters(FIRST - dt.timedelta(days=10), FIRST + dt.timedelta(days=30)),
            Filters(FIRST, FIRST + dt.timedelta(days=13), team_id=made["teams"][0].id),
            Filters(FIRST, FIRST + dt.timedelta(days=13), product_line_id=made["lines"][1].id),
            Filters(FIRST, FIRST + dt.timedelta(days=13), rep_id=made["reps"][1].id),
            Filters(dt.date(2025, 1, 1), dt.date(2025, 1, 31)),  # nothing in it
        ]
        checked = 0
        for filters in asked:
            board = services.sales_dashboard(filters)
            funnel, outcomes, stage_times, speed_reps, speed_teams, speed_all = _core_figures(facts, filters)
            assert board.funnel == funnel, filters
            assert board.outcomes == outcomes, filters
            if filters.team_id or filters.product_line_id or filters.rep_id:
                assert board.stage_times == stage_times, filters  # narrowed: from the stays, exact
            else:  # the whole install: from the day blocks, as the core reads the same histograms
                start, end = filters.bounds
                histograms = core.day_histograms(facts, start, end)
                assert board.stage_times == core.stage_times_of_histograms(histograms), filters
                for read, exact in zip(board.stage_times, stage_times, strict=True):
                    assert read.spread.count == exact.spread.count
                    for value, known in (
                        (read.spread.p50, exact.spread.p50),
                        (read.spread.p90, exact.spread.p90),
                    ):
                        assert value == (None if known is None else pytest.approx(known, rel=core.PRECISION))
            if filters.team_id or filters.product_line_id or filters.rep_id:  # narrowed: exact
                assert board.speed_reps == speed_reps and board.speed_teams == speed_teams, filters
                assert board.speed_all == speed_all, filters
            else:  # the whole install: from the day blocks per rep and team, as the core reads them
                start, end = filters.bounds
                summed = core.speeds_of_histograms(core.speed_histograms(facts, start, end))
                assert (board.speed_reps, board.speed_teams, board.speed_all) == summed, filters
                read_all = [*board.speed_reps, *board.speed_teams, board.speed_all]
                for read, exact in zip(read_all, [*speed_reps, *speed_teams, speed_all], strict=True):
                    assert (read.key, read.leads) == (exact.key, exact.leads), filters
                    for name in ("assigned", "accepted", "first_activity"):
                        spread, known = getattr(read, name), getattr(exact, name)
                        assert spread.count == known.count
                        for value, target in ((spread.p50, known.p50), (spread.p90, known.p90)):
                            assert value == (
                                None if target is None else pytest.approx(target, rel=core.PRECISION)
                            )
            checked += sum(step.entered for step in funnel) + speed_all.leads
        assert checked > 100  # the ranges did hold figures


@pytest.mark.parametrize("chart", services.CHARTS)
def test_d1_a_csv_computed_alone_is_the_whole_dashboards(app, chart):
    with app.app_context():
        _store_facts(30)
        filters = Filters(FIRST, FIRST + dt.timedelta(days=13))
        whole = "".join(services.chart_csv(services.sales_dashboard(filters), chart))
        alone = "".join(services.chart_csv(services.sales_dashboard(filters, chart), chart))
        assert alone == whole and len(whole.splitlines()) >= 2
