"""JSON API of the activities (W1) of a lead, a contact and an account: list
them and add a note, a call or a task (a lead's also changed and deleted). A
blueprint of its own under ``/api/v1`` (like ``campaigns.api``); the OpenAPI
document lists its routes with the others. Whoever's token may see the record
may read and add, as on its page; a record it may not see is a 404. Every
write goes through ``leads.activities.services``, as the pages' do: a note or
a call on a contact is that contact's interaction and re-scores its leads."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from auth.models import ADMIN, INTEGRATION, MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.policy import api, current_user
from leads.activities import services
from leads.activities.models import Activity
from leads.api.openapi import OUTPUT_SCHEMAS, PAGE_PARAMS, Param, operation
from leads.api.serialise import iso, page_json
from leads.api.validation import MAX_PAGE, MAX_PER_PAGE, parse_body, parse_int_arg
from leads.api.views import invalid, known_query_only
from leads.core import activities as rules
from leads.records import directory
from leads.records.queries import lead_for
from web.errors import api_error

bp = Blueprint("activities_api", __name__, url_prefix="/api/v1")
bp.before_request(known_query_only)  # an undocumented query parameter is a 422 naming it

READERS = (ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP, INTEGRATION)
ALLOWED = {"kind", *(name for names in rules.FIELDS.values() for name in names)}

_INT, _STRING, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
_MAYBE_REF = {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]}


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


OUTPUT_SCHEMAS.update(
    {
        "Activity": _object(
            {
                "id": _INT,
                "lead_id": {"type": ["integer", "null"], "description": "Set when it is on a lead."},
                "contact_id": {"type": ["integer", "null"], "description": "Set when it is on a contact."},
                "account_id": {"type": ["integer", "null"], "description": "Set when it is on an account."},
                "kind": {"type": "string", "enum": list(rules.KINDS)},
                "author": _MAYBE_REF,
                "created_at": {"type": "string", "format": "date-time"},
                "body": {"type": "string", "description": "The note, or the call's note."},
                "outcome": {"type": ["string", "null"], "enum": [*rules.OUTCOMES, None]},
                "duration_minutes": {"type": ["integer", "null"]},
                "title": {"type": ["string", "null"]},
                "due_at": _MAYBE_TIME,
                "assignee": _MAYBE_REF,
                "done": _BOOL,
                "interaction_id": {
                    "type": ["integer", "null"],
                    "description": "The note_added or call_logged interaction scoring models count "
                    "(a lead's or a contact's note or call; none on an account).",
                },
                "edited_at": _MAYBE_TIME,
                "edited_by": _MAYBE_REF,
            }
        ),
        "ActivityUpdate": {
            "type": "object",
            "additionalProperties": False,
            "description": "The fields of the activity's kind to change (not its kind); only those sent change.",
            "properties": {},  # filled below from ActivityIn
        },
        "ActivityPage": _object(
            {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Activity"}},
                "page": _INT,
                "per_page": _INT,
                "total": _INT,
            }
        ),
        "ActivityIn": {
            "type": "object",
            "required": ["kind"],
            "additionalProperties": False,
            "description": "By kind: note: body; call: outcome, duration_minutes, body (optional); "
            "task: title, due_at, assignee_id, done (optional).",
            "properties": {
                "kind": {"type": "string", "enum": list(rules.KINDS)},
                "body": {"type": "string", "maxLength": rules.MAX_BODY},
                "outcome": {"type": "string", "enum": list(rules.OUTCOMES)},
                "duration_minutes": {"type": "integer", "minimum": 0, "maximum": rules.MAX_DURATION},
                "title": {"type": "string", "maxLength": rules.MAX_TITLE},
                "due_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "UTC unless an offset is given.",
                },
                "assignee_id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "An active user who may see the lead (the contact, the account).",
                },
                "done": _BOOL,
            },
        },
    }
)

OUTPUT_SCHEMAS["ActivityUpdate"]["properties"] = {
    name: schema for name, schema in OUTPUT_SCHEMAS["ActivityIn"]["properties"].items() if name != "kind"
}


def _ref(user) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name}


def activity_json(activity: Activity) -> dict:
    """An activity as the API shows it (from ``services.record_activities`` rows)."""
    return {
        "id": activity.id,
        "lead_id": activity.lead_id,
        "contact_id": activity.contact_id,
        "account_id": activity.account_id,
        "kind": activity.kind,
        "author": _ref(activity.author) if activity.author_id else None,
        "created_at": iso(activity.created_at),
        "body": activity.body,
        "outcome": activity.outcome,
        "duration_minutes": activity.duration_minutes,
        "title": activity.title,
        "due_at": iso(activity.due_at),
        "assignee": _ref(activity.assignee) if activity.assignee_id else None,
        "done": activity.done,
        "interaction_id": activity.interaction_id,
        "edited_at": iso(activity.edited_at),
        "edited_by": _ref(activity.edited_by) if activity.edited_by_id else None,
    }


def _lead_or_404(lead_id: int):
    lead = lead_for(current_user(), lead_id)
    if lead is None:
        abort(api_error(404, "No such lead.", "lead_id"))
    return lead


_LIST_QUERY = (Param("kind", {"type": "string", "enum": list(rules.KINDS)}, "Only this kind."), *PAGE_PARAMS)


@bp.route("/leads/<int:lead_id>/activities", methods=["GET"])
@api(*READERS)
@operation(
    summary="The lead's notes, logged calls and tasks, newest first (W1).",
    tag="Activities",
    query=_LIST_QUERY,
    response="ActivityPage",
    errors=(400, 401, 404),
)
def list_activities(lead_id: int):
    return _list(_lead_or_404(lead_id))


def _list(record):
    """A page of ``record``'s activities (a lead, contact or account), ``?kind=`` kept."""
    errors = []
    page = parse_int_arg(request.args, "page", errors, default=1, maximum=MAX_PAGE)
    per_page = parse_int_arg(
        request.args, "per_page", errors, default=current_app.config["PAGE_SIZE"], maximum=MAX_PER_PAGE
    )
    kind = request.args.get("kind")
    if kind is not None and kind not in rules.KINDS:
        errors.append(("kind", "One of: " + ", ".join(rules.KINDS) + "."))
    if errors:
        return invalid(errors)
    query = services.record_activities(record)
    if kind:
        query = query.where(Activity.kind == kind)
    rows = query.paginate(page, per_page)
    return page_json([activity_json(row) for row in rows], page, per_page, query.count())


