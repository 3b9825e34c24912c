"""Intake pages: matching strategies (M1–M3), capture sources (C3–C5) and
automatic lead rules (C6) for marketers and admins; and the public capture
endpoint ``POST /capture/<key>`` (no sign-in, no CSRF token: a cross-site
form; consent, honeypot, size and rate limits instead)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import RequestEntityTooLarge

from auth.models import ADMIN, MARKETER
from auth.policy import allow, public
from leads.base.urls import public_url
from leads.intake import manage
from leads.intake.capture import REJECTED, CaptureResult, source_by_key
from leads.intake.capture import capture as capture_submission
from leads.intake.forms import RuleForm, SourceForm, StrategyForm
from leads.intake.models import AutoLeadRule, CaptureSource, MatchingStrategyRecord
from leads.intake.strategies import ensure_defaults, strategy_rows
from web import crud
from web.crud import get_or_404, saved
from web.errors import handle_http_error
from web.extensions import csrf, limiter
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("intake", __name__)

MAX_BODY = 64 * 1024  # bytes: a form submission, not an upload


def _refused(form, error: manage.IntakeError) -> None:
    for name, reason in error.errors:
        target = getattr(form, name, None) or form.name
        target.errors = [*target.errors, reason]


# Matching strategies -------------------------------------------------------------------


def _strategies_page(form=None, notice=None, status=200):
    ensure_defaults()
    return render(
        "intake/strategies.html",
        "intake/_strategies.html",
        status,
        strategies=list(strategy_rows()),
        form=form or StrategyForm(formdata=None),
        notice=notice,
    )


@bp.route("/intake/strategies")
@allow(MARKETER, ADMIN)
def strategies():
    return _strategies_page()


@bp.route("/intake/strategies", methods=["POST"])
@allow(MARKETER, ADMIN)
def create_strategy():
    form = StrategyForm()
    return crud.create(
        form,
        _save_strategy(form),
        _strategies_page,
        lambda _row: f"Strategy {form.name.data.strip()} was added.",
        "intake.strategies",
        refused=manage.IntakeError,
        show=_refused,
    )


def _save_strategy(form, row=None):
    """What stores ``form``'s strategy (``row`` when editing one)."""
    return lambda: manage.save_strategy(
        form.name.data, form.entity.data, manage.parse_fields(form.fields.data), form.is_default.data, row
    )


def _strategy_page(row, form=None, notice=None, status=200):
    data = {
        "name": row.name,
        "entity": row.entity,
        "fields": ", ".join(row.fields),
        "is_default": row.is_default,
    }
    return render(
        "intake/strategy.html",
        "intake/_strategy_form.html",
        status,
        strategy=row,
        form=form or StrategyForm(formdata=None, data=data),
        notice=notice,
    )


@bp.route("/intake/strategies/<int:strategy_id>")
@allow(MARKETER, ADMIN)
def strategy(strategy_id):
    return _strategy_page(get_or_404(MatchingStrategyRecord, strategy_id))


@bp.route("/intake/strategies/<int:strategy_id>", methods=["POST"])
@allow(MARKETER, ADMIN)
def update_strategy(strategy_id):
    row = get_or_404(MatchingStrategyRecord, strategy_id)
    form = StrategyForm()
    return crud.update(
        row,
        form,
        _save_strategy(form, row),
        _strategy_page,
        "intake.strategy",
        refused=manage.IntakeError,
        show=_refused,
        strategy_id=strategy_id,
    )


@bp.route("/intake/strategies/<int:strategy_id>/delete", methods=["POST"])
@allow(MARKETER, ADMIN)
def delete_strategy(strategy_id):
    row = get_or_404(MatchingStrategyRecord, strategy_id)
    try:
        manage.delete_strategy(row)
    except manage.IntakeError as error:
        return _strategies_page(status=422, notice=str(error))
    message = f"Strategy {row.name} was removed."
    return saved(message, lambda: _strategies_page(notice=message), "intake.strategies")


# Capture sources ------------------------------------------------------------------------


def _sources_page(form=None, notice=None, status=200, added=None):
    """The sources list with its "add" form; ``added``, a source just added, is
    shown above with its endpoint and embed code."""
    return render(
        "intake/sources.html",
        "intake/_sources.html",
        status,
        sources=list(manage.capture_sources()),
        form=form or SourceForm(formdata=None),
        notice=notice,
        added=added,
        endpoint=_endpoint(added) if added else None,
        public_url_set=bool(current_app.config.get("PUBLIC_URL")),
    )


def _endpoint(source) -> str | None:
    """C3–C5: where people's forms post: under ``PUBLIC_URL`` when it is set."""
    return public_url("intake.capture", key=source.key)


@bp.route("/intake/sources")
@allow(MARKETER, ADMIN)
def sources():
    """The sources; ``?added=<id>`` (after adding one) shows its endpoint and embed code."""
    added_id = request.args.get("added", type=int)
    added = CaptureSource.get_or_none(CaptureSource.id == added_id) if added_id and added_id < 2**63 else None
    return _sources_page(added=added)


def _save_source(form, row=None):
    """What stores ``form``'s capture source (``row`` when editing one) and returns it."""
    return lambda: manage.save_source(form.values(manage.mapping_from_rows(form.mapping_rows())), row)


