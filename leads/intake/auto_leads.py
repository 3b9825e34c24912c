"""C6: leads created automatically by a rule ("when a contact interacts with
campaign / product line X and has no open lead for it, create one").

``apply(interactions)`` runs inside the transaction that stores the
interactions (``leads.intake.interactions``): an interaction whose ``properties`` name a
``campaign_id`` or ``product_line_id`` covered by an active rule gives its
contact a new stage-1 lead in that context, unless the contact already holds
an open lead there (E2: one open lead per campaign or product line). Running it
twice creates nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable

from leads.base.db import db, is_sqlite
from leads.core import fields as catalogue
from leads.core.numbers import whole_number
from leads.intake.models import AutoLeadRule
from leads.records.directory import open_lead_in_context
from leads.records.models import Campaign, Contact, Interaction, Lead, LeadHistory
from leads.stages.services import record_created

# What a new lead takes from its contact: the values they share (the catalogue's).
PERSON = catalogue.shared(catalogue.CONTACT, catalogue.LEAD)


def _int(value) -> int | None:
    """A record id named in an interaction's properties (a number or its digits), or None."""
    if isinstance(value, bool):
        return None
    return whole_number(str(value)) if isinstance(value, int | str) else None


def _contexts(rows: Iterable[Interaction]) -> dict[tuple[int, int | None, int | None], Interaction]:
    """(contact, campaign, product line) → the first interaction naming it."""
    found = {}
    for row in rows:
        properties = row.properties or {}
        campaign_id = _int(properties.get("campaign_id"))
        product_line_id = _int(properties.get("product_line_id"))
        if row.contact_id and (campaign_id or product_line_id):
            found.setdefault((row.contact_id, campaign_id, product_line_id), row)
    return found


def _rule_for(rules: list[AutoLeadRule], campaign_id, product_line_id, kind: str) -> AutoLeadRule | None:
    for rule in rules:
        if rule.interaction_types and kind not in rule.interaction_types:
            continue
        if (rule.campaign_id and rule.campaign_id == campaign_id) or (
            rule.product_line_id and rule.product_line_id == product_line_id
        ):
            return rule
    return None


def apply(rows: list[Interaction]) -> list[int]:
    """C6: create the leads the active rules ask for; returns their ids."""
    contexts = _contexts(rows)
    if not contexts:
        return []
    rules = list(AutoLeadRule.select().where(AutoLeadRule.active == True).order_by(AutoLeadRule.id))  # noqa: E712
    if not rules:
        return []
    created = []
    for (contact_id, campaign_id, product_line_id), row in contexts.items():
        rule = _rule_for(rules, campaign_id, product_line_id, row.type)
        if rule is None:
            continue
        # The rule's own context: a campaign rule creates a campaign lead; a
        # product-line rule a product-line lead.
        if not (rule.campaign_id and rule.campaign_id == campaign_id):
            campaign_id = None
        lead_id = _create_lead(rule, contact_id, campaign_id, product_line_id, row)
        if lead_id:
            created.append(lead_id)
    return created


def _lock(contact_id: int) -> None:
    """PostgreSQL: one transaction at a time decides for a contact (SQLite's
    IMMEDIATE transactions already serialize writers)."""
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (5006, contact_id))


def _create_lead(rule, contact_id, campaign_id, product_line_id, row) -> int | None:
    _lock(contact_id)
    if open_lead_in_context(contact_id, campaign_id, product_line_id) is not None:
        return None
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return None
    campaign = Campaign.get_or_none(Campaign.id == campaign_id) if campaign_id else None
    if campaign is not None and not product_line_id:
        product_line_id = campaign.product_line_id
    lead = Lead.create(
        topic=(campaign.name if campaign else rule.name)[:200],
        **{name: getattr(contact, name) for name in PERSON},
        source=f"rule:{rule.id}",
        contact=contact_id,
        account=contact.account_id,
        campaign=campaign_id,
        product_line=product_line_id,
    )
    record_created(lead, None, via=f"rule: {rule.name}"[:200])
    context = f"campaign {campaign.name}" if campaign else f"product line #{product_line_id}"
    LeadHistory.create(
        lead=lead,
        kind="match",
        new_value="created by rule",
        via=f"rule: {rule.name}"[:200],
        note=(
            f"Created automatically by rule {rule.name}: contact #{contact_id} had a "
            f"{row.type.replace('_', ' ')} interaction with {context} and no open lead for it."
        ),
    )
    return lead.id
