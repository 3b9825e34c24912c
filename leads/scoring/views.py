"""The marketer's scoring pages (S1–S6, Q1–Q6): scoring models and qualification
criteria builders, their status buttons with the re-scoring progress bar, insights
per model and a what-if preview before publishing.

Marketers and admins manage; managers may look (lists, read-only pages,
insights, progress); everyone else is refused.
"""

from __future__ import annotations

import re
from functools import partial

from flask import Blueprint, Response, abort, flash, redirect, request, url_for

from auth.models import ADMIN, MANAGER, MARKETER
from auth.policy import allow, current_user
from leads.base.db import utcnow
from leads.base.models import BackgroundTask
from leads.core import qualification, scoring
from leads.core.conditions import DefinitionError, FieldError
from leads.records import interaction_types
from leads.scoring import insights as scoring_insights
from leads.scoring import prediction as scoring_prediction
from leads.scoring import what_if as what_ifs
from leads.scoring.forms import (
    TERM_KINDS,
    CriteriaForm,
    ModelForm,
    OutcomeRangeForm,
    criteria_is_editable_here,
    model_from_form,
    model_is_editable_here,
)
from leads.scoring.models import QualificationCriteria
from leads.scoring.models import ScoringModel as ModelRow
from leads.scoring.services import (
    ManageError,
    duplicate_criteria,
    duplicate_model,
    live_model_ids,
    save_criteria,
    save_model,
)
from leads.scoring.services import set_criteria_status as change_criteria_status
from leads.scoring.services import set_model_status as change_model_status
from web.crud import get_or_404
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("scoring", __name__, url_prefix="/scoring")

MANAGE = (MARKETER, ADMIN)
VIEW = (MARKETER, ADMIN, MANAGER)


@bp.context_processor
def _chart_helpers():
    return {
        "chart_bars": scoring_insights.chart_bars,
        "chart_size": (scoring_insights.CHART_WIDTH, scoring_insights.CHART_HEIGHT),
        "rate_bars": scoring_prediction.rate_bars,
        "rate_chart": scoring_prediction.chart_geometry(),
        "shown_leads": scoring_insights.SHOWN_LEADS,
    }


def _can_manage() -> bool:
    return current_user().role in MANAGE


def _live_models() -> list[ModelRow]:
    return list(ModelRow.select().where(ModelRow.status == scoring.LIVE).order_by(ModelRow.name))


# --- Background tasks ---------------------------------------------------------------


@bp.route("/tasks/<int:task_id>")
@allow(*VIEW)
def task(task_id):
    """S4: a re-scoring task's progress bar, polled every second until it ends."""
    return render("scoring/task.html", "scoring/_task.html", task=get_or_404(BackgroundTask, task_id))


# --- Scoring models --------------------------------------------------------------


@bp.route("/models")
@allow(*VIEW)
def models():
    return render(
        "scoring/models.html",
        "scoring/_models.html",
        rows=list(scoring_insights.models_overview()),
        statuses=scoring.STATUSES,
    )


def _model_editor(row, form=None, status=200, notice=None, alert=None, task=None, preview=None):
    """The model page, or its editor region for htmx. A ``form`` given is what was
    posted and not saved (a row change, a preview, refused values): the page
    then warns that Publish would publish the last saved version."""
    posted = form is not None
    editable = (
        _can_manage()
        and (row is None or row.status != scoring.LIVE)
        and (row is None or model_is_editable_here(row.definition))
    )
    if form is None and editable:
        data = ModelForm.data_for(row.name, row.description, row.definition) if row else None
        form = ModelForm(formdata=None, data=data) if data else ModelForm(formdata=None)
    summary = None
    if row is not None and not editable:
        summary = scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
    return render(
        "scoring/model.html",
        "scoring/_model_editor.html",
        status,
        row=row,
        form=form if editable else None,
        unsaved=editable and posted,
        summary=summary,
        type_labels=interaction_types.vocabulary().labels() if summary else {},
        statuses=scoring.STATUSES,
        can_manage=_can_manage(),
        notice=notice,
        alert=alert,
        task=task,
        preview=preview,
        sample_size=scoring_insights.SAMPLE_SIZE,
    )


