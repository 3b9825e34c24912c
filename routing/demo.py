"""Demo routing: rep profiles (capacity, product lines) and two assignment rules,
so the leads the demo's scoring makes sales-ready are routed as soon as the
bundled worker runs (R1–R4)."""

from __future__ import annotations

from auth.models import REP, User
from leads.base.queue import enqueue
from leads.core import lifecycle
from leads.records.models import Lead, ProductLine
from routing import manage, router

# Room for the demo's open leads and the ones the worker routes at start, so the
# first rule a manager tries finds a rep who can take the lead.
CAPACITY = 60


def seed_routing(users: list[User], lines: list[ProductLine]) -> int:
    """Each rep sells one or two product lines (capacity ``CAPACITY``); the rules are
    "relationship owner first, else round robin in the product line", then a
    catch-all to the least loaded rep. Returns the number of rules."""
    reps = [user for user in users if user.role == REP]
    for index, rep in enumerate(reps):
        own = [lines[index % len(lines)].id]
        if index % 2:
            own.append(lines[(index + 1) % len(lines)].id)
        manage.save_profile(rep, CAPACITY, None, None, own)
    manage.save_rule(
        {
            "name": "Owner first, else the product line's reps",
            "active": True,
            "conditions": None,
            "strategy": router.OWNER,
            "fallback": router.ROUND_ROBIN,
            "pool": router.PRODUCT_LINE,
        },
        accept_within_hours=48,
    )
    manage.save_rule(
        {
            "name": "Anything else: least loaded rep",
            "active": True,
            "conditions": None,
            "strategy": router.LEAST_LOADED,
            "pool": router.EVERYONE,
        },
        accept_within_hours=48,
    )
    return 2


def route_waiting_leads() -> int:
    """Hand the demo's sales-ready leads that nobody owns yet to the router (R1,
    on demand, as the managers' "Re-run routing" does); returns how many."""
    waiting = Lead.select(Lead.id).where(
        (Lead.status == lifecycle.OPEN) & (Lead.stage == lifecycle.SALES_ACCEPTANCE) & Lead.owner.is_null()
    )
    ids = [lead_id for (lead_id,) in waiting.tuples()]
    for lead_id in ids:
        enqueue("routing.jobs.route_lead", lead_id, job_id=f"demo-route-{lead_id}")
    return len(ids)
