"""A rep's queue (SPEC R6, G1) on SQLite and PostgreSQL: each row's accept-by
countdown (red under an hour), best live score and grade, product line, source
and contact links; sorting by deadline, score or age with a real address; Accept
still swapping the row; an overdue lead the sweeper takes back leaving the queue
with one notification to the rep; a query count that does not grow with rows."""

from __future__ import annotations

import datetime as dt
import re

from leads.base.db import utcnow
from leads.base.sweep import sweep
from leads.core import lifecycle as lc
from leads.notify.models import Notification
from leads.records.models import Lead
from leads.scoring.models import LeadScore, ScoringModel
from routing import assign, manage
from routing.jobs import reroute_overdue
from routing.models import Assignment
from routing.rep_queue import countdown
from tests.factories import count_queries, csrf_token, login, make_lead, make_product_line, make_user
from tests.web.test_no_spec_ids import visible_text

HX = {"HX-Request": "true"}
NOW = dt.datetime(2026, 3, 2, 9, 0)


def text(response):
    return response.get_data(as_text=True)


def queued(rep, due_in: dt.timedelta | None, **lead):
    """A lead waiting for ``rep`` to accept it, due ``due_in`` from now."""
    now = utcnow()
    lead = make_lead(stage=lc.SALES_ACCEPTANCE, sales_ready=True, owner=rep, assigned_at=now, **lead)
    Assignment.create(
        lead=lead,
        rep=rep,
        decision={},
        reason="assigned",
        created_at=now,
        due_at=now + due_in if due_in else None,
    )
    return lead


def live_model(name="Fit", status="live"):
    return ScoringModel.create(name=name, status=status)


def scored(lead, model, score, grade=None):
    LeadScore.create(lead=lead, model=model, score=score, grade=grade)


def row_html(html, lead):
    """The ``<li>`` of ``lead``'s row."""
    match = re.search(rf'<li class="queue-row[^"]*" id="queue-row-{lead.id}">(.*?)</li>', html, re.S)
    assert match, f"no row for lead {lead.id}"
    return match.group(1)


def order(html, *leads):
    """The leads in the order their rows appear."""
    positions = {lead.id: html.index(f'id="queue-row-{lead.id}"') for lead in leads}
    return [lead_id for lead_id, _ in sorted(positions.items(), key=lambda pair: pair[1])]


# -- the countdown, computed on the server -----------------------------------------------


def test_r6_the_countdown_says_time_left_or_overdue_and_is_urgent_under_an_hour():
    cases = {
        dt.timedelta(hours=2, minutes=15, seconds=59): ("2 h 15 min left", False, False),
        dt.timedelta(hours=3): ("3 h left", False, False),
        dt.timedelta(days=1, hours=2, minutes=5): ("1 d 2 h left", False, False),
        dt.timedelta(minutes=59, seconds=59): ("59 min left", True, False),
        dt.timedelta(seconds=20): ("less than a minute left", True, False),
        dt.timedelta(minutes=-5): ("overdue by 5 min", True, True),
        dt.timedelta(hours=-1, minutes=-30): ("overdue by 1 h 30 min", True, True),
    }
    for left, (words, urgent, overdue) in cases.items():
        shown = countdown(NOW + left, NOW)
        assert (shown.text, shown.urgent, shown.overdue) == (words, urgent, overdue), left
        assert shown.due_at == NOW + left


# -- the row ------------------------------------------------------------------------------


