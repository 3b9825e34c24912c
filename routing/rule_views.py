"""Managers' routing pages (R1–R6).

- ``/routing/rules``: the ordered assignment rules (add, edit, up/down, on/off)
  and "test this rule set on a lead" (the decision trace, nothing stored).
- ``/routing/reps``: reps' capacity, time away and product lines.
- ``/routing/load``: open leads per rep against capacity (an SVG chart), the
  unassigned count and the median time to acceptance.
- ``/routing/rerun/<lead>``: route an unassigned lead again now.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for

from auth.models import ADMIN, MANAGER, REP, Team, User
from auth.policy import allow, current_user
from leads.base.db import utcnow
from leads.core.conditions import LEAD
from leads.core.timeline import name_trace
from leads.records.models import Lead, ProductLine
from leads.records.queries import assignable_reps, trace_names
from routing import assign, manage, router
from routing.forms import (
    MAX_CONDITION_ROWS,
    ConditionRow,
    RepProfileForm,
    RuleForm,
    TestLeadForm,
    field_choices,
    id_kind,
    prepare_row,
    value_widget,
)
from routing.models import AssignmentRule
from web.render import render, render_fragment

bp = Blueprint("routing_rules", __name__)

MANAGERS = (MANAGER, ADMIN)


# --- Rules -----------------------------------------------------------------------


@bp.route("/routing/rules")
@allow(*MANAGERS)
def rules():
    """R4: the rules in order (each that can never fire says which earlier rule
    takes its leads), the latest removals, and the rule-set test on a lead found
    by name, email or id (a GET: nothing stored)."""
    test = TestLeadForm(request.args)
    lead, found = _lead_to_test(test)
    decision = assign.decide(lead.id) if lead is not None else None
    rows = list(manage.ordered_rules())
    summaries = manage.rule_summaries(rows)
    return render(
        "routing/rules.html",
        rows=rows,
        summaries=summaries,
        shadows=manage.shadows(rows, summaries),
        removed=list(manage.removed_rules()),
        test=test,
        found=found,
        decision=decision,
        trace=_named_trace(decision),
        lead=lead,
        names=_rep_names(decision),
    )


def _lead_to_test(test: TestLeadForm) -> tuple[Lead | None, list]:
    """The lead to try the rules on: the one picked (``lead_id``), or the only
    one the search finds; else None, with the leads found when several match."""
    if request.args.get("lead_id") is not None:
        lead_id = request.args.get("lead_id", type=int)
        lead = Lead.get_or_none(Lead.id == lead_id) if lead_id is not None and lead_id < 2**63 else None
        if lead is None:
            test.lead.errors = [*test.lead.errors, "No such lead."]
        return lead, []
    if request.args.get("lead") is None or not test.validate():
        return None, []
    found = list(manage.leads_matching(test.lead.data).limit(manage.MAX_FOUND + 1))
    if not found:
        test.lead.errors = [*test.lead.errors, "No lead has this name, email or id."]
        return None, []
    if len(found) > 1:
        return None, found
    return Lead.get_by_id(found[0].id), []


def _named_trace(decision) -> list[str]:
    """The decision's trace with names for the product lines, teams, reps and
    models it mentions by id."""
    if decision is None:
        return []
    names = trace_names(decision.trace)
    return [name_trace(line, names) for line in decision.trace]


def _rep_names(decision) -> dict:
    if decision is None or decision.rep_id is None:
        return {}
    return {decision.rep_id: User.get_by_id(decision.rep_id).name}


@bp.route("/routing/rules/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def rule_new():
    """R4: add a rule (it goes last)."""
    return _rule_form(None)


@bp.route("/routing/rules/<int:rule_id>", methods=["GET", "POST"])
@allow(*MANAGERS)
def rule_edit(rule_id: int):
    """R4: edit a rule."""
    row = AssignmentRule.get_or_none(AssignmentRule.id == rule_id)
    if row is None:
        abort(404)
    return _rule_form(row)


def _rule_form(row: AssignmentRule | None):
    form = RuleForm()
    if row is not None and request.method == "GET":
        form = RuleForm(formdata=None)
        form.fill(row)
    form.set_choices(
        Team.select().order_by(Team.name), assignable_reps(), _field_choices(form.condition_rows())
    )
    status, general = 200, []
    if form.validate_on_submit():
        data, row_of_item = form.definition()
        try:
            manage.save_rule(data, form.accept_within_hours.data, row.id if row else None)
        except manage.ManageError as error:
            general = _place_errors(form, error.errors, row_of_item)
            status = 422
        else:
            flash(f"Rule “{data['name'].strip()}” saved.")
            return redirect(url_for("routing_rules.rules"))
    elif request.method == "POST":
        status = 422
    options = manage.id_options(id_kind(condition) for condition in form.condition_rows())
    widgets = [value_widget(condition, options) for condition in form.condition_rows()]
    return render(
        "routing/rule_form.html", status=status, form=form, row=row, general=general, widgets=widgets
    )


def _field_choices(rows: list[ConditionRow]) -> list[tuple[str, str]]:
    """Condition fields: the record fields and the live models' scores (plus the
    models the rows already name, live or not, so editing keeps them)."""
    live = manage.live_model_names()
    prefix = f"{LEAD}.{router.SCORE_PREFIX}"
    named = {
        (row.subject.data or "")[len(prefix) :] for row in rows if (row.subject.data or "").startswith(prefix)
    }
    kept = manage.names_of({"models": named}).get("models", {})
    return field_choices(live, {key: name for key, name in kept.items() if key not in live})


@bp.route("/routing/rules/condition/<int:index>")
@allow(*MANAGERS)
def condition_row(index: int):
    """One condition row of the rule editor, its value input fitting the chosen
    field and operator (a select of names for an id field). The field and
    operator selects ask for it when they change; a new field clears the value."""
    if not 0 <= index < MAX_CONDITION_ROWS:
        abort(404)
    prefix = f"conditions-{index}"
    condition = ConditionRow(request.args, prefix=prefix)
    prepare_row(condition, _field_choices([condition]))
    if request.headers.get("HX-Trigger-Name") == f"{prefix}-subject":
        condition.value.data = ""
    widget = value_widget(condition, manage.id_options([id_kind(condition)]))
    return render_fragment("routing/_condition_row.html", condition=condition, index=index, widget=widget)


def _place_errors(form: RuleForm, errors, row_of_item: list[int]) -> list[str]:
    """Put each ``FieldError`` next to its field (condition errors on their row);
    returns those that belong to no field."""
    general = []
    for error in errors:
        path = error.field or ""
        if path.startswith("conditions.items["):
            index = int(path[len("conditions.items[") :].split("]", 1)[0])
            rest = path.split("]", 1)[1].lstrip(".")
            name = rest.split("[", 1)[0] or "subject"
            row = form.conditions[row_of_item[index]].form if index < len(row_of_item) else None
            if row is not None:
                target = {"entity": "subject", "field": "subject"}.get(name, name)
                getattr(row, target, row.value).errors.append(error.reason)
                continue
        head = path.split(".", 1)[0].split("[", 1)[0]
        field = getattr(form, head, None) if head in form._fields else None
        if field is not None and head != "conditions":
            field.errors = [*field.errors, error.reason]
        else:
            general.append(error.reason)
    return general


@bp.route("/routing/rules/<int:rule_id>/move/<direction>", methods=["POST"])
@allow(*MANAGERS)
def rule_move(rule_id: int, direction: str):
    """R4: move a rule one place up or down."""
    if direction not in ("up", "down"):
        abort(404)
    manage.move_rule(rule_id, -1 if direction == "up" else 1)
    return redirect(url_for("routing_rules.rules"))


@bp.route("/routing/rules/<int:rule_id>/switch/<state>", methods=["POST"])
@allow(*MANAGERS)
def rule_switch(rule_id: int, state: str):
    """R4: switch a rule on or off."""
    if state not in ("on", "off"):
        abort(404)
    manage.set_enabled(rule_id, state == "on")
    return redirect(url_for("routing_rules.rules"))


@bp.route("/routing/rules/<int:rule_id>/move-above/<int:other_id>", methods=["POST"])
@allow(*MANAGERS)
def rule_move_above(rule_id: int, other_id: int):
    """R4: put a shadowed rule just above the rule that takes its leads."""
    manage.move_rule_above(rule_id, other_id)
    return redirect(url_for("routing_rules.rules"))


@bp.route("/routing/rules/<int:rule_id>/delete", methods=["GET", "POST"])
@allow(*MANAGERS)
def rule_delete(rule_id: int):
    """Remove a rule, once confirmed (a POST without ``confirm`` asks first); the
    removal is recorded."""
    row = AssignmentRule.get_or_none(AssignmentRule.id == rule_id)
    if row is None:
        abort(404)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        rows = list(manage.ordered_rules())
        number = next(i for i, each in enumerate(rows, 1) if each.id == row.id)
        summary = manage.rule_summaries([row])[row.id]
        return render("routing/rule_delete.html", row=row, number=number, summary=summary)
    manage.delete_rule(rule_id, current_user())
    flash(f"Rule “{row.name}” removed.")
    return redirect(url_for("routing_rules.rules"))


# --- Reps -----------------------------------------------------------------------


@bp.route("/routing/reps")
@allow(*MANAGERS)
def reps():
    """R3: every rep's capacity, load, time away and product lines."""
    return render("routing/reps.html", rows=manage.rep_rows(), now=utcnow())


