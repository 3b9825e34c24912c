"""Marketing pages: product lines and campaigns with their launch (marketers
and admins only; G2: every other role is refused, reps included), campaign
requests (G3: sales roles ask, marketers decide) and the replies routed back to
reps (R8)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from auth.policy import allow, current_user, signed_in
from campaigns import catalog as marketing
from campaigns import launch as launching
from campaigns import requests as campaign_requests
from campaigns.catalog import MarketingError
from campaigns.forms import (
    CampaignForm,
    CampaignRequestForm,
    DeclineForm,
    ProductLineForm,
    segment_is_editable_here,
)
from campaigns.launch import CampaignError
from campaigns.models import CampaignRequest
from campaigns.requests import RequestError
from leads.base.models import BackgroundTask
from leads.core.conditions import build_segment
from leads.records.models import Campaign, ProductLine
from web import crud
from web.crud import get_or_404, saved
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("marketing", __name__)
MARKETING = (MARKETER, ADMIN)
REQUESTERS = (REP, MANAGER, TELEPROSPECTOR)


def _refused(form, error: MarketingError) -> None:
    getattr(form, error.field).errors.append(str(error))


# Product lines ----------------------------------------------------------------------


def _product_lines_page(form=None, notice=None, status=200):
    return render(
        "campaigns/product_lines.html",
        "campaigns/_product_lines.html",
        status,
        lines=list(marketing.product_lines()),
        form=form or ProductLineForm(formdata=None),
        notice=notice,
    )


@bp.route("/marketing/product-lines")
@allow(*MARKETING)
def product_lines():
    return _product_lines_page()


@bp.route("/marketing/product-lines", methods=["POST"])
@allow(*MARKETING)
def create_product_line():
    form = ProductLineForm()
    return crud.create(
        form,
        lambda: marketing.save_product_line(form.name.data, form.code.data),
        _product_lines_page,
        lambda _line: f"Product line {form.name.data.strip()} was added.",
        "marketing.product_lines",
        refused=MarketingError,
        show=_refused,
    )


def _product_line_page(line, form=None, notice=None, status=200):
    return render(
        "campaigns/product_line.html",
        "campaigns/_product_line_form.html",
        status,
        line=line,
        form=form or ProductLineForm(formdata=None, obj=line),
        notice=notice,
    )


@bp.route("/marketing/product-lines/<int:line_id>")
@allow(*MARKETING)
def product_line(line_id):
    return _product_line_page(get_or_404(ProductLine, line_id))


@bp.route("/marketing/product-lines/<int:line_id>", methods=["POST"])
@allow(*MARKETING)
def update_product_line(line_id):
    line = get_or_404(ProductLine, line_id)
    form = ProductLineForm(record_id=line.id)
    return crud.update(
        line,
        form,
        lambda: marketing.save_product_line(form.name.data, form.code.data, line),
        _product_line_page,
        "marketing.product_line",
        refused=MarketingError,
        show=_refused,
        line_id=line_id,
    )


# Campaigns ------------------------------------------------------------------------


def _campaigns_page(form=None, notice=None, status=200, recount=False):
    return render(
        "campaigns/campaigns.html",
        "campaigns/_campaigns.html",
        status,
        campaigns=list(marketing.campaigns()),
        statuses=marketing.CAMPAIGN_STATUSES,
        form=form or CampaignForm(formdata=None),
        notice=notice,
        recount=recount,
    )


@bp.route("/marketing/campaigns")
@allow(*MARKETING)
def campaigns():
    return _campaigns_page()


@bp.route("/marketing/campaigns", methods=["POST"])
@allow(*MARKETING)
def create_campaign():
    form = CampaignForm()
    return crud.create(
        form,
        lambda: marketing.save_campaign(form.values),
        _campaigns_page,
        lambda _campaign: f"Campaign {form.name.data.strip()} was added.",
        "marketing.campaigns",
        refused=MarketingError,
        show=_refused,
    )


def _campaign_form(campaign, formdata=True, data=None) -> CampaignForm:
    """The edit form of ``campaign``: posted data, ``data``, or the stored campaign."""
    keep = not segment_is_editable_here(campaign.segment)
    if formdata is None:
        return CampaignForm(formdata=None, data=data or CampaignForm.data_for(campaign), keep_segment=keep)
    return CampaignForm(record_id=campaign.id, keep_segment=keep)


def _campaign_page(campaign, form=None, notice=None, status=200, recount=True):
    is_flat_segment = segment_is_editable_here(campaign.segment)
    return render(
        "campaigns/campaign.html",
        "campaigns/_campaign_form.html",
        status,
        campaign=campaign,
        form=form or _campaign_form(campaign, formdata=None),
        notice=notice,
        recount=recount,
        # The read-only summary lists a flat segment's conditions.
        segment=build_segment(campaign.segment) if campaign.segment and is_flat_segment else None,
        **_launch_context(campaign),
    )


def _launch_context(campaign) -> dict:
    task = (
        BackgroundTask.get_or_none(BackgroundTask.id == campaign.launch_task)
        if campaign.launch_task
        else None
    )
    return {
        "task": task,
        "sent": launching.message_counts([campaign.id]).get(campaign.id, 0),
        "statuses": marketing.CAMPAIGN_STATUSES,
    }


@bp.route("/marketing/campaigns/<int:campaign_id>")
@allow(*MARKETING)
def campaign(campaign_id):
    return _campaign_page(get_or_404(Campaign, campaign_id))


@bp.route("/marketing/campaigns/<int:campaign_id>", methods=["POST"])
@allow(*MARKETING)
def update_campaign(campaign_id):
    campaign = get_or_404(Campaign, campaign_id)
    form = _campaign_form(campaign)
    return crud.update(
        campaign,
        form,
        lambda: marketing.save_campaign(form.values, campaign),
        _campaign_editor,
        "marketing.campaign",
        refused=MarketingError,
        show=_refused,
        campaign_id=campaign_id,
    )


def _campaign_editor(campaign, form=None, notice=None, status=200):
    """The campaign page after an edit: its invalid form again (no recount on
    load), or the stored campaign (counted on load)."""
    return _campaign_page(campaign, form, notice, status, recount=form is None)


# The segment builder: rows and audience size ------------------------------------------


@bp.route("/marketing/campaigns/new/rows", methods=["POST"])
@allow(*MARKETING)
def new_campaign_rows():
    """Add or remove one segment row of the new-campaign form, keeping what was
    typed (nothing is saved; CSRF is checked for every POST)."""
    data = CampaignForm().with_row_change(request.form.get("row", ""))
    return _campaigns_page(CampaignForm(formdata=None, data=data), recount=True)


@bp.route("/marketing/campaigns/<int:campaign_id>/rows", methods=["POST"])
@allow(*MARKETING)
def campaign_rows(campaign_id):
    """As ``new_campaign_rows`` for a draft campaign's form."""
    campaign = get_or_404(Campaign, campaign_id)
    if campaign.status != launching.DRAFT:
        return _campaign_page(campaign, status=409)
    data = _campaign_form(campaign).with_row_change(request.form.get("row", ""))
    return _campaign_page(campaign, _campaign_form(campaign, formdata=None, data=data))


