"""A rep's queue (SPEC R6) on SQLite and PostgreSQL: an overdue lead the
sweeper takes back leaves the queue, and the rep is told once."""

from __future__ import annotations

import datetime as dt

from leads.base.db import utcnow
from leads.base.sweep import sweep
from leads.core import lifecycle as lc
from leads.notify.models import Notification
from leads.records.models import Lead
from routing import assign, manage
from routing.jobs import reroute_overdue
from routing.models import Assignment
from tests.factories import login, make_lead, make_product_line, make_user


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
