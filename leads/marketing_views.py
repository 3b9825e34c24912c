"""Marketing records: product lines and campaigns (marketers and admins; G2: reps,
teleprospectors and managers are refused)."""

from __future__ import annotations

from flask import Blueprint

from auth.admin_views import get_or_404, saved
from auth.models import ADMIN, MARKETER
from auth.policy import allow
from leads import marketing
from leads.marketing import MarketingError
from leads.marketing_forms import CampaignForm, ProductLineForm
from leads.models import Campaign, ProductLine
from web.render import render

bp = Blueprint("marketing", __name__, url_prefix="/marketing")


def _save(form, save) -> bool:
    """Validate ``form`` and call ``save()``; True when stored, else the errors are on the form."""
    if not form.validate_on_submit():
        return False
    try:
        save()
    except MarketingError as error:
        getattr(form, error.field).errors.append(str(error))
        return False
    return True


# Product lines ----------------------------------------------------------------------


def _product_lines_page(form=None, notice=None, status=200):
    return render(
        "marketing/product_lines.html",
        "marketing/_product_lines.html",
        status,
        lines=list(marketing.product_lines()),
        form=form or ProductLineForm(formdata=None),
        notice=notice,
    )


@bp.route("/product-lines")
@allow(MARKETER, ADMIN)
def product_lines():
    return _product_lines_page()


@bp.route("/product-lines", methods=["POST"])
@allow(MARKETER, ADMIN)
def create_product_line():
    form = ProductLineForm()
    if not _save(form, lambda: marketing.save_product_line(form.name.data, form.code.data)):
        return _product_lines_page(form, status=422)
    message = f"Product line {form.name.data.strip()} was added."
    return saved(message, lambda: _product_lines_page(notice=message), "marketing.product_lines")


def _product_line_page(line, form=None, notice=None, status=200):
    return render(
        "marketing/product_line.html",
        "marketing/_product_line_form.html",
        status,
        line=line,
        form=form or ProductLineForm(formdata=None, obj=line),
        notice=notice,
    )


@bp.route("/product-lines/<int:line_id>")
@allow(MARKETER, ADMIN)
def product_line(line_id):
    return _product_line_page(get_or_404(ProductLine, line_id))


@bp.route("/product-lines/<int:line_id>", methods=["POST"])
@allow(MARKETER, ADMIN)
def update_product_line(line_id):
    line = get_or_404(ProductLine, line_id)
    form = ProductLineForm(record_id=line.id)
    if not _save(form, lambda: marketing.save_product_line(form.name.data, form.code.data, line)):
        return _product_line_page(line, form, status=422)
    message = "Changes saved."
    return saved(
        message,
        lambda: _product_line_page(ProductLine.get_by_id(line_id), notice=message),
        "marketing.product_line",
        line_id=line_id,
    )


# Campaigns ------------------------------------------------------------------------


def _campaigns_page(form=None, notice=None, status=200):
    return render(
        "marketing/campaigns.html",
        "marketing/_campaigns.html",
        status,
        campaigns=list(marketing.campaigns()),
        statuses=marketing.CAMPAIGN_STATUSES,
        form=form or CampaignForm(formdata=None),
        notice=notice,
    )


@bp.route("/campaigns")
@allow(MARKETER, ADMIN)
def campaigns():
    return _campaigns_page()


def _save_campaign(form, campaign=None):
    return lambda: marketing.save_campaign(form.name.data, form.product_line_id, form.status.data, campaign)


@bp.route("/campaigns", methods=["POST"])
@allow(MARKETER, ADMIN)
def create_campaign():
    form = CampaignForm()
    if not _save(form, _save_campaign(form)):
        return _campaigns_page(form, status=422)
    message = f"Campaign {form.name.data.strip()} was added."
    return saved(message, lambda: _campaigns_page(notice=message), "marketing.campaigns")


def _campaign_page(campaign, form=None, notice=None, status=200):
    data = {
        "name": campaign.name,
        "product_line": str(campaign.product_line_id or ""),
        "status": campaign.status,
    }
    return render(
        "marketing/campaign.html",
        "marketing/_campaign_form.html",
        status,
        campaign=campaign,
        form=form or CampaignForm(formdata=None, data=data),
        notice=notice,
    )


@bp.route("/campaigns/<int:campaign_id>")
@allow(MARKETER, ADMIN)
def campaign(campaign_id):
    return _campaign_page(get_or_404(Campaign, campaign_id))


@bp.route("/campaigns/<int:campaign_id>", methods=["POST"])
@allow(MARKETER, ADMIN)
def update_campaign(campaign_id):
    campaign = get_or_404(Campaign, campaign_id)
    form = CampaignForm(record_id=campaign.id)
    if not _save(form, _save_campaign(form, campaign)):
        return _campaign_page(campaign, form, status=422)
    message = "Changes saved."
    return saved(
        message,
        lambda: _campaign_page(Campaign.get_by_id(campaign_id), notice=message),
        "marketing.campaign",
        campaign_id=campaign_id,
    )
