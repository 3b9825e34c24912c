"""Demo data: one user per role (and a few more), two teams, three product
lines, ~50 accounts, ~300 contacts and leads spread over every stage.

Leads are walked through the process with ``leads.stages.services.perform``, so their
history timelines are real, then their history is spread over the five months
since each was created. Whether a lead a rep works converts depends on how
engaged the person was (their interactions) and a little on who they are, so
the scoring models' "does it predict" figures mean something (D3).
Deterministic (seeded random), so screenshots and walkthroughs in the README
stay true.
"""

from __future__ import annotations

import datetime as dt
import random

from auth.admin import create_user
from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR, Team, User
from leads.activities.models import Activity
from leads.base.db import db, utcnow
from leads.core import activities, lifecycle
from leads.records.models import Account, Campaign, Contact, Interaction, Lead, LeadHistory, ProductLine
from leads.scoring.demo import Journey, seed_scoring
from leads.stages.services import perform, record_created
from routing.demo import route_waiting_leads, seed_routing

DEMO_PASSWORD = "leadflow-demo"

USERS = [
    ("admin@leadflow.test", "Ada Admin", ADMIN, None),
    ("marketer@leadflow.test", "Mia Marketer", MARKETER, None),
    ("manager@leadflow.test", "Max Manager", MANAGER, "North"),
    ("tp@leadflow.test", "Tess Teleprospector", TELEPROSPECTOR, "North"),
    ("tp2@leadflow.test", "Tom Teleprospector", TELEPROSPECTOR, "South"),
    ("rep@leadflow.test", "Rita Rep", REP, "North"),
    ("rep2@leadflow.test", "Ravi Rep", REP, "North"),
    ("rep3@leadflow.test", "Rosa Rep", REP, "South"),
    ("rep4@leadflow.test", "Ruben Rep", REP, "South"),
    ("manager2@leadflow.test", "Mona Manager", MANAGER, "South"),
    ("integration@leadflow.test", "Website integration", INTEGRATION, None),
]
PRODUCT_LINES = [("Analytics Cloud", "ANL"), ("Field Service", "FSV"), ("Commerce Suite", "COM")]
FIRST = "Alice Bruno Chloé David Emma Farid Greta Hugo Ines Jonas Karin Liam Maya Noah Olga Pablo Quinn Rosa Sven Tara".split()
LAST = "Martin Bernard Dubois Moreau Laurent Simon Michel Leroy Roux David Bertrand Morel Fournier Girard Bonnet".split()
COMPANY_A = "Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Soylent Tyrell Cyberdyne Wonka".split()
COMPANY_B = "Labs Industries Systems Logistics Foods Energy Health Retail Partners Bank".split()
INDUSTRIES = ["Manufacturing", "Retail", "Finance", "Healthcare", "Software", "Logistics", "Energy"]
COUNTRIES = ["FR", "DE", "GB", "US", "ES", "IT", "NL", "BE"]
TITLES = ["CTO", "Head of IT", "Operations manager", "CFO", "Procurement lead", "Developer", "CEO", "Analyst"]
# Where demo leads end up: (weight, path of actions from stage 1). "outcome" is
# converted or disqualified by the rep, more often converted the more the lead
# engaged (``_converts``), so the demo's scores predict something (D3).
PATHS = [
    (10, []),
    (10, ["score"]),
    (8, ["score", "ready_for_tp"]),
    (8, ["score", "ready_for_tp", "tp_accept", "qualify"]),
    (5, ["score", "ready_for_tp", "tp_accept", "qualify", "sales_ready"]),
    (5, ["score", "ready_for_tp", "tp_accept", "qualify", "sales_ready", "assign"]),
    (4, ["score", "ready_for_tp", "tp_accept", "qualify", "sales_ready", "assign", "sales_accept"]),
    (
        30,
        ["score", "ready_for_tp", "tp_accept", "qualify", "sales_ready", "assign", "sales_accept", "outcome"],
    ),
    (4, ["score", "sales_ready", "assign"]),
    (12, ["score", "ready_for_tp", "tp_accept", "disqualify"]),
]
HISTORY_DAYS = 150  # the leads were created over the last five months
STEP_DAYS = (1, 9)  # days between two steps of a lead's path