def _task_from_args() -> BackgroundTask | None:
    """The task a just-published model or criteria page follows (``?task=<id>``)."""
    task_id = request.args.get("task", type=int)
    return BackgroundTask.get_or_none(BackgroundTask.id == task_id) if task_id else None


@bp.route("/models/new")
@allow(*MANAGE)
def new_model():
    return _model_editor(None)


@bp.route("/models", methods=["POST"])
@allow(*MANAGE)
def create_model():
    return _save_model(None)


@bp.route("/models/<int:model_id>")
@allow(*VIEW)
def model(model_id):
    row = get_or_404(ModelRow, model_id)
    found = _task_from_args()
    return _model_editor(row, task=found)


@bp.route("/models/<int:model_id>", methods=["POST"])
@allow(*MANAGE)
def update_model(model_id):
    return _save_model(get_or_404(ModelRow, model_id))


def _save_model(row):
    """S1/S2: save the builder's model; errors inline next to their rows."""
    if row is not None and row.status == scoring.LIVE:
        return _model_editor(row, status=409, alert="Stop the model before changing it.")
    form = ModelForm()
    if not form.validate_on_submit():
        return _model_editor(row, form, 422)
    try:
        saved = save_model(
            row, form.name.data or "", form.description.data or "", form.definition(), current_user()
        )
    except ManageError as error:
        if any(e.field == "status" for e in error.errors):  # went live meanwhile
            return _model_editor(ModelRow.get_by_id(row.id), status=409, alert=_reasons(error.errors))
        form.show_errors(error.errors)
        return _model_editor(row, form, 422)
    url = url_for("scoring.model", model_id=saved.id)
    return _after_save("Model saved.", partial(_model_editor, saved), url, created=row is None)


@bp.route("/models/new/rows", methods=["POST"], defaults={"model_id": None})
@bp.route("/models/<int:model_id>/rows", methods=["POST"])
@allow(*MANAGE)
def model_rows(model_id):
    """Add or remove one row of the builder, keeping what was typed (nothing is saved)."""
    row = get_or_404(ModelRow, model_id) if model_id else None
    if row is not None and row.status == scoring.LIVE:
        return _model_editor(row, status=409, alert="Stop the model before changing it.")
    return _row_change(
        ModelForm(), partial(_model_editor, row), lambda data: ModelForm(formdata=None, data=data)
    )


@bp.route("/models/new/preview", methods=["POST"], defaults={"model_id": None})
@bp.route("/models/<int:model_id>/preview", methods=["POST"])
@allow(*MANAGE)
def preview_model(model_id):
    """What-if: the builder's model (unsaved) over a sample of recent open leads."""
    row = get_or_404(ModelRow, model_id) if model_id else None
    form = ModelForm()
    return _preview(
        "model",
        form,
        lambda: model_from_form(form, row.id if row else "draft"),
        scoring_insights.preview_model,
        partial(_model_editor, row),
    )


@bp.route("/models/<int:model_id>/status", methods=["POST"])
@allow(*MANAGE)
def model_status(model_id):
    """S1/S4: publish (draft or stopped → live, re-scoring with a progress bar) or stop."""
    return _set_status(
        get_or_404(ModelRow, model_id),
        scoring.STATUSES,
        change_model_status,
        lambda wanted: (
            "Model published: scoring every open lead." if wanted == scoring.LIVE else "Model stopped."
        ),
        _model_editor,
        "scoring.model",
        "model_id",
    )


@bp.route("/models/<int:model_id>/duplicate", methods=["POST"])
@allow(*MANAGE)
def duplicate_model_view(model_id):
    """S1: a draft copy of any model (a live one included), to change and publish."""
    source = get_or_404(ModelRow, model_id)
    try:
        copy = duplicate_model(source, current_user())
    except ManageError as error:
        return _model_editor(source, status=409, alert=_reasons(error.errors))
    url = url_for("scoring.model", model_id=copy.id)
    return _after_save(
        f"Draft {copy.name!r} made from {source.name!r}: change it, then publish.",
        partial(_model_editor, copy),
        url,
        created=True,
    )


