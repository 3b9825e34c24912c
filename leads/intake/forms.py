"""Forms of the intake pages: matching strategies (M1–M3), capture sources
(C3–C5) and automatic lead rules (C6). Database checks live in
``leads.intake.manage`` (the views turn its ``IntakeError`` into inline errors)."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from leads.core import matching
from leads.intake.capture import CAPTURE_FIELDS, CONSENT
from leads.intake.models import SOURCE_KINDS
from leads.intake.strategies import strategy_rows
from leads.records import interaction_types
from leads.records.queries import campaigns, product_lines
from web.forms import PageForm

ENTITY_CHOICES = [(matching.CONTACT, "Contact"), (matching.LEAD, "Lead"), (matching.ACCOUNT, "Account")]


def _fields_help() -> str:
    return " · ".join(f"{entity}: {', '.join(fields)}" for entity, fields in matching.MATCH_FIELDS.items())


class StrategyForm(PageForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    entity = SelectField("Entity type", choices=ENTITY_CHOICES)
    fields = StringField(
        "Fields (all must be equal)",
        description="In order, separated by commas. " + _fields_help(),
        validators=[DataRequired(), Length(max=300)],
    )
    is_default = BooleanField("Default for new sources of this entity type")


def _int_or_none(value):
    return int(value) if value not in (None, "", "None") else None


MAPPING_BLANK_ROWS = 3  # empty rows offered under the stored ones
MAX_MAPPING_ROWS = 60


def mapping_targets() -> list[tuple[str, str]]:
    """Our fields an external form's field can fill (C5), for the row selects."""
    ours = [(name, name.replace("_", " ")) for name in sorted(CAPTURE_FIELDS)]
    return [("", "—"), *ours, (CONSENT, "consent (must be true)")]


class MappingRow(Form):
    """One row of a source's field mapping: their field → ours."""

    theirs = StringField("Their field", validators=[Optional(), Length(max=100)])
    ours = SelectField("Our field", choices=mapping_targets(), validate_choice=False)


class SourceForm(PageForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Kind", choices=list(SOURCE_KINDS.items()))
    event_id = StringField("Event id (event registrations)", validators=[Optional(), Length(max=100)])
    field_mapping = FieldList(FormField(MappingRow), max_entries=MAX_MAPPING_ROWS)
    contact_strategies = SelectMultipleField("Contact matching strategies (none: the default)", coerce=int)
    lead_strategies = SelectMultipleField("Lead matching strategies (none: the default)", coerce=int)
    campaign = SelectField("Campaign", coerce=_int_or_none)
    product_line = SelectField("Product line", coerce=_int_or_none)
    creates_lead = BooleanField("Creates a lead", default=True)
    update_policy = SelectField(
        "When the person already exists", choices=list(matching.UPDATE_POLICIES.items())
    )
    thank_you_url = StringField("Thank-you page URL", validators=[Optional(), Length(max=500)])
    active = BooleanField("Active", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rows = list(strategy_rows())
        self.contact_strategies.choices = [(s.id, s.name) for s in rows if s.entity == matching.CONTACT]
        self.lead_strategies.choices = [(s.id, s.name) for s in rows if s.entity == matching.LEAD]
        self.campaign.choices = [(None, "None")] + [(c.id, c.name) for c in campaigns()]
        self.product_line.choices = [(None, "None")] + [(p.id, p.name) for p in product_lines()]
        filled = sum(1 for row in self.field_mapping if (row.theirs.data or "").strip())
        while len(self.field_mapping) < min(filled + MAPPING_BLANK_ROWS, MAX_MAPPING_ROWS):
            self.field_mapping.append_entry()

    def mapping_rows(self) -> list[tuple[str, str]]:
        """The mapping's filled rows as (their field, our field), in order."""
        return [
            ((row.theirs.data or "").strip(), row.ours.data or "")
            for row in self.field_mapping
            if (row.theirs.data or "").strip() or row.ours.data
        ]

    def values(self, mapping: dict) -> dict:
        """The cleaned values for ``manage.save_source``."""
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "event_id": self.event_id.data,
            "field_mapping": mapping,
            "contact_strategies": list(self.contact_strategies.data or []),
            "lead_strategies": list(self.lead_strategies.data or []),
            "campaign_id": self.campaign.data,
            "product_line_id": self.product_line.data,
            "creates_lead": self.creates_lead.data,
            "update_policy": self.update_policy.data,
            "thank_you_url": self.thank_you_url.data,
            "active": self.active.data,
        }

    @staticmethod
    def data_of(source) -> dict:
        """A stored source as form data."""
        return {
            "name": source.name,
            "kind": source.kind,
            "event_id": source.event_id or "",
            "field_mapping": [
                {"theirs": theirs, "ours": ours} for theirs, ours in (source.field_mapping or {}).items()
            ],
            "contact_strategies": source.contact_strategies,
            "lead_strategies": source.lead_strategies,
            "campaign": source.campaign_id,
            "product_line": source.product_line_id,
            "creates_lead": source.creates_lead,
            "update_policy": source.update_policy,
            "thank_you_url": source.thank_you_url or "",
            "active": source.active,
        }


class RuleForm(PageForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    campaign = SelectField("When a contact interacts with campaign", coerce=_int_or_none)
    product_line = SelectField("or with product line", coerce=_int_or_none)
    interaction_types = SelectMultipleField("Interaction types (none: any)", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign.choices = [(None, "—")] + [(c.id, c.name) for c in campaigns()]
        self.product_line.choices = [(None, "—")] + [(p.id, p.name) for p in product_lines()]
        self.interaction_types.choices = list(interaction_types.vocabulary().labels().items())