def test_r6_a_row_shows_countdown_time_score_grade_product_line_source_and_contact_links(app):
    rep = make_user("rep")
    line = make_product_line(name="Analytics")
    later = queued(
        rep,
        dt.timedelta(hours=2, minutes=15, seconds=50),
        product_line=line,
        source="webform",
        phone="+33 1 23 45 67 89",
        email="later@example.test",
    )
    soon = queued(rep, dt.timedelta(minutes=40, seconds=30))
    late = queued(rep, -dt.timedelta(minutes=5, seconds=10))
    fit, engagement = live_model("Fit"), live_model("Engagement")
    scored(later, fit, 35, "B")
    scored(later, engagement, 72, "A")  # the highest live score is the one shown
    scored(later, live_model("Draft", status="draft"), 99, "A+")  # not live: ignored
    html = text(login(app.test_client(), rep).get("/queues/mine"))

    row = row_html(html, later)
    due = Assignment.get(Assignment.lead == later.id).due_at
    assert f'<time datetime="{due:%Y-%m-%dT%H:%M:%SZ}"' in row
    assert "<strong>2 h 15 min left</strong>" in row and 'class="countdown"' in row
    assert "Score 72" in row and '<span class="badge">A</span>' in row and "Score 99" not in row and "A+" not in row
    assert "Analytics" in row and "Source: webform" in row
    assert 'href="tel:+33123456789"' in row and 'href="mailto:later@example.test"' in row
    assert "Accept</button>" in row and "Decline…" in row

    assert "<strong>40 min left</strong>" in row_html(html, soon)
    assert 'class="countdown urgent"' in row_html(html, soon)
    assert "Not scored" in row_html(html, soon)
    assert "<strong>overdue by 5 min</strong>" in row_html(html, late)
    assert 'class="countdown urgent"' in row_html(html, late)
    assert "R6" not in visible_text(html)  # the words people read (a token may hold "R6")


def test_r6_accept_from_the_queue_still_swaps_the_row_which_loses_its_countdown(app):
    rep = make_user("rep")
    lead = queued(rep, dt.timedelta(hours=3))
    client = login(app.test_client(), rep)
    headers = {"X-CSRFToken": csrf_token(client), **HX}
    response = client.post(f"/queues/mine/{lead.id}/sales_accept", headers=headers)
    assert response.status_code == 200
    row = text(response)
    assert f'id="queue-row-{lead.id}"' in row and "<html" not in row
    assert "countdown" not in row and "Convert to opportunity" in row
    assert Lead.get_by_id(lead.id).sales_accepted
    assert Assignment.get(Assignment.lead == lead.id).accepted_at is not None


# -- sorting ------------------------------------------------------------------------------