@bp.route("/models/<int:model_id>/insights")
@allow(*VIEW)
def insights(model_id):
    """S6: distribution, count at or above a threshold, the rules that give most;
    D3: does the score predict the outcomes of a date range."""
    row = get_or_404(ModelRow, model_id)
    model = scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
    threshold, problem = _threshold(model)
    if wants_fragment() and request.htmx.target in ("prediction", "prediction-result"):  # the form, the poll
        return render_fragment(
            "scoring/_prediction.html", row=row, threshold=threshold, **_prediction(row, model)
        )
    count = scoring_insights.count_at_or_above(row.id, threshold) if problem is None else None
    if wants_fragment():
        return render_fragment(
            "scoring/_threshold.html", row=row, threshold=threshold, count=count, problem=problem
        )
    buckets = scoring_insights.distribution(row.id)
    return render(
        "scoring/insights.html",
        row=row,
        statuses=scoring.STATUSES,
        buckets=buckets,
        scored=sum(bucket.count for bucket in buckets),
        threshold=threshold,
        count=count,
        problem=problem,
        rules=scoring_insights.top_rules(row.id, scoring_insights.rule_titles(model)),
        **_prediction(row, model),
    )


@bp.route("/models/<int:model_id>/insights/prediction.csv")
@allow(*VIEW)
def prediction_csv(model_id):
    """D3: the conversion rate per score band of the range, as CSV."""
    row = get_or_404(ModelRow, model_id)
    model = scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})
    context = _prediction(row, model)
    if context["prediction"] is None and context["what_if"] is not None:
        message = (
            context["what_if"].problem or "Still computing: download it once the page shows the figures."
        )
        return Response(message, status=409, mimetype="text/plain")
    if context["prediction"] is None:
        return Response(" ".join(_form_errors(context["range_form"])), status=400, mimetype="text/plain")
    start, end = context["prediction_days"]
    response = Response(scoring_prediction.bands_csv(context["prediction"]), mimetype="text/csv")
    filename = f"score-prediction-{row.id}-{start.isoformat()}-{end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _prediction(row: ModelRow, model: scoring.ScoringModel) -> dict:
    """D3's context: the range form, the days it asks for and the figures (None
    when a day is invalid); a draft, which has no score history, is tried on
    the stored history instead."""
    form = OutcomeRangeForm(
        request.args, scoring_prediction.default_range(utcnow().date()), scoring_prediction.MAX_DAYS
    )
    days = form.days()
    context = {"range_form": form, "prediction_days": days, "prediction": None, "what_if": None}
    if days and row.status == scoring.DRAFT:  # a job past a few hundred outcomes, polled here
        again = request.args.get("again") == "1"
        context["what_if"] = what_ifs.prediction_for(row, *days, current_user().id, again=again)
        context["prediction"] = context["what_if"].result
    elif days:
        context["prediction"] = scoring_prediction.model_prediction(model, *days)
    return context


def _form_errors(form) -> list[str]:
    return [error for field in form for error in field.errors]


def _threshold(model: scoring.ScoringModel) -> tuple[str | int, str | None]:
    """(the threshold asked for, a problem with it or None)."""
    default = model.sales_ready_threshold if model.sales_ready_threshold is not None else 50
    raw = request.args.get("threshold", "").strip()
    if not raw:
        return default, None
    if re.fullmatch(r"[+-]?[0-9]{1,9}", raw):  # ASCII digits: int() refuses "²", which isdigit() takes
        return int(raw), None
    return raw, "Enter a whole number."


# --- Qualification criteria -----------------------------------------------------


@bp.route("/criteria")
@allow(*VIEW)
def criteria_list():
    rows = list(QualificationCriteria.select().order_by(QualificationCriteria.name))
    return render(
        "scoring/criteria_list.html",
        "scoring/_criteria_list.html",
        rows=rows,
        statuses=qualification.STATUSES,
    )


def _criteria_form(formdata=True, data=None) -> CriteriaForm:
    """The builder's form: from the request, or (``formdata=False``) from ``data``."""
    models = _live_models()
    if formdata:
        return CriteriaForm(models=models)
    return (
        CriteriaForm(formdata=None, data=data, models=models)
        if data
        else CriteriaForm(formdata=None, models=models)
    )


