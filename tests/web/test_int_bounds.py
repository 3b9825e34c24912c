"""Numbers too large for the databases answer like any other bad value, never a
500 (G1: an admin or manager walks every route). An ``<int:...>`` part of a
path beyond the 64-bit range matches no route (404); the largest it takes
reaches the view, which finds nothing; a huge ``?page`` on a list page is read
as no page."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from auth.models import ADMIN, MANAGER
from auth.sessions import issue_token
from leads.core.numbers import MAX_INT64
from tests.factories import csrf_token, login, make_contact, make_user
from web.converters import BoundedIntConverter, up_to

INT_PART = re.compile(r"<int(?:\([^)]*\))?:\w+>")
OTHER_PART = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?\w+>")
TOO_LARGE = (str(MAX_INT64 + 1), "99999999999999999999999", "9" * 5000)


def _routes(url_map) -> list[tuple[str, str]]:
    """(rule, method) of every rule with an int part."""
    return sorted(
        (rule.rule, method)
        for rule in url_map.iter_rules()
        if INT_PART.search(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def _blueprint_routes() -> list[tuple[str, str]]:
    """The same rules read at collection time from the app's own blueprint list
    (no database bound); ``test_the_walk_covers_every_int_route`` checks they
    are the app's."""
    from app import _blueprints

    probe = Flask(__name__)
    probe.url_map.converters["int"] = BoundedIntConverter
    for blueprint in _blueprints():
        probe.register_blueprint(blueprint)
    return _routes(probe.url_map)


ROUTES = _blueprint_routes()


def _path(rule: str, number: str) -> str:
    return OTHER_PART.sub("x", INT_PART.sub(number, rule))


def _signed_in(app, role: str):
    """A client signed in as a new ``role`` user, and headers with its CSRF and API tokens."""
    user = make_user(role)
    client = login(app.test_client(), user)
    headers = {"X-CSRFToken": csrf_token(client), "Authorization": f"Bearer {issue_token(user, 'walk')}"}
    return client, headers


def test_the_walk_covers_every_int_route(app):
    """Every rule of the app with an int part is walked below, and there are many."""
    assert _routes(app.url_map) == ROUTES and len(ROUTES) >= 50
    assert app.url_map.converters["int"] is BoundedIntConverter


@pytest.mark.parametrize(("rule", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_g1_an_id_beyond_64_bits_in_any_route_is_a_404_not_a_500(sqlite_app, rule, method):
    """G1: an admin sending a number past the 64-bit range in any int part of any
    route gets a 404 (a JSON error under /api/), the same as for a missing record."""
    client, headers = _signed_in(sqlite_app, ADMIN)
    for number in TOO_LARGE:
        response = client.open(_path(rule, number), method=method, headers=headers, data={})
        assert response.status_code == 404, (number[:25], response.status_code)
        if rule.startswith("/api/"):
            assert response.get_json()["errors"][0]["reason"]


@pytest.mark.parametrize("role", [ADMIN, MANAGER])
def test_g1_the_largest_id_a_route_takes_reaches_its_view_without_a_500(app, role):
    """G1: 2**63 - 1 still matches (it fits SQLite's INTEGER and PostgreSQL's
    bigint); every route answers it as a record that does not exist (or a role
    refusal), never with a 500, on both databases."""
    client, headers = _signed_in(app, role)
    make_contact()
    answers = {}
    for rule, method in ROUTES:
        response = client.open(_path(rule, str(MAX_INT64)), method=method, headers=headers, data={})
        answers[method, rule] = response.status_code
    assert not {key: code for key, code in answers.items() if code >= 500}
    if role == ADMIN:  # most routes are the admin's: they looked the id up and found nothing
        assert list(answers.values()).count(404) > len(ROUTES) // 2, answers


def test_the_converter_matches_exactly_the_64_bit_range():
    """The bound is in the converter's pattern (werkzeug picks 405 from the
    path's shape before converting): it matches 0 … 2**63 - 1, leading zeros
    allowed, and no more."""
    pattern = re.compile(up_to(MAX_INT64))
    for n in (0, 1, 9, 10, 99, 10**18, MAX_INT64 - 1, MAX_INT64, 9_223_372_036_854_775_799):
        assert pattern.fullmatch(str(n)), n
        assert pattern.fullmatch("000" + str(n)), n
    for n in (MAX_INT64 + 1, 9_223_372_036_854_775_810, 10**19, 10**19 - 1, 2**64):
        assert not pattern.fullmatch(str(n)), n
    for limit in (1, 9, 10, 105, 909, 1000, 4321):
        small = re.compile(up_to(limit))
        assert [n for n in range(3 * limit + 20) if small.fullmatch(str(n))] == list(range(limit + 1))


@pytest.mark.parametrize("path", ["/leads", "/contacts", "/accounts"])
@pytest.mark.parametrize("page", ["99999999999999999999999", "9" * 5000, "²", str(MAX_INT64 + 1)])
def test_a_huge_page_on_a_list_page_is_read_like_any_bad_page(app, path, page):
    """G1: a manager's list pages take a huge, odd or endless ?page as they take
    any unreadable page value: the list renders, no 500."""
    client, _ = _signed_in(app, MANAGER)
    response = client.get(f"{path}?page={page}")
    assert response.status_code == 200, response.status_code
    assert client.get(f"{path}?page=abc").status_code == 200


@pytest.mark.parametrize("raw", ["²", "99999999999999999999", "9" * 5000])
def test_s6_an_odd_or_huge_insights_threshold_is_asked_again_not_a_500(app, raw):
    """S6: the insights threshold takes ASCII digits only; a superscript or an
    endless number is an inline "Enter a whole number.", like any other bad value."""
    from tests.scoring.test_scoring_ui import signed_in, stored_model

    client, _, user = signed_in(app)
    model = stored_model(app, user)
    response = client.get(
        f"/scoring/models/{model.id}/insights?threshold={raw}", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Enter a whole number." in response.get_data(as_text=True)
