"""CSV import pages (C2: marketers, managers and admins; reps and
teleprospectors are refused) and the lead list's CSV export (any signed-in
user, only the leads they may see)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from auth.models import ADMIN, MANAGER, MARKETER
from auth.policy import allow, current_user, signed_in
from leads.core.csv_io import LEAD, CsvError
from leads.core.matching import UPDATE_POLICIES
from leads.imports import export, uploads
from leads.imports.models import MAPPING
from leads.records.listing import parse_list_args
from web.forms import PageForm
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("imports", __name__, url_prefix="/imports")
exports_bp = Blueprint("exports", __name__)

IMPORTERS = (MARKETER, MANAGER, ADMIN)
SKIP = ""


class UploadForm(PageForm):
    entity = SelectField("What the file holds", choices=list(uploads.ENTITIES.items()), default="contact")
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])


def mapping_form(upload, formdata=None):
    """The mapping form of ``upload``: one select per column (``col_<n>``), the
    update policy and, for leads, the topic and source given to every row.
    ``formdata=None`` shows what is stored."""

    class MappingForm(PageForm):
        encoding = SelectField(
            "File encoding", choices=uploads.encoding_choices(upload), default=upload.encoding
        )
        update_policy = SelectField(
            "When a row matches an existing record",
            choices=list(UPDATE_POLICIES.items()),
            default=upload.update_policy,
        )

    choices = [(SKIP, "— do not import —"), *uploads.field_choices(upload.entity)]
    for number, header in enumerate(upload.headers):
        setattr(
            MappingForm,
            f"col_{number}",
            SelectField(header, choices=choices, default=upload.mapping.get(header) or SKIP),
        )
    if upload.entity == LEAD:
        MappingForm.topic = StringField(
            "Topic for rows without one",
            validators=[Optional(), Length(max=200)],
            default=upload.defaults.get("topic", ""),
        )
        MappingForm.source = StringField(
            "Source (with the email, it identifies the lead)",
            validators=[InputRequired("Give the source these leads came from."), Length(max=50)],
            default=upload.defaults.get("source", uploads.DEFAULT_SOURCE),
        )
    if formdata is None:
        return MappingForm(formdata=None)
    return MappingForm()


def _form_mapping(upload, form) -> tuple[dict, dict]:
    mapping = {h: form[f"col_{n}"].data or None for n, h in enumerate(upload.headers)}
    defaults = {}
    if upload.entity == LEAD:
        defaults = {"topic": form.topic.data or "", "source": form.source.data or ""}
    return mapping, defaults


def _upload_or_404(import_id: int):
    upload = uploads.import_with_task(import_id)
    if upload is None:
        abort(404)
    return upload


# Upload --------------------------------------------------------------------------


def _index(form=None, status=200):
    return render(
        "imports/index.html",
        "imports/_upload.html",
        status,
        form=form or UploadForm(formdata=None),
        uploads=uploads.recent_imports(),
    )


@bp.route("/")
@allow(*IMPORTERS)
def index():
    """The upload form and the latest imports."""
    return _index()


@bp.route("/", methods=["POST"])
@allow(*IMPORTERS)
def upload():
    """C2: store the file and go to its mapping; a file that cannot be imported
    (too large, binary, no header) is refused next to the file field."""
    # Files somewhat over the limit get the inline message; far larger bodies
    # are refused (413) before they are read (the app's MAX_CONTENT_LENGTH).
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    raw = form.file.data.stream.read(uploads.MAX_UPLOAD_BYTES + 1)
    try:
        created = uploads.create_import(raw, form.file.data.filename, form.entity.data, current_user().id)
    except CsvError as error:
        form.file.errors.append(str(error))
        return _index(form, 422)
    return _redirect(url_for("imports.show", import_id=created.id))


def _redirect(target: str):
    if wants_fragment():
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


# Mapping and preview -----------------------------------------------------------------


def _mapping_page(upload, form=None, status=200):
    return render(
        "imports/mapping.html",
        "imports/_mapping.html",
        status,
        upload=upload,
        form=form or mapping_form(upload),
        preview=uploads.preview(upload),
    )


@bp.route("/<int:import_id>")
@allow(*IMPORTERS)
def show(import_id):
    """The mapping page while the import waits for it, else its progress."""
    upload = _upload_or_404(import_id)
    if upload.status == MAPPING:
        return _mapping_page(upload)
    return render("imports/show.html", "imports/_progress.html", upload=upload)


@bp.route("/<int:import_id>/mapping", methods=["POST"])
@allow(*IMPORTERS)
def update_mapping(import_id):
    """Store the adjusted mapping and show the preview validated with it."""
    upload = _upload_or_404(import_id)
    if upload.status != MAPPING:
        return _redirect(url_for("imports.show", import_id=upload.id))
    form = mapping_form(upload, formdata=True)
    if not form.validate_on_submit():
        return _mapping_page(upload, form, 422)
    mapping, defaults = _form_mapping(upload, form)
    uploads.save_mapping(upload, mapping, defaults, form.update_policy.data)
    if form.encoding.data != upload.encoding:
        refused = _change_encoding(upload, form)
        if refused is not None:
            return refused
        form = mapping_form(upload)  # the headers were read again: the mapping as now stored
    if not wants_fragment():
        return redirect(url_for("imports.show", import_id=upload.id))
    return _mapping_page(upload, form)


def _change_encoding(upload, form):
    """Read the file in the encoding chosen on the form when it is another; the
    mapping page with the reason (422) when the file does not read in it."""
    if form.encoding.data == upload.encoding:
        return None
    try:
        uploads.change_encoding(upload, form.encoding.data)
    except CsvError as error:
        form.encoding.errors = [*form.encoding.errors, str(error)]
        return _mapping_page(upload, form, 422)
    return None


@bp.route("/<int:import_id>/start", methods=["POST"])
@allow(*IMPORTERS)
def start(import_id):
    """Store the mapping and queue the import job (once); its progress page follows."""
    upload = _upload_or_404(import_id)
    if upload.status != MAPPING:
        return _redirect(url_for("imports.show", import_id=upload.id))
    form = mapping_form(upload, formdata=True)
    if not form.validate_on_submit():
        return _mapping_page(upload, form, 422)
    mapping, defaults = _form_mapping(upload, form)
    uploads.save_mapping(upload, mapping, defaults, form.update_policy.data)
    if form.encoding.data != upload.encoding:  # look at the rows read anew before importing them
        return _change_encoding(upload, form) or _mapping_page(upload, mapping_form(upload))
    if not uploads.start_import(upload, current_user().id):
        return _mapping_page(upload, form, 422)  # the mapping errors are on the page
    return _redirect(url_for("imports.show", import_id=upload.id))


# Progress and report ----------------------------------------------------------------


@bp.route("/<int:import_id>/progress")
@allow(*IMPORTERS)
def progress(import_id):
    """The progress region (polled every second while the job runs)."""
    return render_fragment("imports/_progress.html", upload=_upload_or_404(import_id))


@bp.route("/<int:import_id>/errors.csv")
@allow(*IMPORTERS)
def error_report(import_id):
    """The rejected rows with their line and reason, as CSV."""
    upload = _upload_or_404(import_id)
    return _csv_response(export.error_report(upload), f"import-{upload.id}-errors.csv")


def _csv_response(lines, filename: str) -> Response:
    response = Response(lines, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Export ---------------------------------------------------------------------------


@exports_bp.route("/leads/export.csv")
@signed_in
def leads_csv():
    """Every lead of the current list view (its search and filters, all pages)
    that the user may see (G1: a rep only their own), as CSV."""
    params, _errors = parse_list_args(request.args)
    return _csv_response(export.export_leads(current_user(), params), "leads.csv")
