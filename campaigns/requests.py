"""G3: reps ask marketing for a campaign; marketers approve (a draft campaign is
created from the request and linked to it) or decline with a reason. Decisions
are conditional updates on ``status = 'pending'``, so a request is decided once."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from campaigns.models import CampaignRequest
from leads.base.db import transaction, utcnow
from leads.records.models import Campaign

PENDING, APPROVED, DECLINED = "pending", "approved", "declined"
STATUSES = {PENDING: "Waiting for marketing", APPROVED: "Approved", DECLINED: "Declined"}


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
    except pw.IntegrityError as error:
        raise RequestError("A campaign with this request's name already exists.") from error
    return campaign


def decline(request: CampaignRequest, user: User, reason: str) -> None:
    """Decline a pending request; the reason is required and shown to the rep."""
    if not reason.strip():
        raise RequestError("Say why the request is declined.")
    decided = (
        CampaignRequest.update(
            status=DECLINED, reason=reason.strip(), decided_by=user.id, decided_at=utcnow()
        )
        .where((CampaignRequest.id == request.id) & (CampaignRequest.status == PENDING))
        .execute()
    )
    if not decided:
        raise RequestError("This request was already decided.")
