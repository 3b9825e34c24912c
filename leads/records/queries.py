"""Named queries. Each returns a peewee query so callers can filter and paginate."""

from __future__ import annotations

import peewee as pw

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR, User
from leads.base.db import Shape
from leads.core import lifecycle
from leads.records.models import Account, Campaign, Contact, Lead, LeadHistory, ProductLine
from leads.stages.models import QualificationField

SEE_ALL = {ADMIN, MANAGER, MARKETER, INTEGRATION}


def visible_leads(user: User):
    """Leads ``user`` may see (G1, P8): everyone's for admin, managers, marketers
    and integrations; stages 3–4 for teleprospectors; their own for reps."""
    query = Lead.select()
    if user.role in SEE_ALL:
        return query
    if user.role == TELEPROSPECTOR:
        return query.where(
            (Lead.status == lifecycle.OPEN)
            & Lead.stage.in_([lifecycle.TP_ACCEPTANCE, lifecycle.TP_QUALIFICATION])
        )
    if user.role == REP:
        return query.where(Lead.owner == user.id)
    return query.where(False)


def lead_for(user: User, lead_id: int) -> Lead | None:
    """The lead with ``lead_id`` if ``user`` may see it, else None (callers answer 404).

    Its contact, account, campaign, product line, owner and teleprospector come
    in the same query (its SQL text built once per role)."""
    if user.role == REP:  # the only role whose visible leads depend on who they are
        rows = _LEAD_FOR.run(lead_id, user.id, variant=user.role)
    else:
        rows = _LEAD_FOR.run(lead_id, variant=user.role)
    return next(iter(rows), None)


def _lead_for(role: str, lead_id: int, user_id: int | None = None):
    return with_related(visible_leads(User(id=user_id, role=role))).where(Lead.id == lead_id).limit(1)


_LEAD_FOR = Shape(_lead_for)


Owner = User.alias("owner_user")
Teleprospector = User.alias("teleprospector_user")


def _people(alias):
    """The user columns a lead's page or row shows (never the password hash)."""
    return alias.id, alias.name, alias.email, alias.role


def with_related(query):
    """``query`` (over leads) with each lead's contact, account, campaign, product
    line, owner and teleprospector loaded by the same SQL (no N+1 in lists)."""
    outer = pw.JOIN.LEFT_OUTER
    return (
        query.select_extend(
            Contact, Account, Campaign, ProductLine, *_people(Owner), *_people(Teleprospector)
        )
        .join_from(Lead, Contact, outer, on=(Lead.contact == Contact.id), attr="contact")
        .join_from(Lead, Account, outer, on=(Lead.account == Account.id), attr="account")
        .join_from(Lead, Campaign, outer, on=(Lead.campaign == Campaign.id), attr="campaign")
        .join_from(Lead, ProductLine, outer, on=(Lead.product_line == ProductLine.id), attr="product_line")
        .join_from(Lead, Owner, outer, on=(Lead.owner == Owner.id), attr="owner")
        .join_from(
            Lead, Teleprospector, outer, on=(Lead.teleprospector == Teleprospector.id), attr="teleprospector"
        )
    )


def visible_contacts(user: User):
    """Contacts ``user`` may see (G1): every one for admin, managers, marketers and
    integrations; those of the leads they may see for teleprospectors and reps,
    and for a rep also those they own."""
    query = Contact.select()
    if user.role in SEE_ALL:
        return query
    of_leads = Contact.id.in_(_of_visible_leads(user, Lead.contact))
    if user.role == REP:
        return query.where((Contact.owner == user.id) | of_leads)
    return query.where(of_leads)


def visible_accounts(user: User):
    """Accounts ``user`` may see (G1): every one for admin, managers, marketers and
    integrations; otherwise those of the leads and of the contacts they may see,
    and for a rep also those they own."""
    query = Account.select()
    if user.role in SEE_ALL:
        return query
    of_contacts = visible_contacts(user).select(Contact.account).where(Contact.account.is_null(False))
    seen = Account.id.in_(_of_visible_leads(user, Lead.account)) | Account.id.in_(of_contacts)
    if user.role == REP:
        seen |= Account.owner == user.id
    return query.where(seen)


def _of_visible_leads(user: User, column):
    """A subquery: the non-null ``column`` (contact or account) of the leads ``user`` may see."""
    return visible_leads(user).select(column).where(column.is_null(False))


def assignable_reps():
    """Active sales reps, by name: the only users offered as lead owners."""
    return (
        User.select()
        .where((User.role == REP) & (User.is_active == True))  # noqa: E712
        .order_by(User.name)
    )