@bp.route("/leads/<int:lead_id>/activities", methods=["POST"])
@api(*READERS)
@operation(
    summary="Add a note, a logged call or a task to the lead (W1).",
    description="A note or a call is also recorded as an interaction of type note_added or "
    "call_logged (properties: outcome, duration_minutes), which scoring models can count; "
    "the lead is re-scored within seconds.",
    tag="Activities",
    body="ActivityIn",
    response="Activity",
    status=201,
    errors=(400, 401, 404),
)
def add_activity(lead_id: int):
    return _add(_lead_or_404(lead_id))


def _add(record):
    """Add the activity posted to ``record`` through the service every door uses (201)."""
    data, errors = parse_body(request.get_data(cache=True), request.is_json)
    if errors:
        return invalid(errors)
    errors = [(str(name), "Unknown field.") for name in sorted(set(data) - ALLOWED)]
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in rules.KINDS:
        return invalid([*errors, ("kind", "One of: " + ", ".join(rules.KINDS) + ".")])
    errors += [
        (name, "Not a field of this kind.")
        for name in sorted(set(data) & ALLOWED - {"kind", *rules.FIELDS[kind]})
    ]
    if errors:  # refuse before storing anything, listing the values' own errors too
        return invalid([*errors, *rules.clean(kind, data)[1]])
    activity, problems = services.add_activity(record, current_user(), kind, data)
    if problems:
        return invalid(problems)
    return activity_json(activity), 201


RECORDS = {"contacts": ("contact", directory.contact_for), "accounts": ("account", directory.account_for)}


def _record_or_404(records: str, record_id: int):
    """The contact or account if the token's user may see it (as its page does), else a 404."""
    name, find = RECORDS[records]
    record = find(current_user(), record_id)
    if record is None:
        abort(api_error(404, f"No such {name}.", f"{name}_id"))
    return record