def seed(lead_count: int = 500, rng_seed: int = 7) -> dict[str, int]:
    """Create the demo records; returns how many of each were made."""
    rng = random.Random(rng_seed)
    now = utcnow()
    with db.atomic():
        teams = {name: Team.create(name=name) for name in ("North", "South")}
        users = [
            create_user(email, name, role, None if role == INTEGRATION else DEMO_PASSWORD, teams.get(team))
            for email, name, role, team in USERS
        ]
        lines = [ProductLine.create(name=name, code=code) for name, code in PRODUCT_LINES]
        campaigns = [
            Campaign.create(name=f"{line.name} webinar", product_line=line, status="launched")
            for line in lines
        ] + [Campaign.create(name="Autumn trade show", status="launched")]
        accounts = _accounts(rng, users)
        contacts = _contacts(rng, accounts)
    staff = _staff(users)
    with db.atomic():  # one transaction: a few seconds, not one disk sync per step
        walked = [
            _lead(rng, index, contacts, lines, campaigns, teams, staff, now) for index in range(lead_count)
        ]
    journeys = [journey for journey, _call in walked]
    _log_calls([call for _journey, call in walked if call], now)
    seed_routing(users, lines)
    interactions = seed_scoring(rng, next(u for u in users if u.role == MARKETER), journeys, now)
    route_waiting_leads()
    return {
        "users": len(users),
        "teams": len(teams),
        "product lines": len(lines),
        "accounts": len(accounts),
        "contacts": len(contacts),
        "leads": lead_count,
        "interactions": interactions,
    }