def _criteria_editor(row, form=None, status=200, notice=None, alert=None, task=None, preview=None):
    """The criteria page, or its editor region for htmx (Q3: a form only while
    draft or stopped); a ``form`` given was posted and not saved, as for models."""
    posted = form is not None
    editable = (
        _can_manage()
        and (row is None or qualification.can_edit(row.status))
        and (row is None or criteria_is_editable_here(row.definition))
    )
    if form is None and editable:
        data = CriteriaForm.data_for(row.name, row.definition) if row else None
        form = _criteria_form(formdata=False, data=data)
    summary = None
    if row is not None and not editable:
        summary = qualification.Criteria.from_dict(
            {**row.definition, "id": row.id, "name": row.name, "status": row.status}
        )
    return render(
        "scoring/criteria.html",
        "scoring/_criteria_editor.html",
        status,
        row=row,
        form=form if editable else None,
        unsaved=editable and posted,
        summary=summary,
        type_labels=interaction_types.vocabulary().labels() if summary else {},
        model_names={m.id: m.name for m in ModelRow.select(ModelRow.id, ModelRow.name)},
        statuses=qualification.STATUSES,
        term_kinds=TERM_KINDS,
        can_manage=_can_manage(),
        notice=notice,
        alert=alert,
        task=task,
        preview=preview,
        sample_size=scoring_insights.SAMPLE_SIZE,
    )


@bp.route("/criteria/new")
@allow(*MANAGE)
def new_criteria():
    return _criteria_editor(None)


@bp.route("/criteria", methods=["POST"])
@allow(*MANAGE)
def create_criteria():
    return _save_criteria(None)


@bp.route("/criteria/<int:criteria_id>")
@allow(*VIEW)
def criteria(criteria_id):
    row = get_or_404(QualificationCriteria, criteria_id)
    found = _task_from_args()
    return _criteria_editor(row, task=found)


@bp.route("/criteria/<int:criteria_id>", methods=["POST"])
@allow(*MANAGE)
def update_criteria(criteria_id):
    return _save_criteria(get_or_404(QualificationCriteria, criteria_id))


def _refused_while_published(row):
    """Q3: published criteria are not edited; the server says so."""
    return _criteria_editor(row, status=409, alert="Stop the criteria before changing them.")


def _save_criteria(row):
    if row is not None and not qualification.can_edit(row.status):
        return _refused_while_published(row)
    form = _criteria_form()
    if not form.validate_on_submit():
        return _criteria_editor(row, form, 422)
    try:
        saved = save_criteria(row, form.name.data or "", form.definition(), current_user())
    except ManageError as error:
        if any(e.field == "status" for e in error.errors):
            return _refused_while_published(QualificationCriteria.get_by_id(row.id))
        form.show_errors(error.errors)
        return _criteria_editor(row, form, 422)
    url = url_for("scoring.criteria", criteria_id=saved.id)
    return _after_save("Criteria saved.", partial(_criteria_editor, saved), url, created=row is None)


@bp.route("/criteria/new/rows", methods=["POST"], defaults={"criteria_id": None})
@bp.route("/criteria/<int:criteria_id>/rows", methods=["POST"])
@allow(*MANAGE)
def criteria_rows(criteria_id):
    """Add or remove one term of the builder, keeping what was typed."""
    row = get_or_404(QualificationCriteria, criteria_id) if criteria_id else None
    if row is not None and not qualification.can_edit(row.status):
        return _refused_while_published(row)
    return _row_change(
        _criteria_form(),
        partial(_criteria_editor, row),
        lambda data: _criteria_form(formdata=False, data=data),
    )


@bp.route("/criteria/new/preview", methods=["POST"], defaults={"criteria_id": None})
@bp.route("/criteria/<int:criteria_id>/preview", methods=["POST"])
@allow(*MANAGE)
def preview_criteria(criteria_id):
    """What-if: how many recent open leads the builder's criteria (unsaved) would qualify."""
    row = get_or_404(QualificationCriteria, criteria_id) if criteria_id else None
    form = _criteria_form()
    return _preview(
        "criteria",
        form,
        lambda: qualification.Criteria.from_dict(
            {**form.definition(), "id": row.id if row else None, "name": form.name.data or "Preview"},
            live_model_ids=live_model_ids(),
        ),
        scoring_insights.preview_criteria,
        partial(_criteria_editor, row),
    )


