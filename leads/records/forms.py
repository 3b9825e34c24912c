"""Forms of the contact, account and lead pages (C1, E1, E2).

Each form checks lengths against the columns in ``leads/models.py`` and gives
``values()``: the cleaned values to store, keyed by model field, blanks as
``None`` (or ``""`` for the non-null name columns). Which records exist is
checked here too (``validate_<field>``); storing is ``leads.records.services``' job.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from auth.models import REP, Team, User
from leads.records import directory
from leads.records.models import Account, Campaign, Contact, Lead, ProductLine

# Deliberately loose (as the API): one @, no spaces, a dot in the domain.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
INT_MAX = 2**31 - 1  # IntegerField is 32-bit on PostgreSQL
BIGINT_MAX = 2**63 - 1
NONE = ""  # the value of every "no choice" option


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _max(column) -> Length:
    """A length check matching ``column``'s ``max_length``."""
    return Length(max=column.max_length, message=f"At most {column.max_length} characters.")


def text(label: str, column, required: bool = False, **kwargs) -> StringField:
    """A trimmed text field as long as ``column`` allows."""
    first = DataRequired(message="Required.") if required else Optional()
    return StringField(label, filters=[_strip], validators=[first, _max(column)], **kwargs)


def email(label: str, column) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[
            Optional(),
            _max(column),
            Regexp(EMAIL, message="Enter an email address like name@example.com."),
        ],
    )


def country(column) -> StringField:
    return StringField(
        "Country",
        description="Two-letter ISO code, e.g. FR, DE, US.",
        filters=[_strip, _upper],
        validators=[
            Optional(),
            Regexp(r"^[A-Z]{2}\Z", message="Two letters (ISO 3166 code), e.g. FR."),
            _max(column),
        ],
        render_kw={"maxlength": 2, "size": 3, "autocomplete": "country"},
    )


def whole_number(label: str, maximum: int, **kwargs) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(min=0, max=maximum, message=f"A whole number from 0 to {maximum}."),
        ],
        render_kw={"inputmode": "numeric"},
        **kwargs,
    )


def choice(label: str, **kwargs) -> SelectField:
    """A select of record ids (as text); its ``validate_<name>`` checks the id."""
    return SelectField(label, choices=[], validate_choice=False, **kwargs)


def _id(raw) -> int | None:
    """A select's value as a record id (``None`` for no choice or garbage)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= INT_MAX else None


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


class ContactForm(OwnerMixin, FlaskForm):
    """A contact, new or edited (by marketers, managers, admins)."""

    first_name = text("First name", Contact.first_name, render_kw={"autocomplete": "off"})
    last_name = text("Last name", Contact.last_name, render_kw={"autocomplete": "off"})
    email = email("Email", Contact.email)
    phone = text("Phone", Contact.phone)
    job_title = text("Job title", Contact.job_title)
    country = country(Contact.country)
    account = choice("Account")
    owner = choice("Owner (sales rep)")

    def __init__(self, *args, current_owner_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account.choices = _account_choices(_id(self.account.data))
        self._setup_owner(current_owner_id)

    @staticmethod
    def initial(contact: Contact) -> dict:
        """The form's values for an existing contact."""
        return {
            **{
                name: getattr(contact, name)
                for name in ("first_name", "last_name", "email", "phone", "job_title")
            },
            "country": contact.country,
            "account": str(contact.account_id or NONE),
            "owner": str(contact.owner_id or NONE),
        }

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.first_name.data or self.last_name.data or self.email.data):
            self.form_errors.append("Give at least a first name, a last name or an email.")
            return False
        return valid

    def validate_account(self, field):
        _check_id(field, Account, "Choose an existing account.")

    def values(self) -> dict:
        """The cleaned values to store."""
        return {
            "first_name": self.first_name.data or "",
            "last_name": self.last_name.data or "",
            "email": _blank_to_none(self.email.data),
            "phone": _blank_to_none(self.phone.data),
            "job_title": _blank_to_none(self.job_title.data),
            "country": _blank_to_none(self.country.data),
            "account": _id(self.account.data),
            "owner": _id(self.owner.data),
        }