def _audience_count(form: CampaignForm, campaign=None):
    """The inside of the ``#audience-count`` region: the audience size of the
    segment and product line in ``form`` (the stored segment when the form keeps
    it), or why it cannot be counted."""
    count, problem = None, None
    if form.segment_errors():
        problem = "Complete or fix the conditions to count the audience."
    else:
        segment = campaign.segment if form.keep_segment else form.segment_value
        draft = Campaign(segment=segment, product_line=form.product_line_id)
        count = len(launching.audience(draft))
    return render_fragment("campaigns/_audience_count.html", count=count, problem=problem)


@bp.route("/marketing/campaigns/new/audience")
@allow(*MARKETING)
def new_campaign_audience():
    """The number of contacts the segment being typed selects (a GET: nothing is saved)."""
    return _audience_count(CampaignForm(formdata=request.args, meta={"csrf": False}))


@bp.route("/marketing/campaigns/<int:campaign_id>/audience")
@allow(*MARKETING)
def campaign_audience(campaign_id):
    """As ``new_campaign_audience`` on a campaign's page."""
    campaign = get_or_404(Campaign, campaign_id)
    keep = not segment_is_editable_here(campaign.segment)
    form = CampaignForm(formdata=request.args, meta={"csrf": False}, keep_segment=keep)
    return _audience_count(form, campaign)


# Launching (G2) ---------------------------------------------------------------------


@bp.route("/marketing/campaigns/<int:campaign_id>/launch")
@allow(*MARKETING)
def launch_page(campaign_id):
    campaign = get_or_404(Campaign, campaign_id)
    members = launching.audience(campaign) if campaign.status == launching.DRAFT else []
    return render(
        "campaigns/launch.html",
        None,
        campaign=campaign,
        audience_size=len(members),
        with_rep=sum(1 for m in members if m.rep_id),
    )