@bp.route("/criteria/<int:criteria_id>/duplicate", methods=["POST"])
@allow(*MANAGE)
def duplicate_criteria_view(criteria_id):
    """Q3: a draft copy of any criteria (published ones included)."""
    source = get_or_404(QualificationCriteria, criteria_id)
    try:
        copy = duplicate_criteria(source, current_user())
    except ManageError as error:
        return _criteria_editor(source, status=409, alert=_reasons(error.errors))
    url = url_for("scoring.criteria", criteria_id=copy.id)
    return _after_save(
        f"Draft {copy.name!r} made from {source.name!r}: change it, then publish.",
        partial(_criteria_editor, copy),
        url,
        created=True,
    )


@bp.route("/criteria/<int:criteria_id>/status", methods=["POST"])
@allow(*MANAGE)
def criteria_status(criteria_id):
    """Q3: publish (draft or stopped → published) or stop."""
    return _set_status(
        get_or_404(QualificationCriteria, criteria_id),
        qualification.STATUSES,
        change_criteria_status,
        lambda wanted: (
            "Criteria published: applying them to every open lead."
            if wanted == qualification.PUBLISHED
            else "Criteria stopped."
        ),
        _criteria_editor,
        "scoring.criteria",
        "criteria_id",
    )


# --- What models and criteria share ------------------------------------------------


def _reasons(errors: list[FieldError]) -> str:
    return " ".join(dict.fromkeys(error.reason for error in errors))


def _after_save(notice: str, editor, url: str, created: bool):
    """After a builder's save: ``editor(notice=notice)`` for htmx (pushing the
    stored record's ``url`` when it was just ``created``), else ``notice``
    flashed and a redirect to ``url``."""
    if not wants_fragment():
        flash(notice)
        return redirect(url, 303)
    response = editor(notice=notice)
    if created:
        response.headers["HX-Push-Url"] = url
    return response


def _row_change(form, editor, form_with):
    """Add or remove the row the builder's ``form`` names, keeping what was typed
    (nothing is saved): ``editor(form_with(data))`` with the changed form data,
    or the editor with the form's errors (422)."""
    if not form.validate_on_submit():
        return editor(form, 422)
    return editor(form_with(form.with_row_change(request.form.get("row", ""))))


def _preview(kind: str, form, build, run, editor):
    """What-if: ``run`` the builder's unsaved draft (``build()``, which
    raises ``DefinitionError``) over a sample of recent open leads; the preview
    region for htmx, else the page with it. ``editor(form, status, **context)``
    renders the model or criteria editor; an invalid draft answers it (422) in
    place of the ``#<kind>-editor`` region, with its errors inline."""
    if not form.validate_on_submit():
        return editor(form, 422)
    try:
        draft = build()
    except DefinitionError as error:
        form.show_errors(error.errors)
        response = editor(form, 422)
        response.headers["HX-Retarget"] = f"#{kind}-editor"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    preview = run(draft)
    if wants_fragment():
        return render_fragment(
            "scoring/_preview.html", preview=preview, kind=kind, sample_size=scoring_insights.SAMPLE_SIZE
        )
    return editor(form, preview=preview)


def _set_status(row, statuses, change, message, editor, endpoint: str, id_arg: str):
    """Publish or stop ``row`` (a model or criteria) with ``change(row, wanted,
    user)``: the editor with ``message(wanted)`` and the re-scoring task for htmx,
    else a redirect to ``endpoint`` that follows the task; a refusal answers the
    editor with its reasons (409)."""
    wanted = request.form.get("status", "")
    if wanted not in statuses:
        abort(400, "Unknown status.")
    try:
        task = change(row, wanted, current_user())
    except ManageError as error:
        return editor(row, status=409, alert=_reasons(error.errors))
    notice = message(wanted)
    if not wants_fragment():
        flash(notice)
        extra = {"task": task.id} if task else {}
        return redirect(url_for(endpoint, **{id_arg: row.id}, **extra), 303)
    return editor(type(row).get_by_id(row.id), notice=notice, task=task)
