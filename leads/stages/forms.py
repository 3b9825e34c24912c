"""Forms of the lead page and the work queues: one per stage action (STYLE 13).

The app-wide ``CSRFProtect`` checks every POST (htmx sends the token in a
header, plain forms in a hidden ``csrf_token`` input), so these forms carry no
token of their own; that lets a queue page hold one form per row, each with its
own ``prefix``. Every form says which lifecycle steps it asks for (``steps()``);
the lifecycle and ``leads.stages.services`` decide whether they may happen.
"""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from leads.core import lifecycle
from leads.records.queries import assignable_reps, qualification_fields
from web.forms import PageForm


class ActionForm(PageForm):
    """Base of the action forms: names the action, no form-level CSRF field."""

    class Meta:
        csrf = False

    action = ""

    def steps(self) -> list[tuple[str, dict]]:
        """The lifecycle steps this form asks for: ``[(action, args), …]``."""
        return [(self.action, {})]

    @property
    def note(self) -> str | None:
        """A note to keep with the history rows, if the form takes one."""
        return None


class ButtonForm(ActionForm):
    """A POST-only button (Ready for teleprospecting, Accept, Convert…)."""


def _int_or_none(value):
    """Coerce a select's value; the blank "choose…" option gives None."""
    if value in (None, ""):
        return None
    return int(value)


class MoveForm(ActionForm):
    """P1: move the lead to a stage by hand."""

    action = "move"
    stage = SelectField(
        "Stage",
        coerce=_int_or_none,
        choices=[("", "Choose a stage…"), *lifecycle.STAGES.items()],
        validators=[DataRequired(message="Choose a stage.")],
    )

    def steps(self):
        return [("move", {"stage": self.stage.data})]


def _active_reps() -> list:
    return list(assignable_reps())


# Who the assign picker offers: items with ``id`` and ``name`` (the option's
# label) and, optionally, ``warning`` (why assigning to them asks first). Active
# reps by name here; routing installs its own at app set-up (each rep's load and
# time away, ``offer_reps_with``), as follow-ups connect to signals, so that
# ``leads`` never imports ``routing``.
_rep_choices = _active_reps


def offer_reps_with(provider) -> None:
    """Make ``provider()`` the assign picker's list of reps (see ``_rep_choices``)."""
    global _rep_choices
    _rep_choices = provider


class AssignForm(ActionForm):
    """P6: give a stage-5 lead to an active sales rep (only those are offered);
    one whose choice carries a ``warning`` (at capacity, away) is only given the
    lead once ``confirmed``."""

    action = "assign"
    owner_id = SelectField(
        "Sales rep", coerce=_int_or_none, validators=[DataRequired(message="Choose a sales rep.")]
    )
    confirmed = HiddenField()

    def __init__(self, *args, reps=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = _rep_choices() if reps is None else list(reps)
        self.owner_id.choices = [("", "Choose a rep…")] + [(rep.id, rep.name) for rep in self.reps]

    def question(self) -> str | None:
        """Why the chosen rep needs a "yes" first (at capacity, away), until given."""
        if self.confirmed.data == "yes":
            return None
        chosen = next((rep for rep in self.reps if rep.id == self.owner_id.data), None)
        return getattr(chosen, "warning", None)

    def chosen_name(self) -> str:
        """The chosen rep's name (without the option's load)."""
        chosen = next((rep for rep in self.reps if rep.id == self.owner_id.data), None)
        return getattr(chosen, "rep_name", None) or getattr(chosen, "name", "")

    def steps(self):
        return [("assign", {"owner_id": self.owner_id.data})]


class DisqualifyForm(ActionForm):
    """P6: close the lead with a reason (and an optional note for the history)."""

    action = "disqualify"
    reason = SelectField(
        "Reason",
        choices=[("", "Choose a reason…"), *lifecycle.DISQUALIFY_REASONS.items()],
        validators=[DataRequired(message="Choose a reason.")],
    )
    comment = TextAreaField("Note", validators=[Optional(), Length(max=500)])

    def steps(self):
        return [("disqualify", {"reason": self.reason.data})]

    @property
    def note(self):
        return (self.comment.data or "").strip() or None


class QualificationForm(ActionForm):
    """P5: the call's findings, one field per active ``QualificationField``.

    Saving accepts blanks (a call may be cut short); the Sales ready button
    needs every required field, then marks the lead sales-ready in the same step."""

    action = "qualify"
    specs: list[tuple[str, str, bool]] = []  # (field name, key, required), set per field set
    mark_sales_ready = SubmitField("Sales ready")

    def finding_fields(self):
        """The finding fields, in form order."""
        return [self[name] for name, _key, _required in self.specs]

    def has_required(self) -> bool:
        """True when some finding is needed before Sales ready."""
        return any(required for _name, _key, required in self.specs)

    def values(self) -> dict[str, str]:
        """The findings by key, trimmed."""
        return {key: (self[name].data or "").strip() for name, key, _required in self.specs}

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if self.mark_sales_ready.data:
            for name, _key, required in self.specs:
                if required and not (self[name].data or "").strip():
                    self[name].errors.append("Needed before the lead is sales-ready.")
                    valid = False
        return valid

    def steps(self):
        steps = [("qualify", {"values": self.values()})]
        if self.mark_sales_ready.data:
            steps.append(("sales_ready", {}))
        return steps


def _finding_field(spec):
    """The WTForms field for one configured qualification field."""
    label = spec.label + (" *" if spec.required else "")
    if spec.kind == "textarea":
        return TextAreaField(label, validators=[Optional(), Length(max=2000)])
    if spec.kind in ("select", "yesno"):
        options = [("yes", "Yes"), ("no", "No")] if spec.kind == "yesno" else [(c, c) for c in spec.choices]
        return SelectField(label, choices=[("", "—"), *options], validators=[Optional()])
    return StringField(label, validators=[Optional(), Length(max=200)])


def qualification_form_class(fields) -> type[QualificationForm]:
    """A QualificationForm class for this set of configured fields (field names
    are prefixed with ``q_`` so an admin's key can never clash with a form attribute)."""
    attrs = {f"q_{spec.key}": _finding_field(spec) for spec in fields}
    attrs["specs"] = [(f"q_{spec.key}", spec.key, spec.required) for spec in fields]
    return type("QualificationForm", (QualificationForm,), attrs)


FORMS = {
    "move": MoveForm,
    "assign": AssignForm,
    "disqualify": DisqualifyForm,
}


def action_form(action: str, lead, *, bound: bool, prefix: str = "", reps=None, fields=None) -> ActionForm:
    """The form of ``action`` for ``lead``: bound to the posted data when
    ``bound``, else filled from the lead. ``reps`` and ``fields`` let a queue
    page load the rep list and the qualification fields once for all rows."""
    kwargs = {"prefix": prefix}
    if not bound:
        kwargs["formdata"] = None
    if action == "qualify":
        form_class = qualification_form_class(list(qualification_fields()) if fields is None else fields)
        if not bound:
            kwargs["data"] = {f"q_{key}": value for key, value in (lead.qualification or {}).items()}
        form = form_class(**kwargs)
    elif action == "assign":
        form = AssignForm(reps=reps, **kwargs)
    else:
        form = FORMS.get(action, ButtonForm)(**kwargs)
    form.action = action
    return form