@bp.route("/marketing/campaigns/<int:campaign_id>/launch", methods=["POST"])
@allow(*MARKETING)
def launch(campaign_id):
    campaign = get_or_404(Campaign, campaign_id)
    try:
        launching.launch(campaign, current_user())
    except CampaignError as error:
        flash(str(error))
        return redirect(url_for("marketing.campaign", campaign_id=campaign_id))
    message = f"Campaign {campaign.name} is launching."
    return saved(
        message,
        lambda: _launch_region(Campaign.get_by_id(campaign_id)),
        "marketing.campaign",
        campaign_id=campaign_id,
    )


def _launch_region(campaign, status=200):
    return render_fragment(
        "campaigns/_campaign_launch.html", status, campaign=campaign, **_launch_context(campaign)
    )


@bp.route("/marketing/campaigns/<int:campaign_id>/progress")
@allow(*MARKETING)
def launch_progress(campaign_id):
    return _launch_region(get_or_404(Campaign, campaign_id))


@bp.route("/marketing/campaigns/<int:campaign_id>/complete", methods=["POST"])
@allow(*MARKETING)
def complete(campaign_id):
    campaign = get_or_404(Campaign, campaign_id)
    if not launching.complete(campaign):
        abort(409, "Only a launched campaign can be completed.")
    return saved(
        "Campaign completed.",
        lambda: _launch_region(Campaign.get_by_id(campaign_id)),
        "marketing.campaign",
        campaign_id=campaign_id,
    )


# Campaign requests (G3) ----------------------------------------------------------------


def _my_requests_page(form=None, notice=None, status=200):
    return render(
        "campaigns/my_requests.html",
        "campaigns/_my_requests.html",
        status,
        requests=list(campaign_requests.requests_of(current_user())),
        statuses=campaign_requests.STATUSES,
        form=form or CampaignRequestForm(formdata=None),
        notice=notice,
    )


@bp.route("/campaign-requests")
@allow(*REQUESTERS)
def my_requests():
    return _my_requests_page()


@bp.route("/campaign-requests", methods=["POST"])
@allow(*REQUESTERS)
def submit_request():
    form = CampaignRequestForm()
    return crud.create(
        form,
        lambda: campaign_requests.submit(
            current_user(), form.goal.data, form.audience.data, form.timing.data
        ),
        _my_requests_page,
        "Your request was sent to marketing.",
        "marketing.my_requests",
    )


@bp.route("/marketing/campaign-requests")
@allow(*MARKETING)
def requests():
    return render(
        "campaigns/requests.html",
        None,
        requests=list(campaign_requests.all_requests()),
        statuses=campaign_requests.STATUSES,
        decline_form=DeclineForm(formdata=None),
    )


def _request_row(request_id, form=None, alert=None, status=200):
    row = campaign_requests.all_requests().where(CampaignRequest.id == request_id).get()
    return render_fragment(
        "campaigns/_request_row.html",
        status,
        r=row,
        statuses=campaign_requests.STATUSES,
        form=form or DeclineForm(formdata=None),
        alert=alert,
    )


def _decided(request_id, message):
    if wants_fragment():
        return _request_row(request_id)
    flash(message)
    return redirect(url_for("marketing.requests"))


@bp.route("/marketing/campaign-requests/<int:request_id>/approve", methods=["POST"])
@allow(*MARKETING)
def approve_request(request_id):
    request_row = get_or_404(CampaignRequest, request_id)
    try:
        campaign = campaign_requests.approve(request_row, current_user())
    except RequestError as error:
        return _request_row(request_id, alert=str(error), status=409)
    return _decided(request_id, f"Approved: draft campaign {campaign.name} was created.")


@bp.route("/marketing/campaign-requests/<int:request_id>/decline", methods=["POST"])
@allow(*MARKETING)
def decline_request(request_id):
    request_row = get_or_404(CampaignRequest, request_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _request_row(request_id, form=form, status=422)
    try:
        campaign_requests.decline(request_row, current_user(), form.reason.data)
    except RequestError as error:
        return _request_row(request_id, alert=str(error), status=409)
    return _decided(request_id, "Request declined.")


# Replies routed back to reps (R8) -------------------------------------------------------


@bp.route("/replies")
@signed_in
def replies():
    return render("campaigns/replies.html", None, replies=list(launching.replies_for(current_user())))
