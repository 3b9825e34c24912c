"""Lead pages: the list and the lead page with its stage bar."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from auth.policy import signed_in

bp = Blueprint("leads", __name__)


@bp.route("/")
@signed_in
def index():
    return redirect(url_for("leads.lead_list"))


@bp.route("/leads")
@signed_in
def lead_list():
    return "TODO"
