"""Forms of the contact, account and lead pages (C1, E1, E2).

Each form field takes its label, length and limits from the field catalogue
(``leads.core.fields``, which a test keeps equal to the columns), and each form
gives ``values()``: the cleaned values of its catalogue fields to store, keyed
by model field, blanks as ``None`` (or ``""`` for the non-null name columns).
Which records exist is checked here too (``validate_<field>``); storing is
``leads.records.services``' job.
"""

from __future__ import annotations

import re

from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from auth.models import REP, Team, User
from leads.core import fields as catalogue
from leads.core import numbers
from leads.core.fields import ACCOUNT, CONTACT, LEAD
from leads.records import directory
from leads.records.models import Account, Campaign, Contact, Lead, ProductLine
from web.forms import PageForm, ValidCountry, ValidEmail, country_choices

DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
INT_MAX = 2**31 - 1  # the largest id (IntegerField is 32-bit on PostgreSQL)
NONE = ""  # the value of every "no choice" option


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _max(limit: int) -> Length:
    """A length check matching a catalogue field's (and so its column's) ``max_length``."""
    return Length(max=limit, message=f"At most {limit} characters.")


def _spec(record: str, name: str) -> catalogue.Field:
    spec = catalogue.get(record, name)
    if spec is None:
        raise LookupError(f"No {record} field {name!r} in leads.core.fields.")
    return spec


def text(record: str, name: str, **kwargs) -> StringField:
    """A trimmed text field for the catalogue field ``name`` of ``record``: its
    label, as long as it allows, required when it is."""
    spec = _spec(record, name)
    first = DataRequired(message="Required.") if spec.required else Optional()
    return StringField(spec.label, filters=[_strip], validators=[first, _max(spec.max_length)], **kwargs)


def email(record: str, name: str = "email") -> StringField:
    """An email address, checked and normalised as at every door (``ValidEmail``)."""
    spec = _spec(record, name)
    return StringField(
        spec.label,
        filters=[_strip],
        validators=[Optional(), ValidEmail(), _max(spec.max_length)],
    )


def country(record: str, name: str = "country") -> SelectField:
    """A country chosen from the one list (``leads.core.validation.COUNTRIES``);
    a posted code is upper-cased (``uk`` reads as ``GB``)."""
    spec = _spec(record, name)
    return SelectField(
        spec.label,
        choices=country_choices(),
        filters=[_strip, _upper],
        validate_choice=False,  # ValidCountry says why, in the same words as the other doors
        validators=[Optional(), ValidCountry()],
        render_kw={"autocomplete": "country"},
    )


def domain(record: str, name: str = "domain", **kwargs) -> StringField:
    """A bare web domain (no scheme or path)."""
    spec = _spec(record, name)
    return StringField(
        spec.label,
        filters=[_strip],
        validators=[
            Optional(),
            _max(spec.max_length),
            Regexp(DOMAIN, message="A domain like example.com (no http:// or path)."),
        ],
        **kwargs,
    )


def whole_number(record: str, name: str, **kwargs) -> IntegerField:
    """A whole number from 0 to the catalogue field's ``maximum``."""
    spec = _spec(record, name)
    return IntegerField(
        spec.label,
        validators=[
            Optional(),
            NumberRange(min=0, max=spec.maximum, message=f"A whole number from 0 to {spec.maximum}."),
        ],
        render_kw={"inputmode": "numeric"},
        **kwargs,
    )


def choice(record: str, name: str, **kwargs) -> SelectField:
    """A select of record ids (as text) for the reference ``name`` of ``record``;
    its ``validate_<attr>`` checks the id."""
    return SelectField(_spec(record, name).label, choices=[], validate_choice=False, **kwargs)


def _id(raw) -> int | None:
    """A select's value as a record id (``None`` for no choice or garbage)."""
    return numbers.whole_number(raw, 1, INT_MAX)


def _blank_to_none(value):
    return None if value in ("", None) else value


