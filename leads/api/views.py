"""JSON API v1 (token-authenticated): leads with their stage actions and
history, contacts and accounts, and the OpenAPI document.

Every view declares its roles with ``@api(...)`` (the chokepoint answers 401 and
403) and documents itself with ``@operation(...)``; record-level access comes
from the named queries, so what a token's user may not see is a 404. The
contract lives beside it: the resources and their fields in
``leads.api.resources``, the checks and the error convention in
``leads.api.validation``, serialisation in ``leads.api.serialise`` and the
OpenAPI document in ``leads.api.openapi``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, request

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.policy import api, current_user, public
from leads.api.openapi import ID_SCHEMA, PAGE_PARAMS, Param, openapi_document, operation, search_param
from leads.api.resources import ACCOUNT, ACTION_HELP, CONTACT, LEAD, Errors
from leads.api.serialise import Names, account_json, contact_json, history_json, iso, lead_json, page_json
from leads.api.validation import (
    MAX_PAGE,
    MAX_PER_PAGE,
    parse_body,
    parse_int_arg,
    parse_search_arg,
    validate,
    validate_action,
)
from leads.core import fields as catalogue
from leads.core.lifecycle import ACTIONS, TransitionError
from leads.intake import interactions as events
from leads.records import directory, listing, services
from leads.records.models import Lead
from leads.records.queries import lead_for
from leads.scoring import scorer
from leads.stages.services import perform, refusal_status
from web.errors import api_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")

READERS = (ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP, INTEGRATION)
WRITERS = (ADMIN, MARKETER, MANAGER, INTEGRATION)
VIA = "API"

LEAD_LIST_PARAMS = (
    Param(
        "q",
        {"type": "string", "maxLength": listing.MAX_QUERY_LENGTH},
        f"Words (at most {listing.MAX_QUERY_WORDS}), each a case-insensitive prefix of the first name, last name, email or company.",
    ),
    Param("stage", {"type": "string", "enum": list(listing.STAGE_FILTERS)}, "Open stage 1–5, or an outcome."),
    Param("status", {"type": "string", "enum": list(listing.STATUS_FILTERS)}, "Lead status."),
    Param("owner", {"type": "string"}, f'Owner user id, or "{listing.UNASSIGNED}" for unassigned leads.'),
    Param("product_line", ID_SCHEMA, "Product line id."),
    Param("team", ID_SCHEMA, "Team id."),
    Param(
        "score_model",
        ID_SCHEMA,
        "Scoring model whose score min_score and sort=score read (default: the first live model).",
    ),
    Param(
        "min_score",
        {"type": "integer", "minimum": -listing.MAX_SCORE, "maximum": listing.MAX_SCORE},
        "Only leads whose score in that model is at least this (R7).",
    ),
    Param("sort", {"type": "string", "enum": list(listing.SORTS), "default": "-created_at"}, "Sort key."),
    *PAGE_PARAMS,
)


def invalid(errors: Errors):
    """The answer listing every fault: 422 when fields are refused, 400 when the
    body as a whole is (not JSON, not an object: field null)."""
    status = 400 if all(name is None for name, _reason in errors) else 422
    return api_error(status, None, errors=[{"field": name, "reason": reason} for name, reason in errors])


def known_query_only():
    """``before_request`` of the API's blueprints (after authentication): a query
    parameter the operation does not document is a 422 naming it, so that a
    misspelt filter is not silently ignored (the public document takes any)."""
    view = current_app.view_functions.get(request.endpoint)
    doc, policy = getattr(view, "openapi", None), getattr(view, "policy", None)
    if doc is None or policy is None or policy.public:
        return None
    unknown = sorted(set(request.args) - {param.name for param in doc.query})
    if unknown:
        return invalid([(name, "Unknown query parameter.") for name in unknown])
    return None


bp.before_request(known_query_only)


def _body(required: bool = True, allow_list: bool = False) -> dict:
    """The JSON object sent, or abort with a 400 or 422 that says what is wrong with it."""
    data, errors = parse_body(request.get_data(cache=True), request.is_json, required, allow_list)
    if errors:
        abort(invalid(errors))
    return data


def _page_args() -> tuple[int, int, Errors]:
    errors: Errors = []
    page = parse_int_arg(request.args, "page", errors, default=1, maximum=MAX_PAGE)
    per_page = parse_int_arg(
        request.args, "per_page", errors, default=current_app.config["PAGE_SIZE"], maximum=MAX_PER_PAGE
    )
    return page, per_page, errors


def _lead_or_404(lead_id: int) -> Lead:
    lead = lead_for(current_user(), lead_id)
    if lead is None:
        abort(api_error(404, "No such lead.", "lead_id"))
    return lead


def _one_lead(lead: Lead, status: int = 200):
    return lead_json(lead, Names.for_leads([lead])), status


# --------------------------------------------------------------------------- leads


@bp.route("/leads", methods=["GET"])
@api(*READERS)
@operation(
    summary="List the leads the token's user may see, with the web list's filters.",
    tag="Leads",
    query=LEAD_LIST_PARAMS,
    response="LeadPage",
    errors=(400, 401),
)
def list_leads():
    params, errors = listing.parse_list_args(request.args, max_per_page=MAX_PER_PAGE)
    if errors:
        return invalid(errors)
    page = listing.list_leads(current_user(), params)
    names = Names.for_leads(page.rows)
    return page_json([lead_json(lead, names) for lead in page.rows], page.page, page.per_page, page.total)


@bp.route("/leads", methods=["POST"])
@api(*WRITERS)
@operation(
    summary="Create a lead at stage 1 (contact and account optional, E1).",
    tag="Leads",
    body="LeadCreate",
    response="Lead",
    status=201,
    errors=(400, 401, 403),
)
def create_lead():
    values, errors = validate(LEAD, _body(), creating=True)
    if errors:
        return invalid(errors)
    return _one_lead(services.create_lead(values, current_user(), via=VIA, source="api"), 201)


@bp.route("/leads/<int:lead_id>", methods=["GET"])
@api(*READERS)
@operation(summary="One lead.", tag="Leads", response="Lead", errors=(401, 404))
def get_lead(lead_id: int):
    return _one_lead(_lead_or_404(lead_id))


@bp.route("/leads/<int:lead_id>", methods=["PATCH"])
@api(*WRITERS, REP)
@operation(
    summary="Change a lead's fields (owner, stage and status change only through actions).",
    description="A sales rep may change the person fields (name, email, phone, company, job title, "
    "country) of their own leads only.",
    tag="Leads",
    body="LeadUpdate",
    response="Lead",
)
def update_lead(lead_id: int):
    lead = _lead_or_404(lead_id)
    writable = catalogue.writable_by(catalogue.LEAD, current_user().role)  # the lead page's list too (W2)
    values, errors = validate(LEAD, _body(), creating=False, writable=writable)
    if errors:
        return invalid(errors)
    return _one_lead(services.update_lead(lead.id, values, current_user(), via=VIA))


@bp.route("/leads/<int:lead_id>/actions/<action>", methods=["POST"])
@api(*READERS)
@operation(
    summary="Apply a stage action (P1–P6); the lead after it.",
    description="Actions: " + " ".join(f"`{name}`: {text}" for name, text in ACTION_HELP.items()),
    tag="Leads",
    body="ActionRequest",
    body_required=False,
    response="Lead",
    path={"action": {"type": "string", "enum": sorted(ACTIONS)}},
    errors=(400, 401, 403, 404, 409),
)
def lead_action(lead_id: int, action: str):
    lead = _lead_or_404(lead_id)
    if action not in ACTIONS:
        return api_error(404, f"Unknown action; one of: {', '.join(sorted(ACTIONS))}.", "action")
    args, note, errors = validate_action(action, _body(required=False))
    if errors:
        return invalid(errors)
    try:
        lead = perform(
            lead, action, current_user(), via=f"{VIA}: {action.replace('_', ' ')}", note=note, **args
        )
    except TransitionError as error:
        return api_error(refusal_status(error), str(error))
    return _one_lead(lead)


@bp.route("/leads/<int:lead_id>/history", methods=["GET"])
@api(*READERS)
@operation(
    summary="The lead's history (P7), oldest first.", tag="Leads", response="History", errors=(401, 404)
)
def lead_history(lead_id: int):
    lead = _lead_or_404(lead_id)
    rows = list(directory.history_of(lead.id))
    names = Names.for_history(rows)
    return {"data": [history_json(row, names) for row in rows]}


# --------------------------------------------------------------------------- contacts and accounts


@dataclass(frozen=True)
class _Kind:
    """What the directory routes need of one record kind (contacts, accounts)."""

    name: str  # "contact": in the 404 answer and the id parameter's name
    fields: dict  # the schema's writable fields
    find: Callable  # (user, id) -> the record the user may see, or None
    search: Callable  # (user, q, *filters) -> the query of the records the user may see
    names: Callable  # rows -> the Names their JSON refers to
    to_json: Callable  # (row, names) -> dict
    create: Callable  # values -> the new record
    update: Callable  # (id, values) -> the changed record


CONTACTS = _Kind(
    "contact",
    CONTACT,
    directory.contact_for,
    directory.search_contacts,
    Names.for_contacts,
    contact_json,
    services.create_contact,
    services.update_contact,
)
ACCOUNTS = _Kind(
    "account",
    ACCOUNT,
    directory.account_for,
    directory.search_accounts,
    Names.for_accounts,
    account_json,
    services.create_account,
    services.update_account,
)


def _record_or_404(kind: _Kind, record_id: int):
    record = kind.find(current_user(), record_id)
    if record is None:
        abort(api_error(404, f"No such {kind.name}.", f"{kind.name}_id"))
    return record


def _one(kind: _Kind, record, status: int = 200):
    return kind.to_json(record, kind.names([record])), status


def _list_records(kind: _Kind, *filters: str):
    """A page of the records of ``kind`` the user may see, searched by ``q`` and
    the integer ``filters`` (query parameters passed to ``kind.search`` in order)."""
    page, per_page, errors = _page_args()
    q = parse_search_arg(request.args, errors)
    values = [parse_int_arg(request.args, name, errors) for name in filters]
    if errors:
        return invalid(errors)
    rows, total = directory.rows_and_total(kind.search(current_user(), q, *values), page, per_page)
    names = kind.names(rows)
    return page_json([kind.to_json(row, names) for row in rows], page, per_page, total)


def _create_record(kind: _Kind):
    values, errors = validate(kind.fields, _body(), creating=True)
    if errors:
        return invalid(errors)
    return _one(kind, kind.create(values), 201)


def _get_record(kind: _Kind, record_id: int):
    return _one(kind, _record_or_404(kind, record_id))


def _update_record(kind: _Kind, record_id: int):
    record = _record_or_404(kind, record_id)
    values, errors = validate(kind.fields, _body(), creating=False)
    if errors:
        return invalid(errors)
    return _one(kind, kind.update(record.id, values))


@bp.route("/contacts", methods=["GET"])
@api(*READERS)
@operation(
    summary="List the contacts the token's user may see.",
    tag="Contacts",
    query=(
        search_param("first name, last name or email"),
        Param("owner", ID_SCHEMA, "Owner user id."),
        Param("account", ID_SCHEMA, "Account id."),
        *PAGE_PARAMS,
    ),
    response="ContactPage",
    errors=(400, 401),
)
def list_contacts():
    return _list_records(CONTACTS, "owner", "account")


@bp.route("/contacts", methods=["POST"])
@api(*WRITERS)
@operation(
    summary="Create a contact.",
    tag="Contacts",
    body="ContactCreate",
    response="Contact",
    status=201,
    errors=(400, 401, 403),
)
def create_contact():
    return _create_record(CONTACTS)


@bp.route("/contacts/<int:contact_id>", methods=["GET"])
@api(*READERS)
@operation(summary="One contact.", tag="Contacts", response="Contact", errors=(401, 404))
def get_contact(contact_id: int):
    return _get_record(CONTACTS, contact_id)


@bp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@api(*WRITERS)
@operation(summary="Change a contact's fields.", tag="Contacts", body="ContactUpdate", response="Contact")
def update_contact(contact_id: int):
    return _update_record(CONTACTS, contact_id)


@bp.route("/accounts", methods=["GET"])
@api(*READERS)
@operation(
    summary="List the accounts the token's user may see.",
    tag="Accounts",
    query=(
        search_param("name or domain"),
        Param("owner", ID_SCHEMA, "Owner user id."),
        *PAGE_PARAMS,
    ),
    response="AccountPage",
    errors=(400, 401),
)
def list_accounts():
    return _list_records(ACCOUNTS, "owner")


@bp.route("/accounts", methods=["POST"])
@api(*WRITERS)
@operation(
    summary="Create an account.",
    tag="Accounts",
    body="AccountCreate",
    response="Account",
    status=201,
    errors=(400, 401, 403),
)
def create_account():
    return _create_record(ACCOUNTS)


@bp.route("/accounts/<int:account_id>", methods=["GET"])
@api(*READERS)
@operation(summary="One account.", tag="Accounts", response="Account", errors=(401, 404))
def get_account(account_id: int):
    return _get_record(ACCOUNTS, account_id)


@bp.route("/accounts/<int:account_id>", methods=["PATCH"])
@api(*WRITERS)
@operation(summary="Change an account's fields.", tag="Accounts", body="AccountUpdate", response="Account")
def update_account(account_id: int):
    return _update_record(ACCOUNTS, account_id)


# --------------------------------------------------------------------------- interactions and scores


@bp.route("/interactions", methods=["POST"])
@api(*WRITERS)
@operation(
    summary="Post one interaction, or a batch (a JSON array) of up to 1,000 (E3, S4).",
    tag="Interactions",
    body="InteractionRequest",
    response="InteractionResults",
    also={201: "A single interaction, stored."},
    errors=(400, 401, 403),
    description=(
        "Each event is stored once per (source, external_id): posting it again answers "
        '"duplicate" and counts nothing twice. The leads it touches are re-scored by the '
        "workers within seconds. A batch answers 200 with one result per item (good items "
        "are stored even when others are rejected); a single object answers 201, 200 for "
        "a duplicate, or 422 with its errors. A type that is neither built in nor registered by "
        "an admin is refused, its error listing the known types (known_types)."
    ),
)
def post_interactions():
    data = _body(allow_list=True)
    single = not isinstance(data, list)
    items = [data] if single else data
    if not items:
        return invalid([(None, "Send at least one interaction.")])
    if len(items) > events.MAX_BATCH:
        return invalid([(None, f"At most {events.MAX_BATCH} interactions per request.")])
    results = events.record_interactions(items, current_user())
    if single:
        result = results[0]
        if result.status == events.REJECTED:
            return api_error(422, None, errors=result.errors)
    counts = {
        status: sum(1 for r in results if r.status == status)
        for status in (events.CREATED, events.DUPLICATE, events.REJECTED)
    }
    body = {
        "created": counts[events.CREATED],
        "duplicates": counts[events.DUPLICATE],
        "rejected": counts[events.REJECTED],
        "data": [result.to_dict() for result in results],
    }
    return body, 201 if single and counts[events.CREATED] else 200


@bp.route("/leads/<int:lead_id>/scores", methods=["GET"])
@api(*READERS)
@operation(
    summary="The lead's score in each model, and why (S6).",
    tag="Leads",
    response="LeadScores",
    errors=(401, 404),
)
def lead_scores(lead_id: int):
    lead = _lead_or_404(lead_id)
    rows = scorer.scores_for(lead.id)
    for row in rows:
        row["computed_at"] = iso(row["computed_at"])
    return {"data": rows}


# --------------------------------------------------------------------------- document


@bp.route("/openapi.json", methods=["GET"])
@public
@operation(summary="This OpenAPI 3.1 document.", tag="Meta", errors=())
def openapi():
    return openapi_document(current_app.url_map, current_app.view_functions)
