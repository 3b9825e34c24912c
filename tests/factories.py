"""Factories for test records: ``make_lead(**overrides)`` and friends."""

from __future__ import annotations

import itertools

from flask.testing import FlaskClient

from auth.models import Team, User
from auth.passwords import hash_password
from leads.core import lifecycle
from leads.records.models import Account, Contact, CustomInteractionType, Lead, ProductLine

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = hash_password(PASSWORD)
_seq = itertools.count(1)


def make_team(**overrides) -> Team:
    return Team.create(**{"name": f"Team {next(_seq)}", **overrides})


def make_user(role: str = "rep", **overrides) -> User:
    n = next(_seq)
    values = {"email": f"{role}{n}@example.test", "name": f"{role.title()} {n}", "role": role}
    values.update(overrides)
    values.setdefault("password_hash", _PASSWORD_HASH)
    return User.create(**values)


def make_product_line(**overrides) -> ProductLine:
    n = next(_seq)
    return ProductLine.create(**{"name": f"Product {n}", "code": f"P{n}", **overrides})


def make_account(**overrides) -> Account:
    n = next(_seq)
    return Account.create(**{"name": f"Acme {n}", "domain": f"acme{n}.test", "country": "FR", **overrides})


def make_contact(**overrides) -> Contact:
    n = next(_seq)
    values = {"first_name": "Ada", "last_name": f"Lovelace{n}", "email": f"ada{n}@example.test"}
    return Contact.create(**{**values, **overrides})


def make_custom_type(name: str = "demo_requested", label: str = "Demo requested") -> CustomInteractionType:
    """A custom interaction type an admin registered (E3): the API takes it, rules may count it."""
    return CustomInteractionType.create(name=name, label=label)


def make_lead(**overrides) -> Lead:
    n = next(_seq)
    values = {
        "topic": f"Interest {n}",
        "first_name": "Grace",
        "last_name": f"Hopper{n}",
        "email": f"grace{n}@example.test",
        "company": f"Company {n}",
        "stage": lifecycle.INQUIRY,
    }
    values.update(overrides)
    return Lead.create(**values)


def login(client: FlaskClient, user: User) -> FlaskClient:
    """Sign ``client`` in as ``user`` through the real sign-in form."""
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_token(client: FlaskClient, path: str = "/account/password") -> str:
    """The CSRF token of the signed-in client's session, read from a page's meta tag."""
    import re

    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


# A scoring model definition the scoring tests share: a director title and email clicks.
ENGAGEMENT = {
    "attribute_rules": [
        {
            "id": "director",
            "label": "Director",
            "condition": {
                "entity": "contact",
                "field": "job_title",
                "operator": "contains",
                "value": "director",
            },
            "points": 20,
        }
    ],
    "behaviour_rules": [
        {
            "id": "clicks",
            "label": "Email clicks",
            "type": "email_clicked",
            "filters": [],
            "window_days": 30,
            "per_occurrence": True,
            "cap": 30,
            "points": 10,
        }
    ],
    "sales_ready_threshold": None,
    "grades": [{"label": "A", "min_score": 40}, {"label": "B", "min_score": 20}],
}


class count_queries:
    """Collect the SQL run inside the block (peewee logs every query at DEBUG)."""

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("peewee")
        self.level = self.logger.level
        self.records = []
        self.handler = logging.Handler()
        self.handler.emit = lambda record: self.records.append(record.getMessage())
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        return self.records

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and nothing swapping or settling.

    A test types faster than anyone: a change made between a response's arrival
    and its swap lands in the form being replaced, and is lost with it."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def sign_in(page, user):
    """Sign ``user`` in through the real form in a Playwright page."""
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/leads**")