class OwnerMixin:
    """An owner select that offers only active sales reps (never deactivated ones)."""

    def _setup_owner(self, current_owner_id: int | None) -> None:
        self.owner.choices = [(NONE, "No owner")] + [
            (str(rep.id), rep.name) for rep in directory.owner_choices()
        ]
        current = User.get_or_none(User.id == current_owner_id) if current_owner_id else None
        if current is not None and not current.is_active:
            self.owner.description = (
                f"The current owner, {current.name}, is deactivated: choose an active sales rep."
            )
        elif current is not None and current.role != REP:
            self.owner.description = f"The current owner, {current.name}, is not a sales rep: choose one."

    def validate_owner(self, field):
        if not field.data:
            return
        owner_id = _id(field.data)
        if owner_id is None or not directory.owner_choices().where(User.id == owner_id).exists():
            raise ValidationError("Choose an active sales rep.")


def _account_choices(selected: int | None) -> list[tuple[str, str]]:
    return [(NONE, "No account")] + [
        (str(account.id), directory.account_label(account))
        for account in directory.recent_accounts(include=selected)
    ]


def _contact_choices(selected: int | None) -> list[tuple[str, str]]:
    return [(NONE, "No contact")] + [
        (str(contact.id), directory.contact_label(contact))
        for contact in directory.recent_contacts(include=selected)
    ]


class RecordForm(PageForm):
    """A form over one record kind's catalogue fields (``record``, stored in
    ``model``): ``values`` and ``initial`` cover every writable catalogue field
    it declares, each form field named after the model attribute."""

    record: str
    model: type

    @classmethod
    def declared(cls) -> list[catalogue.Field]:
        """The writable catalogue fields of ``record`` this form has a field for."""
        return [
            spec
            for spec in catalogue.writable(cls.record)
            if isinstance(getattr(cls, spec.attr, None), UnboundField)
        ]

    @classmethod
    def initial(cls, row) -> dict:
        """The form's values for an existing record (a reference's id as text)."""
        return {
            spec.attr: str(getattr(row, spec.name) or NONE) if spec.is_ref else getattr(row, spec.name)
            for spec in cls.declared()
        }

    def values(self) -> dict:
        """The cleaned values to store, by model field."""
        return {spec.attr: self._cleaned(spec) for spec in self.declared()}

    def _cleaned(self, spec: catalogue.Field):
        data = self[spec.attr].data
        if spec.is_ref:
            return _id(data)
        if spec.type != catalogue.TEXT:
            return data
        return _blank_to_none(data) if self.model._meta.fields[spec.attr].null else (data or "")


class ContactForm(OwnerMixin, RecordForm):
    """A contact, new or edited (by marketers, managers, admins)."""

    record, model = CONTACT, Contact
    first_name = text(CONTACT, "first_name", render_kw={"autocomplete": "off"})
    last_name = text(CONTACT, "last_name", render_kw={"autocomplete": "off"})
    email = email(CONTACT)
    phone = text(CONTACT, "phone")
    job_title = text(CONTACT, "job_title")
    country = country(CONTACT)
    account = choice(CONTACT, "account_id")
    owner = choice(CONTACT, "owner_id")

    def __init__(self, *args, current_owner_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account.choices = _account_choices(_id(self.account.data))
        self._setup_owner(current_owner_id)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.first_name.data or self.last_name.data or self.email.data):
            self.form_errors.append("Give at least a first name, a last name or an email.")
            return False
        return valid

    def validate_account(self, field):
        _check_id(field, Account, "Choose an existing account.")