def _accounts(rng: random.Random, users: list[User]) -> list[Account]:
    reps = [u for u in users if u.role == REP]
    names = sorted({f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}" for _ in range(200)})[:50]
    return [
        Account.create(
            name=name,
            domain=name.lower().replace(" ", "") + ".example",
            industry=rng.choice(INDUSTRIES),
            employee_count=rng.choice([12, 45, 120, 480, 1500, 9000]),
            annual_revenue=rng.choice([1, 5, 20, 80, 400]) * 1_000_000,
            country=rng.choice(COUNTRIES),
            owner=rng.choice(reps),
        )
        for name in names
    ]


def _contacts(rng: random.Random, accounts: list[Account]) -> list[Contact]:
    contacts = []
    for index in range(300):
        account = accounts[index % len(accounts)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        contacts.append(
            Contact.create(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{index}@{account.domain}".lower(),
                phone=f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                job_title=rng.choice(TITLES),
                country=account.country,
                account=account,
                owner=account.owner,
            )
        )
    return contacts


def _staff(users: list[User]) -> dict[str, list[User]]:
    by_role: dict[str, list[User]] = {}
    for user in users:
        by_role.setdefault(user.role, []).append(user)
    return by_role


def _lead(rng, index, contacts, lines, campaigns, teams, staff, now) -> tuple[Journey, tuple | None]:
    known = rng.random() < 0.7
    contact = rng.choice(contacts) if known else None
    first, last = (
        (contact.first_name, contact.last_name) if contact else (rng.choice(FIRST), rng.choice(LAST))
    )
    company = contact.account.name if contact else f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
    campaign = rng.choice(campaigns) if rng.random() < 0.6 else None
    line = campaign.product_line if campaign and campaign.product_line else rng.choice(lines)
    team = rng.choice(list(teams.values()))
    created = now - dt.timedelta(days=rng.uniform(0, HISTORY_DAYS))
    lead = Lead.create(
        topic=f"{line.name} – {rng.choice(['pricing', 'demo request', 'trial', 'whitepaper', 'contact form'])}",
        first_name=first,
        last_name=last,
        email=contact.email if contact else f"{first}.{last}.lead{index}@example.org".lower(),
        company=company,
        job_title=contact.job_title if contact else rng.choice(TITLES),
        country=contact.country if contact else rng.choice(COUNTRIES),
        source=rng.choice(["web form", "webinar", "trade show", "import", "api"]),
        contact=contact,
        account=contact.account if contact else None,
        campaign=campaign,
        product_line=line,
        team=team,
        created_at=created,
    )
    record_created(lead, None, "demo data")
    path = rng.choices([p for _, p in PATHS], weights=[w for w, _ in PATHS])[0]
    # How engaged the person is (0–1): their interactions follow it (``seed_scoring``),
    # and so does whether they convert. Those a teleprospector disqualifies engaged little.
    engagement = rng.uniform(0, 0.5) if "disqualify" in path else rng.random()
    outcome = "convert" if rng.random() < _converts(engagement, contact) else "lost"
    lead = _walk(rng, lead, [outcome if step == "outcome" else step for step in path], team, staff)
    counted_at, accepted = _spread_history(rng, lead.id, created, now)
    # W1: the teleprospector's call; whether it connected does not use ``rng``,
    # so the rest of the demo stays as it was.
    call = (
        (lead.id, lead.teleprospector_id, accepted, "connected" if index % 4 else "no_answer")
        if accepted
        else None
    )
    # D3 counts the score a lead had when it reached stage 5, else at its outcome.
    return Journey(lead.id, engagement, counted_at or now), call


def _converts(engagement: float, contact) -> float:
    """The chance that a lead worked by a rep converts: mostly how engaged the
    person was, a little who they are (a head of something, a large account)."""
    fit = bool(contact) and (
        "head" in (contact.job_title or "").lower() or (contact.account.employee_count or 0) >= 1000
    )
    return 0.1 + 0.7 * engagement + (0.1 if fit else 0)


def _walk(rng, lead, path, team, staff) -> Lead:
    team_members = [u for u in staff[REP] if u.team_id == team.id]
    tp = rng.choice(staff[TELEPROSPECTOR])
    manager = next(u for u in staff[MANAGER] if u.team_id == team.id)
    marketer = staff[MARKETER][0]
    rep = rng.choice(team_members)
    for step in path:
        if step == "score":
            Lead.update(stage=lifecycle.AUTOMATED_QUALIFICATION).where(Lead.id == lead.id).execute()
            record_stage = lead.stage
            lead = Lead.get_by_id(lead.id)
            _history(lead, record_stage)
        elif step == "ready_for_tp":
            lead = perform(lead, "ready_for_tp", marketer)
        elif step == "tp_accept":
            lead = perform(lead, "tp_accept", tp)
        elif step == "qualify":
            lead = perform(lead, "qualify", tp, values=_findings(rng))
        elif step == "sales_ready":
            lead = perform(lead, "sales_ready", tp if lead.stage == lifecycle.TP_QUALIFICATION else marketer)
        elif step == "assign":
            lead = perform(lead, "assign", manager, owner_id=rep.id)
        elif step == "sales_accept":
            lead = perform(lead, "sales_accept", rep)
        elif step == "convert":
            lead = perform(lead, "convert", rep)
        elif step == "lost":
            lead = perform(
                lead, "disqualify", rep, reason=rng.choice(["no_budget", "competitor", "no_interest"])
            )
        elif step == "disqualify":
            lead = perform(
                lead, "disqualify", tp, reason=rng.choice(["no_interest", "no_budget", "cannot_contact"])
            )
    return lead


def _spread_history(rng, lead_id: int, created: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """Move the lead's history from "just now" to its own past: creation at
    ``created``, then each action (its rows share one time) one to nine days after
    the one before, squeezed to end before ``now``. Returns when the lead last
    reached stage 5, else when it was disqualified, else None."""
    rows = list(
        LeadHistory.select(LeadHistory.id, LeadHistory.kind, LeadHistory.new_value, LeadHistory.created_at)
        .where(LeadHistory.lead == lead_id)
        .order_by(LeadHistory.id)
        .tuples()
    )
    stamps = list(dict.fromkeys(moment for *_row, moment in rows))
    gaps = [rng.uniform(*STEP_DAYS) for _ in stamps[1:]]
    room = (now - created).total_seconds() / 86400 * 0.95
    scale = min(1.0, room / sum(gaps)) if gaps else 1.0
    moved = [created]
    for gap in gaps:
        moved.append(moved[-1] + dt.timedelta(days=gap * scale))
    when = dict(zip(stamps, moved, strict=True))
    field = LeadHistory.created_at
    sql = f'UPDATE "lead_history" SET "created_at" = {db.param} WHERE "id" = {db.param}'
    db.cursor().executemany(sql, [(field.db_value(when[moment]), row_id) for row_id, *_r, moment in rows])
    stage5 = [
        when[m]
        for _id, kind, value, m in rows
        if kind == "stage" and value == str(lifecycle.SALES_ACCEPTANCE)
    ]
    lost = [when[m] for _id, kind, value, m in rows if kind == "status" and value == lifecycle.DISQUALIFIED]
    accepted = [
        when[m]
        for _id, kind, value, m in rows
        if kind == "stage" and value == str(lifecycle.TP_QUALIFICATION)
    ]
    return (stage5 or lost or [None])[-1], (accepted or [None])[0]


def _log_calls(calls: list[tuple[int, int, dt.datetime, str]], now: dt.datetime) -> None:
    """The teleprospectors' calls (W1), each an hour after they accepted the lead,
    with the ``call_logged`` interaction every logged call is (in bulk: the demo's
    models, published next, re-score every lead anyway)."""
    rows = [
        {
            "lead": lead_id,
            "kind": activities.CALL,
            "author": tp_id,
            "body": "Called from the demo data.",
            "outcome": outcome,
            "duration_minutes": 12 if outcome == "connected" else 1,
            "created_at": min(now, accepted + dt.timedelta(hours=1)),
        }
        for lead_id, tp_id, accepted, outcome in calls
    ]
    with db.atomic():
        for start in range(0, len(rows), 500):
            Activity.insert_many(rows[start : start + 500]).execute()
        logged = list(Activity.select().where(Activity.kind == activities.CALL).order_by(Activity.id))
        interactions = [
            {
                "lead": call.lead_id,
                "type": activities.INTERACTION_TYPES[activities.CALL],
                "occurred_at": call.created_at,
                "properties": {
                    "activity_id": call.id,
                    "outcome": call.outcome,
                    "duration_minutes": call.duration_minutes,
                },
                "source": "activity",
                "external_id": f"activity-{call.id}",
                "created_at": now,
            }
            for call in logged
        ]
        for start in range(0, len(interactions), 500):
            Interaction.insert_many(interactions[start : start + 500]).execute()
        links = {
            external: interaction_id
            for interaction_id, external in Interaction.select(Interaction.id, Interaction.external_id)
            .where(Interaction.source == "activity")
            .tuples()
        }
        for call in logged:
            Activity.update(interaction=links[f"activity-{call.id}"]).where(Activity.id == call.id).execute()


def _history(lead: Lead, old_stage: int) -> None:
    LeadHistory.create(
        lead=lead, kind="stage", old_value=str(old_stage), new_value=str(lead.stage), via="demo score"
    )


def _findings(rng: random.Random) -> dict[str, str]:
    return {
        "budget": rng.choice(["10k–50k", "50k–250k", "Over 250k"]),
        "authority": rng.choice(["Influencer", "Decision maker", "Signs the budget"]),
        "need": rng.choice(["Replacing spreadsheets", "Second site opening", "Renewal of a legacy tool"]),
        "timeframe": rng.choice(["This quarter", "Next quarter", "This year"]),
        "notes": "Called from the demo data.",
    }
