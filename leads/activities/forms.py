"""The activity forms of the lead page (W1): one per kind, to add one or to
edit it. They carry the values as typed; ``leads.core.activities.clean`` (via
the services) checks them, the same rules as the API, and its reasons are put
on the fields inline."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField

from leads.core import activities as rules
from web.forms import PageForm

OUTCOME_CHOICES = [("", "Choose…"), *rules.OUTCOMES.items()]


class NoteForm(PageForm):
    body = TextAreaField("Note", render_kw={"rows": 3, "maxlength": rules.MAX_BODY})


class CallForm(PageForm):
    outcome = SelectField("Outcome", choices=OUTCOME_CHOICES, validate_choice=False)
    duration_minutes = StringField("Duration (minutes)", render_kw={"inputmode": "numeric"})
    body = TextAreaField("Note", render_kw={"rows": 2, "maxlength": rules.MAX_BODY})


class TaskForm(PageForm):
    title = StringField("Task", render_kw={"maxlength": rules.MAX_TITLE})
    due_at = StringField("Due (UTC)", render_kw={"type": "datetime-local"})
    assignee_id = SelectField("Assignee", choices=[], validate_choice=False)
    done = BooleanField("Done")


FORMS = {rules.NOTE: NoteForm, rules.CALL: CallForm, rules.TASK: TaskForm}


def activity_form(kind: str, assignees, prefix: str, obj=None, posted: bool = False) -> PageForm:
    """The ``kind`` form with its assignee choices the users given: the posted
    values when ``posted``, else empty or those of ``obj`` (an activity, to edit it)."""
    form = FORMS[kind](prefix=prefix) if posted else FORMS[kind](formdata=None, prefix=prefix, obj=obj)
    if kind == rules.TASK:
        form.assignee_id.choices = [("", "Choose…")] + [(str(user.id), user.name) for user in assignees]
        if obj is not None and not posted:
            form.due_at.data = obj.due_at.strftime("%Y-%m-%dT%H:%M") if obj.due_at else ""
            form.assignee_id.data = str(obj.assignee_id or "")
    return form


def values(form: PageForm) -> dict:
    """What was typed, by field name (the prefix and the CSRF token left out)."""
    return {field.short_name: field.data for field in form if field.short_name != "csrf_token"}


def show_errors(form: PageForm, errors) -> None:
    """Put the services' ``(field, reason)`` errors on the form's fields."""
    for name, reason in errors:
        field = form._fields.get(name) if name else None
        if field is None:
            form.form_errors.append(reason)
        else:
            field.errors = [*field.errors, reason]


class DeleteForm(PageForm):
    """The delete button's empty form (CSRF only)."""
