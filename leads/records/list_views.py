"""Lead pages: the searchable, filterable, sortable lead list, with its
column chooser, bulk actions and saved views (W5, ``leads.lists``)."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from auth.policy import current_user, signed_in
from leads.lists import bulk, saved
from leads.lists.forms import BulkForm, SaveViewForm
from leads.records.listing import ListParams, filter_options, list_leads, parse_list_args
from web.render import render, wants_fragment

bp = Blueprint("lead_list", __name__)

MAX_PER_PAGE = 200


@bp.route("/")
@signed_in
def index():
    """The home page is the lead list."""
    return redirect(url_for("lead_list.lead_list"))


@bp.route("/leads")
@signed_in
def lead_list():
    """The lead list (G1: only the leads the user may see). An htmx request
    gets the table region only; a plain load gets the page with the filter form."""
    params, errors = parse_list_args(request.args, max_per_page=MAX_PER_PAGE)
    response = list_page(params, errors)
    if wants_fragment():
        # The address bar gets the tidy form of the list's state: no empty
        # fields from the filter form, no values that were ignored.
        response.headers["HX-Push-Url"] = url_for("lead_list.lead_list", **params.to_query_args())
    return response


def list_page(params: ListParams, errors=(), save_form: SaveViewForm | None = None, status: int = 200):
    """The list page (or, for htmx, its table region) for ``params``; a save
    form with errors is shown with them (its POST answers with this page)."""
    user = current_user()
    fragment = wants_fragment()
    actions = bulk.actions_for(user)
    can_share = user.role in saved.SHARERS
    return render(
        "records/leads.html",
        "records/_lead_table.html",
        status=status,
        params=params,
        errors=errors,
        listing=list_leads(user, params),
        options=None if fragment else filter_options(user),
        bulk_actions=actions,
        bulk_form=BulkForm(formdata=None, actions=actions),
        save_form=save_form or SaveViewForm(formdata=None, can_share=can_share),
        saved_views=None if fragment else list(saved.views_for(user)),
    )
