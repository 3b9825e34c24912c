"""The sales dashboard's pages (SPEC D1): ``/dashboards/sales`` for managers,
admins and reps (a rep sees the figures of their own leads only, G1), its
htmx fragment when the filters change, and one CSV per chart. Everyone else
(teleprospectors, marketers) is refused by the chokepoint."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, request, url_for

from auth.models import ADMIN, MANAGER, REP
from auth.policy import allow, current_user
from leads.base.db import utcnow
from reports.sales import queries, services
from reports.sales.forms import SalesFilterForm
from reports.sales.queries import Filters
from web.render import render

bp = Blueprint("sales_dashboard", __name__, url_prefix="/dashboards/sales")

VIEW = (MANAGER, ADMIN, REP)


@bp.app_template_filter("duration")
def _duration(seconds):
    return services.duration(seconds)


@bp.app_template_filter("epoch_time")
def _epoch_time(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds is not None else None


def _ask() -> tuple[SalesFilterForm, Filters | None]:
    """The filter form from the query string, and the filters (None when invalid);
    a rep's filters are always held to their own leads."""
    teams, lines = queries.filter_choices()
    form = SalesFilterForm(
        request.args, services.default_range(utcnow().date()), services.MAX_DAYS, teams, lines
    )
    values = form.values()
    if values is None:
        return form, None
    user = current_user()
    return form, Filters(**values, rep_id=user.id if user.role == REP else None)


@bp.route("")
@allow(*VIEW)
def dashboard():
    """D1: funnel, time in stage, speed to lead, SLA and rep load for the filters."""
    form, filters = _ask()
    board = services.sales_dashboard(filters) if filters else None
    return render(
        "reports/sales/dashboard.html",
        "reports/sales/_dashboard.html",
        status=200 if filters else 422,
        form=form,
        board=board,
        building=services.first_build(),
        csv_args=_csv_args(),
        now=utcnow(),
    )


@bp.route("/<chart>.csv")
@allow(*VIEW)
def chart_csv(chart):
    """D1: the numbers behind one chart of the dashboard, as CSV."""
    if chart not in services.CHARTS:
        abort(404)
    form, filters = _ask()
    if filters is None:
        errors = [error for field in form for error in field.errors]
        return Response(" ".join(errors), status=422, mimetype="text/plain")
    board = services.sales_dashboard(filters, chart)
    response = Response(services.chart_csv(board, chart), mimetype="text/csv")
    name = f"sales-{chart}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _csv_args() -> dict:
    """The query string the CSV links carry (the filters as asked)."""
    return {key: request.args[key] for key in ("from", "to", "team", "product_line") if request.args.get(key)}


def csv_url(chart: str, args: dict) -> str:
    return url_for("sales_dashboard.chart_csv", chart=chart, **args)


@bp.app_context_processor
def _helpers():
    return {"sales_csv_url": csv_url}
