"""The marketers' dashboard page (SPEC D2): ``/dashboards/marketing``, its htmx
fragment (the same URL: the form swaps the dashboard and keeps the URL) and
its CSV. Marketers, managers and admins; everyone else is refused."""

from __future__ import annotations

from flask import Blueprint, Response, request

from auth.models import ADMIN, MANAGER, MARKETER
from auth.policy import allow
from leads.base.db import utcnow
from reports.marketing import services
from reports.marketing.forms import DashboardForm
from reports.marketing.queries import BREAKDOWNS
from web.render import render

bp = Blueprint("marketing_dashboard", __name__, url_prefix="/dashboards/marketing")

VIEW = (MARKETER, MANAGER, ADMIN)


def _dashboard() -> dict:
    """The form (its choices filled) and, when it is valid, the dashboard."""
    form = DashboardForm(request.args, services.default_range(utcnow().date()), services.MAX_DAYS)
    start, end = form.dates()
    asked = services.range_filters(start, end, source=form.source.data or None)
    form.set_sources(services.source_choices(asked))
    filters = form.filters()
    dashboard = services.marketing_dashboard(filters, form.by.data) if filters else None
    return {
        "form": form,
        "dashboard": dashboard,
        "breakdowns": BREAKDOWNS,
        "building": services.first_build(),
    }


@bp.route("")
@allow(*VIEW)
def index():
    """D2: the dashboard; an htmx request gets the dashboard region only."""
    return render("reports/marketing/dashboard.html", "reports/marketing/_dashboard.html", **_dashboard())


@bp.route("/weeks.csv")
@allow(*VIEW)
def weeks_csv():
    """D2: the counts per week and breakdown value of the same form, as CSV."""
    context = _dashboard()
    if context["dashboard"] is None:
        errors = [error for field in context["form"] for error in field.errors]
        return Response(" ".join(errors), status=400, mimetype="text/plain")
    start, end = context["form"].dates()
    response = Response(services.dashboard_csv(context["dashboard"]), mimetype="text/csv")
    filename = f"marketing-{start.isoformat()}-{end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
