"""Lead pages: the searchable, filterable, sortable lead list."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from auth.policy import current_user, signed_in
from leads.records.listing import filter_options, list_leads, parse_list_args
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
    user = current_user()
    params, errors = parse_list_args(request.args, max_per_page=MAX_PER_PAGE)
    fragment = wants_fragment()
    response = render(
        "records/leads.html",
        "records/_lead_table.html",
        params=params,
        errors=errors,
        listing=list_leads(user, params),
        options=None if fragment else filter_options(user),
    )
    if fragment:
        # The address bar gets the tidy form of the list's state: no empty
        # fields from the filter form, no values that were ignored.
        response.headers["HX-Push-Url"] = url_for("lead_list.lead_list", **params.to_query_args())
    return response