def leads_in_stage(stage: int):
    """Open leads in ``stage``, oldest first."""
    return (
        Lead.select()
        .where((Lead.status == lifecycle.OPEN) & (Lead.stage == stage))
        .order_by(Lead.created_at, Lead.id)
    )


def unclaimed_leads():
    """Open stage-3 leads no teleprospector has accepted yet, oldest first (P4, W4)."""
    return leads_in_stage(lifecycle.TP_ACCEPTANCE)


def claimed_by(user: User):
    """Open stage-4 leads ``user`` claimed by accepting them, oldest first (P5, W4)."""
    return leads_in_stage(lifecycle.TP_QUALIFICATION).where(Lead.teleprospector == user.id)


def in_teleprospecting():
    """Every open lead in stage 3 or 4, whoever claimed it, oldest first (W4)."""
    return (
        Lead.select()
        .where(
            (Lead.status == lifecycle.OPEN)
            & Lead.stage.in_([lifecycle.TP_ACCEPTANCE, lifecycle.TP_QUALIFICATION])
        )
        .order_by(Lead.created_at, Lead.id)
    )


def unassigned_sales_ready():
    """Open stage-5 leads with no owner: the sales managers' queue (P6, R4)."""
    return leads_in_stage(lifecycle.SALES_ACCEPTANCE).where(Lead.owner.is_null())


def queue_for(user: User):
    """A rep's own open sales-ready leads, oldest assignment first (P8, R6)."""
    return (
        Lead.select()
        .where(
            (Lead.owner == user.id)
            & (Lead.status == lifecycle.OPEN)
            & (Lead.stage == lifecycle.SALES_ACCEPTANCE)
        )
        .order_by(Lead.assigned_at, Lead.id)
    )


def history_for(lead_id: int):
    """The lead's timeline rows (P7), newest first, each with its actor."""
    return (
        LeadHistory.select(LeadHistory, User.id, User.name)
        .join(User, pw.JOIN.LEFT_OUTER, on=(LeadHistory.actor == User.id), attr="actor")
        .where(LeadHistory.lead == lead_id)
        .order_by(LeadHistory.created_at.desc(), LeadHistory.id.desc())
    )


def lead_history_rows(lead_id: int) -> list[LeadHistory]:
    """``history_for(lead_id)``'s rows (its SQL text built once: the lead page reads them on every view)."""
    return list(_HISTORY.run(lead_id))


_HISTORY = Shape(lambda _, lead_id: history_for(lead_id))


def user_names(ids) -> dict[int, str]:
    """Names of the users with ``ids``, by id, in one query (for timelines)."""
    ids = {int(i) for i in ids}
    if not ids:
        return {}
    return dict(User.select(User.id, User.name).where(User.id.in_(ids)).tuples())


def qualification_fields():
    """The active qualification fields (P5), in the order the form shows them."""
    return (
        QualificationField.select()
        .where(QualificationField.active == True)  # noqa: E712
        .order_by(QualificationField.position, QualificationField.id)
    )


def qualification_labels() -> dict[str, str]:
    """Every qualification field's label by key, in form order, inactive ones
    included (old findings and history still name them)."""
    query = QualificationField.select(QualificationField.key, QualificationField.label).order_by(
        QualificationField.position, QualificationField.id
    )
    return dict(query.tuples())


def product_lines():
    """Every product line, by name."""
    return ProductLine.select().order_by(ProductLine.name)


def campaigns():
    """Every campaign with its product line, newest first."""
    return (
        Campaign.select(Campaign, ProductLine)
        .join(ProductLine, pw.JOIN.LEFT_OUTER)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )


def trace_names(texts) -> dict[str, dict[int, str]]:
    """Names of what routing traces ``texts`` mention by id (``timeline.trace_ids``
    kinds → id → name): one query per kind mentioned."""
    from auth.models import Team
    from leads.core import timeline
    from leads.scoring.models import ScoringModel

    tables = {
        timeline.PRODUCT_LINES: ProductLine,
        timeline.TEAMS: Team,
        timeline.USERS: User,
        timeline.CAMPAIGNS: Campaign,
        timeline.ACCOUNTS: Account,
        timeline.MODELS: ScoringModel,
    }
    names = {}
    for kind, ids in timeline.trace_ids(texts).items():
        model = tables[kind]
        names[kind] = dict(model.select(model.id, model.name).where(model.id.in_(sorted(ids))).tuples())
    return names
