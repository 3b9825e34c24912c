"""The sales dashboard (D1) on SQLite and PostgreSQL: a small hand-made history
stored as real rows (stage history, assignments, an activity), the rollup job
run over it, and every figure read back with a known answer; then the pages:
a rep sees only their own figures (G1), a teleprospector none, filters swap by
htmx, each chart has its CSV, and bad filters are answered inline."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from auth.models import MANAGER, TELEPROSPECTOR, User
from leads.records.models import Lead
from reports import core
from reports.sales import jobs, rollup, services
from reports.sales.models import SalesDayBlock, SalesLeadFact, SalesRepDay, SalesRollupState
from reports.sales.queries import Filters
from tests.factories import login, make_product_line, make_user
from tests.reports.history import WEEK, add_history, at, build_history


def board(**filters) -> services.SalesDashboard:
    return services.sales_dashboard(Filters(start=dt.date(2026, 1, 5), end=dt.date(2026, 1, 11), **filters))


def test_d1_p7_r6_every_figure_from_a_hand_made_history(app):
    with app.app_context():
        made = build_history()
        done = rollup.refresh(now=at(24 * 8))
        assert done["facts"] == 5 and SalesLeadFact.select().count() == 5
        figures = board()
        assert [(step.entered, step.advanced) for step in figures.funnel] == [
            (4, 3),
            (3, 2),
            (1, 1),
            (1, 1),
            (3, 1),
        ]
        assert figures.outcomes.converted == 1 and figures.outcomes.disqualified_total == 2
        # Time in stage for the whole install comes from the histograms: each
        # length within 1% (core.PRECISION), the counts exact.
        times = {time.stage: time.spread for time in figures.stage_times}

        def hours(value):
            return pytest.approx(value * 3600, rel=core.PRECISION)

        assert (times[1].p50, times[1].p90) == (hours(3), hours(8.2))
        assert (times[2].p50, times[2].p90) == (hours(6), hours(7.6))
        assert (times[5].count, times[5].p50, times[5].p90) == (2, hours(31), hours(31.8))
        narrowed = {time.stage: time.spread for time in board(product_line_id=made["line"].id).stage_times}
        assert (narrowed[1].p50, narrowed[1].p90) == (3 * 3600, pytest.approx(8.2 * 3600))  # exact
        assert [lead.lead_id for lead in figures.stuck[2]] == [made["c"].id]  # open, in stage 2 since hour 3
        assert [lead.lead_id for lead in figures.stuck[5]] == [made["e"].id]
        # Speed to lead for the whole install, from the day blocks too: counts
        # exact, each span within 1%; narrowed to a product line, exact.
        every = figures.speed_all
        assert every.leads == 3  # A, B and E became sales-ready that week
        assert (every.assigned.p50, every.accepted.p50, every.accepted.p90) == (
            hours(0.5),
            hours(3.5),
            hours(3.9),
        )
        assert (every.first_activity.count, every.first_activity.p50) == (1, hours(10))
        reps = {speed.key: speed for speed in figures.speed_reps}
        assert (reps[made["rep1"].id].accepted.p50, reps[made["rep2"].id].accepted.p50) == (
            hours(3),
            hours(4),
        )
        assert (
            sum(speed.leads for speed in figures.speed_teams)
            == sum(speed.leads for speed in figures.speed_reps)
            == 3
        )
        exact = board(product_line_id=made["line"].id).speed_all
        assert (exact.leads, exact.assigned.p50, exact.accepted.p50) == (3, 0.5 * 3600, 3.5 * 3600)
        assert figures.rep(made["rep1"].id) == "Rita Rep"
        week = figures.weeks[0]
        assert (week.start, week.overdue, week.declined, week.reassigned) == (dt.date(2026, 1, 5), 1, 1, 0)
        sla = {row.rep_id: row for row in figures.sla_reps}
        assert (sla[made["rep1"].id].assigned, sla[made["rep1"].id].declined) == (2, 1)
        assert (sla[made["rep2"].id].assigned, sla[made["rep2"].id].overdue) == (2, 1)
        loads = {load.rep_id: load for load in figures.loads}
        assert loads[made["rep1"].id].open_leads[:4] == (1, 1, 0, 0)  # A from hour 21 to its outcome at 50
        assert loads[made["rep1"].id].capacity == 2 and loads[made["rep2"].id].capacity == 20
        assert loads[made["rep2"].id].open_leads[:6] == (1, 0, 0, 0, 1, 0)  # B, then E for hours 100-130


def test_d1_filters_narrow_by_team_and_product_line(app):
    with app.app_context():
        made = build_history()
        rollup.refresh(now=at(24 * 8))
        north = board(team_id=made["north"].id)  # the leads rep 1 (North) holds: A
        assert [step.entered for step in north.funnel] == [1, 1, 1, 1, 1]
        assert [row.rep_id for row in north.sla_reps] == [made["rep1"].id]
        assert [load.rep_id for load in north.loads] == [made["rep1"].id]
        other = make_product_line(name="Gadgets")
        assert [step.entered for step in board(product_line_id=other.id).funnel] == [0, 0, 0, 0, 0]
        assert board(product_line_id=made["line"].id).funnel[0].entered == 4


def test_d1_the_rollup_is_kept_in_slices_is_idempotent_and_follows_changes(app):
    """Slices read the changed leads in order and write the rep days once caught
    up; run again, nothing changes; a lead changed later and a lead given an
    activity are read again; the sweeper runs a slice on its turn."""
    from leads.activities.models import Activity
    from leads.base.sweep import sweep

    with app.app_context():
        made = build_history()
        first = rollup.refresh_slice(now=at(24 * 8), size=2)
        assert (first["facts"], first["rep_days"], first["caught_up"]) == (2, 0, False)
        assert (
            services.sales_dashboard(Filters(dt.date(2026, 1, 5), dt.date(2026, 1, 11))).refreshed_at is None
        )
        assert rollup.refresh(now=at(24 * 8))["facts"] == 3 and SalesLeadFact.select().count() == 5
        days = sorted(SalesRepDay.select(*SalesRepDay._meta.sorted_fields[1:]).tuples())
        assert days and rollup.refresh(now=at(24 * 8))["facts"] == 0  # rewrites only its last two days
        assert sorted(SalesRepDay.select(*SalesRepDay._meta.sorted_fields[1:]).tuples()) == days
        # C moves on to stage 5 later (a real change: its updated_at moves).
        add_history(made["c"], ("stage", "2", "5", 24 * 9))
        Lead.update(stage=5, updated_at=at(24 * 9)).where(Lead.id == made["c"].id).execute()
        assert rollup.refresh(now=at(24 * 9 + 1))["facts"] == 1
        fact = SalesLeadFact.get(SalesLeadFact.lead == made["c"].id)
        assert fact.stage == 5 and fact.left_2 is not None
        # An activity on E after it became sales-ready: its first activity is read on the sweeper's turn.
        Activity.create(lead=made["e"], kind="note", body="Left a message", created_at=at(101))
        assert sweep(now=at(24 * 9 + 2))["sales_rollup"] == 1
        assert SalesLeadFact.get(SalesLeadFact.lead == made["e"].id).first_activity_at == int(
            at(101).replace(tzinfo=dt.UTC).timestamp()
        )
        assert jobs.refresh_rollup()["facts"] == 0


def _blocks() -> dict[tuple[int, ...], int]:
    """The day blocks as stored: ``{(level, block, kind, bucket, rep, team): tally}``."""
    query = SalesDayBlock.select(
        SalesDayBlock.level,
        SalesDayBlock.block,
        SalesDayBlock.kind,
        SalesDayBlock.bucket,
        SalesDayBlock.rep,
        SalesDayBlock.team,
        SalesDayBlock.tally,
    )
    return {tuple(key): tally for *key, tally in query.tuples()}


def _blocks_from_the_facts() -> dict[tuple[int, ...], int]:
    """What the day blocks must hold: every stored fact's cells (time in stage,
    the funnel, speed to lead per rep and team) counted afresh."""
    cells: list[tuple[int, ...]] = []
    for fact in SalesLeadFact.select():
        entered = [getattr(fact, f"entered_{stage}") for stage in core.STAGES]
        left = [getattr(fact, f"left_{stage}") for stage in core.STAGES]
        cells += core.fact_cells(entered, left, fact.outcome)
        cells += core.speed_cells(
            fact.owner_id,
            fact.team_id,
            fact.sales_ready_at,
            fact.assigned_at,
            fact.accepted_at,
            fact.first_activity_at,
        )
    assert any(cell[0] >= core.SPEED for cell in cells)  # speed to lead is among them
    return core.block_cells(cells)


def test_d1_the_day_blocks_follow_late_changes_re_routes_and_deletions_and_never_double_count(app):
    """The day blocks (time in stage and the funnel for the whole install)
    always equal the cells of the facts stored: after the first build, a run
    twice, a late stage change, a lead re-routed, a killed slice (its
    transaction rolled back) and a lead deleted (its fact gone with it)."""
    from leads.activities.models import Activity
    from leads.base.db import transaction
    from leads.records.models import LeadHistory
    from routing.models import Assignment

    week = Filters(dt.date(2026, 1, 5), dt.date(2026, 1, 11))
    with app.app_context():
        made = build_history()
        done = rollup.refresh(now=at(24 * 8))
        assert done["day_blocks"] > 0 and _blocks() == _blocks_from_the_facts()
        assert SalesRollupState.get().blocks_facts == 5
        built = _blocks()
        again = rollup.refresh(now=at(24 * 8))
        assert (again["facts"], again["day_blocks"]) == (0, 0) and _blocks() == built  # run twice: the same
        assert [step.entered for step in services.sales_dashboard(week).funnel] == [4, 3, 1, 1, 3]

        # A late stage change: C, waiting in stage 2 since hour 3, reaches stage 5 on day 2.
        add_history(made["c"], ("stage", "2", "5", 30))
        Lead.update(stage=5, updated_at=at(24 * 9)).where(Lead.id == made["c"].id).execute()
        # A sweep killed mid-way: the facts and the blocks roll back together.
        with pytest.raises(RuntimeError), transaction():
            rollup.store_facts([made["c"].id], core.epoch(at(24 * 9)), {})
            assert _blocks() != built
            raise RuntimeError("killed")
        assert _blocks() == built and SalesLeadFact.get(SalesLeadFact.lead == made["c"].id).stage == 2
        assert rollup.refresh(now=at(24 * 9 + 1))["facts"] == 1
        assert _blocks() == _blocks_from_the_facts() != built
        board = services.sales_dashboard(week)
        assert [(step.entered, step.advanced) for step in board.funnel] == [
            (4, 3),
            (3, 3),  # C went on from stage 2
            (1, 1),
            (1, 1),
            (4, 1),  # and entered stage 5
        ]
        times = {time.stage: time.spread for time in board.stage_times}
        # Stage 2 stays now: A 8 h, B 4 h, C 27 h (hour 3 to 30): median 8 h, within 1%.
        assert times[2].count == 3 and times[2].p50 == pytest.approx(8 * 3600, rel=core.PRECISION)
        assert rollup.refresh(now=at(24 * 9 + 2))["facts"] == 0 and _blocks() == _blocks_from_the_facts()

        # B re-routed from Sam to Rita: the facts follow, the blocks (whole install) stay right.
        Assignment.update(ended_at=at(24 * 9), end_reason="reassigned").where(
            (Assignment.lead == made["b"].id) & Assignment.ended_at.is_null()
        ).execute()
        Assignment.create(lead=made["b"], rep=made["rep1"], reason="manual", created_at=at(24 * 9))
        Lead.update(owner=made["rep1"].id, updated_at=at(24 * 9 + 3)).where(Lead.id == made["b"].id).execute()
        assert rollup.refresh(now=at(24 * 9 + 4))["facts"] == 1
        assert SalesLeadFact.get(SalesLeadFact.lead == made["b"].id).owner_id == made["rep1"].id
        assert _blocks() == _blocks_from_the_facts()
        # Speed to lead per rep (whole install, from the blocks) counts B as Rita's now.
        ready = SalesLeadFact.select().where(SalesLeadFact.sales_ready_at.is_null(False))
        owners: dict[int | None, int] = {}
        for fact in ready:
            if week.bounds[0] <= fact.sales_ready_at < week.bounds[1]:
                owners[fact.owner_id] = owners.get(fact.owner_id, 0) + 1
        assert {speed.key: speed.leads for speed in services.sales_dashboard(week).speed_reps} == owners
        assert owners.get(made["rep1"].id, 0) >= 2

        # D deleted: its fact goes with it, and the next slice rebuilds the blocks without it.
        d = made["d"].id
        for model in (LeadHistory, Assignment, Activity):
            model.delete().where(model.lead == d).execute()
        Lead.delete().where(Lead.id == d).execute()
        assert SalesLeadFact.select().where(SalesLeadFact.lead == d).count() == 0
        deleted = rollup.refresh(now=at(24 * 9 + 5))
        assert deleted["day_blocks"] > 0 and SalesRollupState.get().blocks_facts == 4
        assert _blocks() == _blocks_from_the_facts()
        assert [step.entered for step in services.sales_dashboard(week).funnel][0] == 3  # D is gone


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_d1_g1_a_rep_sees_only_their_own_figures(app, client):
    with app.app_context():
        made = build_history()
        rollup.refresh(now=at(24 * 8))
        manager = make_user(MANAGER)
        rep2 = User.get_by_id(made["rep2"].id)
    login(client, rep2)
    page = client.get("/dashboards/sales", query_string=WEEK)
    assert page.status_code == 200 and "Rita Rep" not in page.get_data(as_text=True)
    for note in ('id="time-precision"', 'id="speed-precision"'):
        assert note not in page.get_data(as_text=True)  # a rep's own stays and spans: exact
    funnel = _csv(client.get("/dashboards/sales/funnel.csv", query_string=WEEK))
    assert [row[1] for row in funnel[1:]] == ["1", "1", "0", "0", "1"]  # B only: E was taken back
    sla = _csv(client.get("/dashboards/sales/sla-reps.csv", query_string=WEEK))
    assert [row[0] for row in sla[1:]] == ["Sam Rep"]
    # Time in stage: B's own stays only (never the install-wide day blocks).
    times = _csv(client.get("/dashboards/sales/time-in-stage.csv", query_string=WEEK))
    assert [row[1] for row in times[1:]] == ["1", "1", "0", "0", "1"]
    assert [row[2] for row in times[1:3]] == ["4.00", "4.00"]  # 0 to 4 h, 4 to 8 h: exact
    # The rep's own filter cannot be widened: a team filter only narrows.
    funnel = _csv(client.get("/dashboards/sales/funnel.csv", query_string={**WEEK, "team": made["north"].id}))
    assert [row[1] for row in funnel[1:]] == ["0", "0", "0", "0", "0"]
    client.get("/logout")
    login(client, manager)
    funnel = _csv(client.get("/dashboards/sales/funnel.csv", query_string=WEEK))
    assert [row[1] for row in funnel[1:]] == ["4", "3", "1", "1", "3"]


@pytest.mark.parametrize("role", [TELEPROSPECTOR, "marketer"])
def test_d1_g1_no_sales_figures_for_a_teleprospector_or_marketer(app, client, role):
    with app.app_context():
        user = make_user(role)
    login(client, user)
    assert client.get("/dashboards/sales").status_code == 403
    assert client.get("/dashboards/sales", headers={"HX-Request": "true"}).status_code == 403
    assert client.get("/dashboards/sales/funnel.csv").status_code == 403
    assert b"Dashboards" not in client.get("/leads").data


def test_d1_page_fragment_csv_and_inline_errors(app, client):
    with app.app_context():
        build_history()
        rollup.refresh(now=at(24 * 8))
        manager = make_user(MANAGER)
    login(client, manager)
    page = client.get("/dashboards/sales", query_string=WEEK)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'id="sales-dashboard"' in html
    for chart in ("funnel-chart", "time-chart", "sla-chart", "load-chart"):
        assert f'id="{chart}"' in html and f'id="{chart}-title"' in html
    assert ">Dashboards</a>" in html and "Widgets" in html
    assert 'id="time-precision"' in html and "within 1%" in html  # the whole install: from the day blocks
    assert 'id="speed-precision"' in html  # speed to lead too
    narrowed = client.get(
        "/dashboards/sales", query_string={**WEEK, "team": 1}, headers={"HX-Request": "true"}
    )
    for note in ('id="time-precision"', 'id="speed-precision"'):
        assert note not in narrowed.get_data(as_text=True)  # narrowed: exact, no note
    fragment = client.get("/dashboards/sales", query_string=WEEK, headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and "HX-Request" in fragment.headers["Vary"]
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="sales-dashboard"')
    for chart in services.CHARTS:
        response = client.get(f"/dashboards/sales/{chart}.csv", query_string=WEEK)
        assert response.mimetype == "text/csv" and len(_csv(response)) >= 2, chart
        assert "attachment" in response.headers["Content-Disposition"]
    assert client.get("/dashboards/sales/nothing.csv").status_code == 404
    for bad in (
        {"from": "soon"},
        {"team": "abc"},
        {"product_line": "9" * 40},
        {"from": "2026-02-01", "to": "2026-01-01"},
    ):
        response = client.get("/dashboards/sales", query_string=bad, headers={"HX-Request": "true"})
        assert response.status_code == 422 and "field-error" in response.get_data(as_text=True), bad
        assert client.get("/dashboards/sales/funnel.csv", query_string=bad).status_code == 422


def test_d1_the_range_defaults_to_the_last_90_days(app, client):
    with app.app_context():
        manager = make_user(MANAGER)
    login(client, manager)
    html = client.get("/dashboards/sales").get_data(as_text=True)
    start, end = services.default_range(dt.datetime.now(dt.UTC).date())
    assert (end - start).days == 89
    assert f'value="{start.isoformat()}"' in html and f'value="{end.isoformat()}"' in html
    assert "being gathered for the first time" in html