class AccountForm(OwnerMixin, FlaskForm):
    """An account (a company), new or edited (by marketers, managers, admins)."""

    name = text("Name", Account.name, required=True)
    domain = StringField(
        "Web domain",
        description="e.g. example.com",
        filters=[_strip],
        validators=[
            Optional(),
            _max(Account.domain),
            Regexp(DOMAIN, message="A domain like example.com (no http:// or path)."),
        ],
    )
    industry = text("Industry", Account.industry)
    employee_count = whole_number("Employees", INT_MAX)
    annual_revenue = whole_number("Annual revenue", BIGINT_MAX)
    country = country(Account.country)
    owner = choice("Owner (sales rep)")

    def __init__(self, *args, current_owner_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_owner(current_owner_id)

    @staticmethod
    def initial(account: Account) -> dict:
        """The form's values for an existing account."""
        names = ("name", "domain", "industry", "employee_count", "annual_revenue", "country")
        return {**{name: getattr(account, name) for name in names}, "owner": str(account.owner_id or NONE)}

    def values(self) -> dict:
        """The cleaned values to store (the domain lower-cased)."""
        return {
            "name": self.name.data,
            "domain": _blank_to_none((self.domain.data or "").lower()),
            "industry": _blank_to_none(self.industry.data),
            "employee_count": self.employee_count.data,
            "annual_revenue": self.annual_revenue.data,
            "country": _blank_to_none(self.country.data),
            "owner": _id(self.owner.data),
        }


class LeadForm(FlaskForm):
    """A lead created by hand (C1): who, what interest (its marketing context:
    a campaign and/or a product line) and, optionally, its contact and account (E1)."""

    topic = text("Topic", Lead.topic, required=True, description="What the person is interested in.")
    first_name = text("First name", Lead.first_name, render_kw={"autocomplete": "off"})
    last_name = text("Last name", Lead.last_name, render_kw={"autocomplete": "off"})
    email = email("Email", Lead.email)
    phone = text("Phone", Lead.phone)
    company = text("Company", Lead.company)
    job_title = text("Job title", Lead.job_title)
    country = country(Lead.country)
    campaign = choice("Campaign")
    product_line = choice("Product line")
    contact = choice("Contact", description="Optional: the known person this lead belongs to.")
    account = choice("Account", description="Optional; when empty, the contact's account.")
    team = choice("Team")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign.choices = [(NONE, "No campaign")] + [
            (str(campaign.id), campaign.name) for campaign in Campaign.select().order_by(Campaign.name)
        ]
        self.product_line.choices = [(NONE, "No product line")] + [
            (str(line.id), line.name) for line in ProductLine.select().order_by(ProductLine.name)
        ]
        self.team.choices = [(NONE, "No team")] + [
            (str(team.id), team.name) for team in Team.select().order_by(Team.name)
        ]
        self.contact.choices = _contact_choices(_id(self.contact.data))
        self.account.choices = _account_choices(_id(self.account.data))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.campaign.errors or self.product_line.errors):
            if not (self.campaign.data or self.product_line.data):
                self.campaign.errors.append(
                    "Choose a campaign or a product line: the lead's marketing context."
                )
                return False
            duplicate = directory.open_lead_in_context(
                _id(self.contact.data), _id(self.campaign.data), _id(self.product_line.data)
            )
            if duplicate is not None:
                self.contact.errors.append(
                    f"This contact already has an open lead for this campaign or product line (lead {duplicate.id})."
                )
                return False
        return valid

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

    def values(self) -> dict:
        """The cleaned values to store."""
        person = ("email", "phone", "company", "job_title", "country")
        return {
            "topic": self.topic.data,
            "first_name": self.first_name.data or "",
            "last_name": self.last_name.data or "",
            **{name: _blank_to_none(getattr(self, name).data) for name in person},
            **{
                name: _id(getattr(self, name).data)
                for name in ("campaign", "product_line", "contact", "account", "team")
            },
        }


def _check_id(field, model, message: str) -> None:
    """A select's id must name an existing row of ``model`` (or be empty)."""
    if not field.data:
        return
    row_id = _id(field.data)
    if row_id is None or not model.select().where(model.id == row_id).exists():
        raise ValidationError(message)