class AccountForm(OwnerMixin, RecordForm):
    """An account (a company), new or edited (by marketers, managers, admins)."""

    record, model = ACCOUNT, Account
    name = text(ACCOUNT, "name")
    domain = domain(ACCOUNT, description="e.g. example.com")
    industry = text(ACCOUNT, "industry")
    employee_count = whole_number(ACCOUNT, "employee_count")
    annual_revenue = whole_number(ACCOUNT, "annual_revenue")
    country = country(ACCOUNT)
    owner = choice(ACCOUNT, "owner_id")

    def __init__(self, *args, current_owner_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner(current_owner_id)

    def values(self) -> dict:
        """The cleaned values to store (the domain lower-cased)."""
        values = super().values()
        if values["domain"]:
            values["domain"] = values["domain"].lower()
        return values


class LeadForm(RecordForm):
    """A lead created by hand (C1): who, what interest (its marketing context:
    a campaign and/or a product line) and, optionally, its contact and account (E1)."""

    record, model = LEAD, Lead
    topic = text(LEAD, "topic", description="What the person is interested in.")
    first_name = text(LEAD, "first_name", render_kw={"autocomplete": "off"})
    last_name = text(LEAD, "last_name", render_kw={"autocomplete": "off"})
    email = email(LEAD)
    phone = text(LEAD, "phone")
    company = text(LEAD, "company")
    job_title = text(LEAD, "job_title")
    country = country(LEAD)
    campaign = choice(LEAD, "campaign_id")
    product_line = choice(LEAD, "product_line_id")
    contact = choice(LEAD, "contact_id", description="Optional: the known person this lead belongs to.")
    account = choice(LEAD, "account_id", description="Optional; when empty, the contact's account.")
    team = choice(LEAD, "team_id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_choices()

    def _set_choices(self) -> None:
        """The selects' choices, for the selects this form has (one query each)."""
        present = self._fields
        if "campaign" in present:
            self.campaign.choices = [(NONE, "No campaign")] + [
                (str(campaign.id), campaign.name) for campaign in Campaign.select().order_by(Campaign.name)
            ]
        if "product_line" in present:
            self.product_line.choices = [(NONE, "No product line")] + [
                (str(line.id), line.name) for line in ProductLine.select().order_by(ProductLine.name)
            ]
        if "team" in present:
            self.team.choices = [(NONE, "No team")] + [
                (str(team.id), team.name) for team in Team.select().order_by(Team.name)
            ]
        if "contact" in present:
            self.contact.choices = _contact_choices(_id(self.contact.data))
        if "account" in present:
            self.account.choices = _account_choices(_id(self.account.data))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.campaign.errors or self.product_line.errors):
            return self._check_context() and valid
        return valid

    def _check_context(self, lead_id: int | None = None) -> bool:
        """E2: a marketing context is chosen and the contact has no other open
        lead in it (``lead_id``: the lead being edited, which does not count)."""
        if not (self.campaign.data or self.product_line.data):
            self.campaign.errors.append("Choose a campaign or a product line: the lead's marketing context.")
            return False
        duplicate = directory.open_lead_in_context(
            _id(self.contact.data), _id(self.campaign.data), _id(self.product_line.data), exclude=lead_id
        )
        if duplicate is not None:
            self.contact.errors.append(
                f"This contact already has an open lead for this campaign or product line (lead {duplicate.id})."
            )
            return False
        return True

    def validate_campaign(self, field):
        _check_id(field, Campaign, "Choose an existing campaign.")

    def validate_product_line(self, field):
        _check_id(field, ProductLine, "Choose an existing product line.")

    def validate_contact(self, field):
        _check_id(field, Contact, "Choose an existing contact.")

    def validate_account(self, field):
        _check_id(field, Account, "Choose an existing account.")

    def validate_team(self, field):
        _check_id(field, Team, "Choose an existing team.")


class LeadEditForm(LeadForm):
    """The lead's own fields edited on its page (W2), with only the fields
    ``allowed``: what the user's role may write, the same allow-list as the API
    (``leads.core.fields.writable_by``). ``values`` covers those fields only."""

    def __init__(self, *args, allowed, lead_id: int, **kwargs):
        super(LeadForm, self).__init__(*args, **kwargs)
        self.lead_id = lead_id
        self.editable = [spec for spec in self.declared() if spec.name in allowed]
        for spec in self.declared():
            if spec.name not in allowed:
                del self[spec.attr]
        self._set_choices()

    @property
    def first_field(self):
        """The field the form focuses first."""
        return self[self.editable[0].attr] if self.editable else None

    def values(self) -> dict:
        """The cleaned values of the editable fields, by model field."""
        return {spec.attr: self._cleaned(spec) for spec in self.editable}

    def validate(self, extra_validators=None) -> bool:
        valid = super(LeadForm, self).validate(extra_validators)
        context = {"campaign", "product_line", "contact"}
        if valid and context <= set(self._fields):
            return self._check_context(self.lead_id)
        return valid


def _check_id(field, model, message: str) -> None:
    """A select's id must name an existing row of ``model`` (or be empty)."""
    if not field.data:
        return
    row_id = _id(field.data)
    if row_id is None or not model.select().where(model.id == row_id).exists():
        raise ValidationError(message)