@bp.route("/routing/reps/<int:user_id>", methods=["GET", "POST"])
@allow(*MANAGERS)
def rep_profile(user_id: int):
    """R3: edit a rep's capacity, time away and product lines."""
    user = User.get_or_none((User.id == user_id) & (User.role == REP))
    if user is None:
        abort(404)
    profile, lines = manage.profile_of(user)
    form = RepProfileForm()
    form.product_lines.choices = list(ProductLine.select(ProductLine.id, ProductLine.name).tuples())
    if request.method == "GET":
        form.capacity.data = profile.capacity if profile else manage.DEFAULT_CAPACITY
        form.away_from.data = profile.away_from if profile else None
        form.away_until.data = profile.away_until if profile else None
        form.product_lines.data = lines
    elif form.validate_on_submit():
        manage.save_profile(
            user, form.capacity.data, form.away_from.data, form.away_until.data, form.product_lines.data
        )
        flash(f"{user.name}'s profile saved.")
        return redirect(url_for("routing_rules.reps"))
    status = 422 if request.method == "POST" else 200
    return render("routing/rep_form.html", status=status, form=form, rep=user)


# --- Load, re-run ------------------------------------------------------------------


@bp.route("/routing/load")
@allow(*MANAGERS)
def load():
    """R3/R6: open leads per rep vs capacity, unassigned count, acceptance times."""
    summary = manage.load_summary()
    return render("routing/load.html", chart=_chart(summary["reps"]), **summary)


BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 22, 8, 160, 640


def _chart(rows) -> dict:
    """Bar geometry for the SVG (no inline styles: classes and attributes only)."""
    top = max([row.capacity for row in rows] + [row.open_leads for row in rows] + [1])
    scale = (CHART_WIDTH - LABEL_WIDTH - 60) / top
    bars = []
    for index, row in enumerate(rows):
        y = index * (BAR_HEIGHT + BAR_GAP)
        bars.append(
            {
                "row": row,
                "y": y,
                "text_y": y + BAR_HEIGHT - 6,
                "load": round(row.open_leads * scale, 1),
                "capacity": round(row.capacity * scale, 1),
            }
        )
    height = max(len(rows), 1) * (BAR_HEIGHT + BAR_GAP)
    return {"bars": bars, "width": CHART_WIDTH, "height": height, "x0": LABEL_WIDTH, "bar": BAR_HEIGHT}


@bp.route("/routing/rerun/<int:lead_id>", methods=["POST"])
@allow(*MANAGERS)
def rerun(lead_id: int):
    """R4: route an unassigned lead again now, with the current rules and reps."""
    if Lead.get_or_none(Lead.id == lead_id) is None:
        abort(404)
    outcome = assign.route_lead(lead_id, force=True)
    if outcome.status == "assigned":
        flash(f"Lead {lead_id} assigned to {User.get_by_id(outcome.decision.rep_id).name}.")
    elif outcome.status == "unassigned":
        flash(f"Lead {lead_id} is still unassigned: {_reason(outcome.decision.reason)}.")
    else:
        flash(f"Lead {lead_id} is not waiting for a rep any more.")
    return redirect(url_for("routing.unassigned"))


def _reason(code: str) -> str:
    from routing.router import REASONS

    return REASONS.get(code, code)


# --- Template filters -------------------------------------------------------------


@bp.app_template_filter("reason_label")
def _reason_label(code: str) -> str:
    return _reason(code)