@bp.route("/contacts/<int:contact_id>/activities", methods=["GET"])
@api(*READERS)
@operation(
    summary="The contact's own notes, logged calls and tasks, newest first (W1).",
    description="Those on the contact itself; those on its leads are listed under each lead "
    "(the contact's page shows both in one timeline).",
    tag="Activities",
    query=_LIST_QUERY,
    response="ActivityPage",
    errors=(400, 401, 404),
)
def list_contact_activities(contact_id: int):
    return _list(_record_or_404("contacts", contact_id))


@bp.route("/contacts/<int:contact_id>/activities", methods=["POST"])
@api(*READERS)
@operation(
    summary="Add a note, a logged call or a task to the contact (W1).",
    description="As on the contact's page: a note or a call is also recorded as the contact's "
    "interaction of type note_added or call_logged, which scoring models count for every lead "
    "of the contact; they are re-scored within seconds.",
    tag="Activities",
    body="ActivityIn",
    response="Activity",
    status=201,
    errors=(400, 401, 404),
)
def add_contact_activity(contact_id: int):
    return _add(_record_or_404("contacts", contact_id))


@bp.route("/accounts/<int:account_id>/activities", methods=["GET"])
@api(*READERS)
@operation(
    summary="The account's own notes, logged calls and tasks, newest first (W1).",
    description="Those on the account itself; those on its leads are listed under each lead "
    "(the account's page shows both in one timeline).",
    tag="Activities",
    query=_LIST_QUERY,
    response="ActivityPage",
    errors=(400, 401, 404),
)
def list_account_activities(account_id: int):
    return _list(_record_or_404("accounts", account_id))


@bp.route("/accounts/<int:account_id>/activities", methods=["POST"])
@api(*READERS)
@operation(
    summary="Add a note, a logged call or a task to the account (W1).",
    description="As on the account's page. An account is not a person: its notes and calls are "
    "no interaction (interaction_id is null) and re-score nothing.",
    tag="Activities",
    body="ActivityIn",
    response="Activity",
    status=201,
    errors=(400, 401, 404),
)
def add_account_activity(account_id: int):
    return _add(_record_or_404("accounts", account_id))


def _activity_or_error(lead_id: int, activity_id: int) -> Activity:
    """The lead's activity, or abort: 404 when either is not there for the
    token's user, 403 when the user may see it but not change it."""
    lead = _lead_or_404(lead_id)
    activity = services.activity_for(lead.id, activity_id)
    if activity is None:
        abort(api_error(404, "No such activity.", "activity_id"))
    user = current_user()
    if not rules.may_change(user.role, user.id, activity.author_id):
        abort(api_error(403, "Only its author, a manager or an admin may change this activity."))
    return activity


@bp.route("/leads/<int:lead_id>/activities/<int:activity_id>", methods=["PATCH"])
@api(*READERS)
@operation(
    summary="Change an activity's fields (its author, a manager or an admin).",
    description="Only the fields sent change; who and when are kept (edited_by, edited_at). "
    "A call's new outcome or duration changes its interaction and re-scores the lead.",
    tag="Activities",
    body="ActivityUpdate",
    response="Activity",
    errors=(400, 401, 403, 404),
)
def update_activity(lead_id: int, activity_id: int):
    activity = _activity_or_error(lead_id, activity_id)
    data, errors = parse_body(request.get_data(cache=True), request.is_json)
    if errors:
        return invalid(errors)
    errors = [
        (str(name), "Not a field of this kind.")
        for name in sorted(set(data) - set(rules.FIELDS[activity.kind]))
    ]
    if errors:
        return invalid([*errors, *rules.clean(activity.kind, data, partial=True)[1]])
    changed, problems = services.edit_activity(activity, current_user(), data)
    if problems:
        return invalid(problems)
    return activity_json(changed)


@bp.route("/leads/<int:lead_id>/activities/<int:activity_id>", methods=["DELETE"])
@api(*READERS)
@operation(
    summary="Delete an activity (its author, a manager or an admin).",
    description="It leaves the timeline and the list; the row keeps who deleted it and when. "
    "A note's or call's interaction goes with it and the lead is re-scored.",
    tag="Activities",
    status=204,
    errors=(401, 403, 404),
)
def delete_activity(lead_id: int, activity_id: int):
    services.delete_activity(_activity_or_error(lead_id, activity_id), current_user())
    return "", 204
