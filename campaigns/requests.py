"""G3: reps ask marketing for a campaign; marketers approve (a draft campaign is
created from the request and linked to it) or decline with a reason. Decisions
are conditional updates on ``status = 'pending'``, so a request is decided once."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from campaigns.models import CampaignRequest
from leads.base.db import transaction, utcnow
from leads.notify.services import notify, register_link
from leads.records.models import Campaign

PENDING, APPROVED, DECLINED = "pending", "approved", "declined"
STATUSES = {PENDING: "Waiting for marketing", APPROVED: "Approved", DECLINED: "Declined"}
DECIDED = "campaign_request"  # the requester's notification kind


def connect() -> None:
    """At app set-up: a requester's notification links to their requests page,
    a reply's with no lead to the rep's replies."""
    register_link(DECIDED, "marketing.my_requests")
    register_link("campaign_reply", "marketing.replies")


class RequestError(ValueError):
    """A refused decision (already decided, or a missing reason)."""


def submit(user: User, goal: str, audience: str, timing: str) -> CampaignRequest:
    """A new pending request by ``user``."""
    return CampaignRequest.create(
        requested_by=user.id, goal=goal.strip(), audience=audience.strip(), timing=timing.strip()
    )


def _with_people(query):
    Requester = User.alias("requester")
    return (
        query.select(CampaignRequest, Requester, Campaign)
        .join(Requester, on=(CampaignRequest.requested_by == Requester.id))
        .switch(CampaignRequest)
        .join(Campaign, pw.JOIN.LEFT_OUTER, on=(CampaignRequest.campaign == Campaign.id))
    )


def requests_of(user: User):
    """``user``'s own requests, newest first."""
    return (
        _with_people(CampaignRequest.select())
        .where(CampaignRequest.requested_by == user.id)
        .order_by(CampaignRequest.created_at.desc(), CampaignRequest.id.desc())
    )


def all_requests():
    """Every request for marketers: pending ones first, then newest first."""
    pending_first = pw.Case(None, [(CampaignRequest.status == PENDING, 0)], 1)
    return _with_people(CampaignRequest.select()).order_by(
        pending_first, CampaignRequest.created_at.desc(), CampaignRequest.id.desc()
    )


def _campaign_name(request: CampaignRequest) -> str:
    goal = " ".join(request.goal.split())
    return f"{goal[:100]} (request #{request.id})"


def approve(request: CampaignRequest, user: User) -> Campaign:
    """Approve a pending request: a draft campaign prefilled from it, linked to it."""
    try:
        with transaction():
            decided = (
                CampaignRequest.update(status=APPROVED, decided_by=user.id, decided_at=utcnow())
                .where((CampaignRequest.id == request.id) & (CampaignRequest.status == PENDING))
                .execute()
            )
            if not decided:
                raise RequestError("This request was already decided.")
            campaign = Campaign.create(
                name=_campaign_name(request),
                subject=" ".join(request.goal.split())[:200],
                body=f"Audience: {request.audience}\nTiming: {request.timing}\n\n(Write the message here.)",
            )
            CampaignRequest.update(campaign=campaign.id).where(CampaignRequest.id == request.id).execute()
            _tell_requester(request, f"was approved by {user.name}: marketing prepares the campaign")
    except pw.IntegrityError as error:
        raise RequestError("A campaign with this request's name already exists.") from error
    return campaign


def decline(request: CampaignRequest, user: User, reason: str) -> None:
    """Decline a pending request; the reason is required and shown to the rep."""
    if not reason.strip():
        raise RequestError("Say why the request is declined.")
    with transaction():
        decided = (
            CampaignRequest.update(
                status=DECLINED, reason=reason.strip(), decided_by=user.id, decided_at=utcnow()
            )
            .where((CampaignRequest.id == request.id) & (CampaignRequest.status == PENDING))
            .execute()
        )
        if not decided:
            raise RequestError("This request was already decided.")
        _tell_requester(request, f"was declined by {user.name}: {' '.join(reason.split())}")


def _tell_requester(request: CampaignRequest, what: str) -> None:
    """G3: the rep who asked is told the decision, who took it (and why, when
    declined), once per request; the notification links to their requests."""
    goal = " ".join(request.goal.split())
    goal = goal if len(goal) <= 80 else goal[:79] + "…"
    notify(
        request.requested_by_id,
        DECIDED,
        f"Your campaign request “{goal}” {what}",
        key=f"campaign-request:{request.id}",
    )