@bp.route("/intake/sources", methods=["POST"])
@allow(MARKETER, ADMIN)
def create_source():
    """A new source: the list stays, with the new source's endpoint and embed code above it."""
    form = SourceForm()
    source = crud.store(form, _save_source(form), manage.IntakeError, _refused)
    if source is crud.NOT_STORED:
        return _sources_page(form, status=422)
    message = f"Capture source {source.name} was added."
    return saved(
        message, lambda: _sources_page(notice=message, added=source), "intake.sources", added=source.id
    )


def _source_page(source, form=None, notice=None, status=200):
    return render(
        "intake/source.html",
        "intake/_source_form.html",
        status,
        source=source,
        endpoint=_endpoint(source),
        public_url_set=bool(current_app.config.get("PUBLIC_URL")),
        form=form or SourceForm(formdata=None, data=SourceForm.data_of(source)),
        notice=notice,
    )


@bp.route("/intake/sources/<int:source_id>")
@allow(MARKETER, ADMIN)
def source(source_id):
    return _source_page(get_or_404(CaptureSource, source_id))


@bp.route("/intake/sources/<int:source_id>", methods=["POST"])
@allow(MARKETER, ADMIN)
def update_source(source_id):
    row = get_or_404(CaptureSource, source_id)
    form = SourceForm()
    return crud.update(
        row,
        form,
        _save_source(form, row),
        _source_page,
        "intake.source",
        refused=manage.IntakeError,
        show=_refused,
        source_id=source_id,
    )


# Automatic lead rules (C6) --------------------------------------------------------------


def _rules_page(form=None, notice=None, status=200):
    return render(
        "intake/rules.html",
        "intake/_rules.html",
        status,
        rules=list(manage.auto_lead_rules()),
        form=form or RuleForm(formdata=None),
        notice=notice,
    )


@bp.route("/intake/rules")
@allow(MARKETER, ADMIN)
def rules():
    return _rules_page()


@bp.route("/intake/rules", methods=["POST"])
@allow(MARKETER, ADMIN)
def create_rule():
    form = RuleForm()
    return crud.create(
        form,
        lambda: manage.save_rule(
            form.name.data, form.campaign.data, form.product_line.data, form.interaction_types.data
        ),
        _rules_page,
        lambda _rule: f"Rule {form.name.data.strip()} was added.",
        "intake.rules",
        refused=manage.IntakeError,
        show=_refused,
    )


@bp.route("/intake/rules/<int:rule_id>/delete", methods=["POST"])
@allow(MARKETER, ADMIN)
def delete_rule(rule_id):
    rule = get_or_404(AutoLeadRule, rule_id)
    rule.delete_instance()
    message = f"Rule {rule.name} was removed."
    return saved(message, lambda: _rules_page(notice=message), "intake.rules")


# The public capture endpoint (C3–C5) ---------------------------------------------------


def capture_rate_key() -> str:
    """Rate-limit key: one source and one client together."""
    return f"capture:{request.view_args.get('key', '')}:{get_remote_address()}"


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


@bp.before_request
def _read_capture_body():
    """Read the capture endpoint's body here, before anything parses it, and at
    most ``MAX_BODY`` + 1 bytes of it, whether it says its length or comes
    chunked: a longer one is refused (413) unread.

    Werkzeug stops a body without a Content-Length at ``max_content_length``
    but does not say whether more was sent, hence the one byte more, checked.
    The form and JSON are then parsed from what was read."""
    if request.endpoint != "intake.capture":
        return
    request.max_content_length = MAX_BODY + 1  # a longer Content-Length: 413 before any read
    if len(request.get_data(cache=True)) > MAX_BODY:
        abort(413)


@bp.errorhandler(RequestEntityTooLarge)
def _body_too_large(error):
    """A capture body over the cap is answered as a refused submission (JSON,
    fragment or page, as the sender asked); other pages keep the usual error."""
    if request.endpoint != "intake.capture":
        return handle_http_error(error)
    reason = f"The submission is larger than {MAX_BODY // 1024} KB; nothing was saved."
    return _answer(CaptureResult(REJECTED, [{"field": None, "reason": reason}]), 413)


@bp.route("/capture/<key>", methods=["POST"])
@public
@limiter.limit(lambda: current_app.config.get("CAPTURE_LIMIT", "30 per minute"), key_func=capture_rate_key)
def capture(key):
    """C3–C5: a public submission (form fields or JSON) captured for the source
    with this key; its body was already read, capped, by ``_read_capture_body``."""
    source = source_by_key(key)
    if source is None:
        abort(404)
    if request.is_json:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return jsonify({"errors": [{"field": None, "reason": "Send a JSON object."}]}), 400
    else:
        payload = request.form.to_dict()
    result = capture_submission(source, payload, get_remote_address())
    if result.ok and not (_wants_json() or wants_fragment()):
        return redirect(source.thank_you_url or url_for("intake.captured"), 303)
    return _answer(result, 200 if result.ok else 400)


def _answer(result, status: int):
    """The capture's answer as its sender asked: JSON, the htmx fragment or the page."""
    if _wants_json():
        return jsonify(result.to_dict()), status
    if wants_fragment():
        return render_fragment("intake/_capture_answer.html", status, result=result)
    return render_template("intake/capture_error.html", result=result), status


csrf.exempt(capture)  # a public cross-site form: no session, no token (consent and limits instead)


@bp.route("/captured")
@public
def captured():
    return render_template("intake/captured.html")
