"""A small hand-made sales history (D1, P7, R6) stored as real rows, with known
figures: the tests of the dashboard and its browser journey share it."""

from __future__ import annotations

import datetime as dt

from leads.activities.models import Activity
from leads.records.models import Lead, LeadHistory
from routing.assign import END_DECLINED, END_OVERDUE
from routing.models import Assignment, RepProfile
from tests.factories import make_lead, make_product_line, make_team, make_user

T0 = dt.datetime(2026, 1, 5)  # a Monday
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def add_history(lead: Lead, *moves) -> None:
    """Store ``(kind, old, new, hours after T0)`` rows in the lead's history."""
    LeadHistory.insert_many(
        [
            {"lead": lead.id, "kind": kind, "old_value": old, "new_value": new, "created_at": at(hours)}
            for kind, old, new, hours in moves
        ]
    ).execute()


def build_history() -> dict:
    """The four leads of ``tests/reports/test_core.py`` as stored rows: A through
    every stage to a conversion (rep 1), B sales-ready, declined by rep 1 and
    disqualified with rep 2, C waiting in stage 2, D disqualified in stage 1;
    and E, rep 2's, taken back for want of an accept."""
    north, south = make_team(name="North"), make_team(name="South")
    line = make_product_line(name="Widgets")
    rep1 = make_user("rep", name="Rita Rep", team=north)
    rep2 = make_user("rep", name="Sam Rep", team=south)
    RepProfile.create(user=rep1, capacity=2)

    def lead(**values):
        return make_lead(product_line=line, updated_at=values.get("created_at"), **values)

    a = lead(stage=5, status="qualified", status_reason="converted", owner=rep1, created_at=at(0))
    add_history(
        a,
        ("stage", None, "1", 0),
        ("stage", "1", "2", 2),
        ("stage", "2", "3", 10),
        ("stage", "3", "4", 12),
        ("stage", "4", "5", 20),
        ("sales_ready", "0", "1", 20),
        ("status", "open", "qualified", 50),
    )
    Assignment.create(lead=a, rep=rep1, reason="rule", created_at=at(21), accepted_at=at(23))
    Activity.create(lead=a, kind="note", body="Called", created_at=at(30))
    b = lead(stage=5, status="disqualified", status_reason="no_budget", owner=rep2, created_at=at(0))
    add_history(
        b,
        ("stage", None, "1", 0),
        ("stage", "1", "2", 4),
        ("stage", "2", "5", 8),
        ("sales_ready", "0", "1", 8),
        ("status", "open", "disqualified", 40),
    )
    Assignment.create(
        lead=b,
        rep=rep1,
        reason="rule",
        created_at=at(8.5),
        declined_at=at(10),
        ended_at=at(10),
        end_reason=END_DECLINED,
    )
    Assignment.create(lead=b, rep=rep2, reason="rule", created_at=at(11), accepted_at=at(12))
    c = lead(stage=2, created_at=at(1))
    add_history(c, ("stage", None, "1", 1), ("stage", "1", "2", 3))
    d = lead(stage=1, status="disqualified", status_reason="duplicate", created_at=at(2))
    add_history(d, ("stage", None, "1", 2), ("status", "open", "disqualified", 12))
    e = lead(stage=5, sales_ready=True, created_at=at(100), team=south)
    add_history(e, ("stage", None, "5", 100), ("sales_ready", "0", "1", 100))
    Assignment.create(
        lead=e,
        rep=rep2,
        reason="rule",
        created_at=at(100),
        due_at=at(130),
        ended_at=at(130),
        end_reason=END_OVERDUE,
    )
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "rep1": rep1, "rep2": rep2, "north": north, "line": line}
