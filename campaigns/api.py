"""JSON API for campaigns (G2: marketers and admins only; reps and integrations
get 403) and the inbound-reply endpoint that routes replies to campaign emails
back to the owner rep (R8). A blueprint of its own under the same ``/api/v1``
prefix; the OpenAPI document lists its routes with the others."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from auth.models import ADMIN, INTEGRATION, MARKETER
from auth.policy import api, current_user
from campaigns import catalog as marketing
from campaigns import launch as campaigns
from campaigns.catalog import MarketingError
from leads.api.openapi import OUTPUT_SCHEMAS, PAGE_PARAMS, operation
from leads.api.serialise import iso, page_json
from leads.api.validation import MAX_PAGE, MAX_PER_PAGE, parse_body, parse_int_arg
from leads.api.views import invalid, known_query_only
from leads.base.models import BackgroundTask
from leads.core.conditions import validate_segment
from leads.core.numbers import MAX_ID
from leads.records.models import Campaign, ProductLine
from web.errors import api_error

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/v1")
bp.before_request(known_query_only)

MARKETING = (MARKETER, ADMIN)
_INT, _STRING = {"type": "integer"}, {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
_MAYBE_REF = {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]}


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


_SEGMENT = {
    "oneOf": [{"type": "object"}, {"type": "null"}],
    "description": "A group of conditions over lead, contact and account fields "
    '({"op": "and"|"or", "items": [{"entity", "field", "operator", "value"}]}); null: every contact.',
}
# The campaign resources' schemas join the document's components.
OUTPUT_SCHEMAS.update(
    {
        "Campaign": _object(
            {
                "id": _INT,
                "name": _STRING,
                "product_line": _MAYBE_REF,
                "status": {"type": "string", "enum": list(campaigns.STATUSES)},
                "segment": _SEGMENT,
                "subject": _STRING,
                "body": _STRING,
                "created_at": _TIME,
                "launched_at": _MAYBE_TIME,
                "completed_at": _MAYBE_TIME,
                "messages": {"type": "integer", "description": "Messages written to the outbox."},
                "launch": {
                    "oneOf": [
                        _object({"task_id": _INT, "status": _STRING, "total": _INT, "done": _INT}),
                        {"type": "null"},
                    ]
                },
            }
        ),
        "CampaignPage": _object(
            {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}},
                "page": _INT,
                "per_page": _INT,
                "total": _INT,
            }
        ),
        "CampaignCreate": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 150},
                "product_line_id": {"type": ["integer", "null"], "minimum": 1},
                "segment": _SEGMENT,
                "subject": {"type": "string", "maxLength": 200},
                "body": {"type": "string", "maxLength": 20000},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "CampaignLaunch": {
            "type": "object",
            "properties": {},
            "additionalProperties": False,
            "description": "No arguments: the campaign's own segment and message are sent.",
        },
        "InboundReply": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "The reply address (reply+<token>@…)."},
                "from": {"type": "string", "maxLength": 254},
                "subject": {"type": "string"},
                "text": {"type": "string"},
                "message_id": {"type": "string", "maxLength": 250},
            },
            "required": ["to", "from", "message_id"],
            "additionalProperties": False,
        },
        "InboundReplyResult": _object(
            {
                "id": _INT,
                "status": {"type": "string", "enum": ["created", "duplicate"]},
                "campaign": {"$ref": "#/components/schemas/Ref"},
                "lead": _MAYBE_REF,
                "rep": _MAYBE_REF,
            }
        ),
    }
)
CAMPAIGN_FIELDS = {"name", "product_line_id", "segment", "subject", "body"}
REPLY_FIELDS = {"to", "from", "subject", "text", "message_id"}


def _body(required: bool = True) -> dict:
    data, errors = parse_body(request.get_data(cache=True), request.is_json, required)
    if errors:
        abort(invalid(errors))
    return data


def campaign_json(campaign: Campaign, messages: int, task: BackgroundTask | None) -> dict:
    """A campaign as the API answers it."""
    line = campaign.product_line if campaign.product_line_id else None
    return {
        "id": campaign.id,
        "name": campaign.name,
        "product_line": None if line is None else {"id": line.id, "name": line.name},
        "status": campaign.status,
        "segment": campaign.segment,
        "subject": campaign.subject,
        "body": campaign.body,
        "created_at": iso(campaign.created_at),
        "launched_at": iso(campaign.launched_at),
        "completed_at": iso(campaign.completed_at),
        "messages": messages,
        "launch": None
        if task is None
        else {"task_id": task.id, "status": task.status, "total": task.total, "done": task.done},
    }


def _campaigns_json(rows: list[Campaign]) -> list[dict]:
    counts = campaigns.message_counts([c.id for c in rows])
    task_ids = [c.launch_task for c in rows if c.launch_task]
    tasks = (
        {t.id: t for t in BackgroundTask.select().where(BackgroundTask.id.in_(task_ids))} if task_ids else {}
    )
    return [campaign_json(c, counts.get(c.id, 0), tasks.get(c.launch_task)) for c in rows]


def _text(data: dict, name: str, limit: int, errors: list, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.append((name, "Required."))
        return None
    if not isinstance(value, str):
        errors.append((name, "Must be a string."))
        return None
    if required and not value.strip():
        errors.append((name, "Required."))
    elif len(value) > limit:
        errors.append((name, f"At most {limit} characters."))
    return value


def _campaign_values(data: dict) -> tuple[dict, list]:
    errors: list = [(name, "Unknown field.") for name in sorted(set(data) - CAMPAIGN_FIELDS)]
    name = _text(data, "name", 150, errors, required=True)
    subject = _text(data, "subject", 200, errors) or ""
    body = _text(data, "body", 20000, errors) or ""
    line_id = data.get("product_line_id")
    if line_id is not None and (
        isinstance(line_id, bool)
        or not isinstance(line_id, int)
        or not 1 <= line_id <= MAX_ID
        or not ProductLine.select().where(ProductLine.id == line_id).exists()
    ):
        errors.append(("product_line_id", "No such product line."))
    segment = data.get("segment")
    if segment is not None:
        errors += [(e.field, e.reason) for e in validate_segment(segment, "segment")]
    values = {
        "name": name,
        "product_line": line_id,
        "segment": segment,
        "subject": subject.strip(),
        "body": body,
    }
    return values, errors


@bp.route("/campaigns", methods=["GET"])
@api(*MARKETING)
@operation(
    summary="List campaigns, newest first (marketers and admins only, G2).",
    tag="Campaigns",
    query=PAGE_PARAMS,
    response="CampaignPage",
    errors=(400, 401, 403),
)
def list_campaigns():
    errors: list = []
    page = parse_int_arg(request.args, "page", errors, default=1, maximum=MAX_PAGE)
    per_page = parse_int_arg(
        request.args, "per_page", errors, default=current_app.config["PAGE_SIZE"], maximum=MAX_PER_PAGE
    )
    if errors:
        return invalid(errors)
    query = marketing.campaigns()
    rows = list(query.paginate(page, per_page))
    return page_json(_campaigns_json(rows), page, per_page, query.count())


@bp.route("/campaigns", methods=["POST"])
@api(*MARKETING)
@operation(
    summary="Create a draft campaign: name, product line, audience segment and message (G2).",
    tag="Campaigns",
    body="CampaignCreate",
    response="Campaign",
    status=201,
    errors=(400, 401, 403),
)
def create_campaign():
    values, errors = _campaign_values(_body())
    if errors:
        return invalid(errors)
    try:
        campaign = marketing.save_campaign(values)
    except MarketingError as error:
        return invalid([(error.field, str(error))])
    return campaign_json(campaign, 0, None), 201


@bp.route("/campaigns/<int:campaign_id>/launch", methods=["POST"])
@api(*MARKETING)
@operation(
    summary="Launch a draft campaign: one outbox email and one email_sent interaction per audience member.",
    description="The messages are written by a background job; `launch` in the answer is its progress. "
    "Launching twice is refused (409): the campaign is no longer a draft.",
    tag="Campaigns",
    body="CampaignLaunch",
    body_required=False,
    response="Campaign",
    errors=(400, 401, 403, 404, 409),
)
def launch_campaign(campaign_id: int):
    _body(required=False)
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None:
        return api_error(404, "No such campaign.", "campaign_id")
    try:
        task = campaigns.launch(campaign, current_user())
    except campaigns.CampaignError as error:
        return api_error(409, str(error), error.field)
    return campaign_json(Campaign.get_by_id(campaign_id), 0, task)


@bp.route("/inbound/replies", methods=["POST"])
@api(INTEGRATION, ADMIN)
@operation(
    summary="An inbound reply to a campaign email (R8): attributed to its campaign and lead, sent to the rep.",
    description="Post what the mail gateway received. The `to` address (reply+<token>@…) identifies the "
    "campaign email; the reply is stored once per `message_id`, recorded as an email_replied "
    "interaction of the contact and lead, and notified to the rep the email was sent for.",
    tag="Campaigns",
    body="InboundReply",
    response="InboundReplyResult",
    status=201,
    errors=(400, 401, 403, 404),
)
def inbound_reply():
    data = _body()
    errors: list = [(name, "Unknown field.") for name in sorted(set(data) - REPLY_FIELDS)]
    to = _text(data, "to", 1000, errors, required=True)
    sender = _text(data, "from", 254, errors, required=True)
    subject = _text(data, "subject", 1000, errors) or ""
    text = _text(data, "text", 100_000, errors) or ""
    message_id = _text(data, "message_id", 250, errors, required=True)
    if errors:
        return invalid(errors)
    message = campaigns.message_for_address(to)
    if message is None:
        return api_error(404, "No campaign email has this reply address.", "to")
    reply, created = campaigns.record_reply(
        message,
        current_user(),
        from_email=sender.strip(),
        subject=subject,
        text=text,
        message_id=message_id.strip(),
    )
    body = {
        "id": reply.id,
        "status": "created" if created else "duplicate",
        "campaign": {"id": reply.campaign_id, "name": reply.campaign.name},
        "lead": {"id": reply.lead_id, "name": reply.lead.name} if reply.lead_id else None,
        "rep": {"id": reply.rep_id, "name": reply.rep.name} if reply.rep_id else None,
    }
    return body, 201 if created else 200