def test_r6_the_queue_sorts_by_deadline_by_default_or_by_score_or_age_with_a_real_address(app):
    rep = make_user("rep")
    model = live_model()
    oldest = queued(rep, dt.timedelta(hours=5))
    middle = queued(rep, dt.timedelta(hours=1))
    newest = queued(rep, dt.timedelta(hours=3))
    unscored_soonest = queued(rep, dt.timedelta(minutes=30))
    for lead, created in ((oldest, 30), (middle, 20), (newest, 10), (unscored_soonest, 5)):
        Lead.update(created_at=utcnow() - dt.timedelta(days=created)).where(Lead.id == lead.id).execute()
    scored(oldest, model, 10)
    scored(middle, model, 90)
    scored(newest, model, 50)
    leads = (oldest, middle, newest, unscored_soonest)
    client = login(app.test_client(), rep)

    by_deadline = [unscored_soonest.id, middle.id, newest.id, oldest.id]
    assert order(text(client.get("/queues/mine")), *leads) == by_deadline
    assert order(text(client.get("/queues/mine?sort=deadline")), *leads) == by_deadline
    assert order(text(client.get("/queues/mine?sort=nonsense")), *leads) == by_deadline
    assert order(text(client.get("/queues/mine?sort=score")), *leads) == [
        middle.id,
        newest.id,
        oldest.id,
        unscored_soonest.id,
    ]
    assert order(text(client.get("/queues/mine?sort=age")), *leads) == [
        oldest.id,
        middle.id,
        newest.id,
        unscored_soonest.id,
    ]

    page = text(client.get("/queues/mine?sort=score"))
    assert 'href="/queues/mine?sort=age" hx-get="/queues/mine?sort=age"' in page
    assert 'aria-current="true" class="current">Score</a>' in page

    fragment = client.get("/queues/mine?sort=age", headers=HX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    body = text(fragment)
    assert '<section id="my-queue"' in body and "<html" not in body
    assert fragment.headers["HX-Push-Url"] == "/queues/mine?sort=age"
    assert order(body, *leads) == [oldest.id, middle.id, newest.id, unscored_soonest.id]


def test_g1_the_queue_lists_only_the_reps_own_leads_whatever_the_sort(app):
    rep, other = make_user("rep"), make_user("rep")
    mine = queued(rep, dt.timedelta(hours=2))
    theirs = queued(other, dt.timedelta(hours=1))
    client = login(app.test_client(), rep)
    for sort in ("deadline", "score", "age"):
        html = text(client.get(f"/queues/mine?sort={sort}"))
        assert f'id="queue-row-{mine.id}"' in html and f'id="queue-row-{theirs.id}"' not in html


# -- an overdue lead re-routed by the sweeper ---------------------------------------------------


def test_r6_an_overdue_lead_rerouted_leaves_the_queue_and_the_rep_is_told_once(app, run_jobs):
    line = make_product_line()
    ana, ben = make_user("rep", name="Ana"), make_user("rep", name="Ben")
    for rep in (ana, ben):
        manage.save_profile(rep, 20, None, None, [line.id])
    rule = manage.save_rule({"name": "Line", "strategy": "round_robin", "conditions": None}, 4)
    lead = queued(ana, dt.timedelta(hours=4), product_line=line)
    Assignment.update(rule=rule.id).where(Assignment.lead == lead.id).execute()
    kept = queued(ana, dt.timedelta(hours=8), product_line=line)
    Assignment.update(rule=rule.id).where(Assignment.lead == kept.id).execute()
    client = login(app.test_client(), ana)
    assert f'id="queue-row-{lead.id}"' in text(client.get("/queues/mine"))

    later = utcnow() + dt.timedelta(hours=5)
    with app.app_context():
        sweep(now=later)
        sweep(now=later + dt.timedelta(minutes=1))  # a second sweep tells nobody again
    run_jobs()

    assert Lead.get_by_id(lead.id).owner_id == ben.id
    html = text(client.get("/queues/mine"))
    assert f'id="queue-row-{lead.id}"' not in html and f'id="queue-row-{kept.id}"' in html
    told = list(
        Notification.select().where(Notification.user == ana.id, Notification.kind == assign.TAKEN_BACK)
    )
    assert [(row.text, row.lead_id) for row in told] == [
        (f"{lead.name} was given to another rep: not accepted within 4 hours", lead.id)
    ]
    assert (
        not Notification.select()
        .where(Notification.user == ben.id, Notification.kind == assign.TAKEN_BACK)
        .exists()
    )


# -- queries ------------------------------------------------------------------------------


def test_r6_the_queue_page_runs_the_same_number_of_queries_for_5_and_30_rows(app):
    model = live_model()

    def queries_for(rows):
        rep = make_user("rep")
        line = make_product_line()
        for n in range(rows):
            lead = queued(rep, dt.timedelta(minutes=30 + n), product_line=line, phone="+1 555 0100")
            scored(lead, model, n, "A")
        client = login(app.test_client(), rep)
        counts = {}
        for sort in ("deadline", "score", "age"):
            with count_queries() as queries:
                response = client.get(f"/queues/mine?sort={sort}")
            assert response.status_code == 200
            assert text(response).count('class="queue-row') == rows
            counts[sort] = len(queries)
        return counts

    assert queries_for(5) == queries_for(30)


def test_r6_without_a_rule_the_notice_gives_the_assignments_own_time_limit(app):
    """An assignment without a rule (its rule deleted) still says how long the rep had."""
    rep = make_user("rep")
    lead = queued(rep, dt.timedelta(hours=2))
    with app.app_context():
        assert reroute_overdue(utcnow() + dt.timedelta(hours=3)) == 1
        assert reroute_overdue(utcnow() + dt.timedelta(hours=4)) == 0
    told = Notification.select().where(Notification.user == rep.id, Notification.kind == assign.TAKEN_BACK)
    assert [row.text for row in told] == [
        f"{lead.name} was given to another rep: not accepted within 2 hours"
    ]
    assert Lead.get_by_id(lead.id).owner_id is None
