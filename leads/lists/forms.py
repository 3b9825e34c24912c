"""Forms of the lead list's bulk actions and saved views (W5). The app-wide
``CSRFProtect`` checks every POST, so they carry no token of their own. The
selection and the list's filters are read by ``leads.lists.views`` from the
same posted data (``ids``, ``all_matching`` and the list's own arguments)."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from auth.models import Team
from leads.core import lifecycle
from leads.records.queries import assignable_reps
from web.forms import PageForm


def _int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class BulkForm(PageForm):
    """One bulk action and the value it needs: a rep, a stage or a reason."""

    class Meta:
        csrf = False

    action = SelectField("Action", validators=[DataRequired(message="Choose an action.")])
    owner_id = SelectField("Rep", coerce=_int_or_none, validate_choice=False)
    to_stage = SelectField(  # not "stage": that is the list's stage filter, posted alongside
        "Stage",
        coerce=_int_or_none,
        choices=[("", "Choose a stage…"), *lifecycle.STAGES.items()],
        validate_choice=False,
    )
    reason = SelectField(
        "Reason",
        choices=[("", "Choose a reason…"), *lifecycle.DISQUALIFY_REASONS.items()],
        validate_choice=False,
    )

    def __init__(self, *args, actions: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [("", "Choose…")] + [(name, a.label) for name, a in actions.items()]
        reps = assignable_reps() if "assign" in actions else []  # no query for who cannot assign
        self.owner_id.choices = [("", "Choose a rep…")] + [(rep.id, rep.name) for rep in reps]

    def validate_owner_id(self, field):
        if self.action.data == "assign":
            if field.data is None:
                raise ValidationError("Choose the rep to assign the leads to.")
            if field.data not in {value for value, _ in field.choices if value != ""}:
                raise ValidationError("Choose an active sales rep.")

    def validate_to_stage(self, field):
        if self.action.data == "move" and field.data not in lifecycle.STAGES:
            raise ValidationError("Choose the stage to move the leads to.")

    def validate_reason(self, field):
        if self.action.data == "disqualify" and field.data not in lifecycle.DISQUALIFY_REASONS:
            raise ValidationError("Choose why the leads are disqualified.")

    def arguments(self) -> dict:
        """What the chosen action takes (JSON-safe: it is kept with the task)."""
        return {
            "assign": {"owner_id": self.owner_id.data},
            "move": {"stage": self.to_stage.data},
            "disqualify": {"reason": self.reason.data},
        }.get(self.action.data, {})


class SaveViewForm(PageForm):
    """Save the list as it is under a name; a manager may share it with a team."""

    class Meta:
        csrf = False

    view_name = StringField(
        "View name",
        validators=[DataRequired(message="Name the view."), Length(max=80, message="At most 80 characters.")],
    )
    share_with = SelectField("Share with team", coerce=_int_or_none, validate_choice=False)

    def __init__(self, *args, can_share: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_share = can_share
        self.share_with.choices = [("", "Only me")]
        if can_share:
            self.share_with.choices += [(team.id, team.name) for team in Team.select().order_by(Team.name)]

    def validate_share_with(self, field):  # not "team": that is the list's team filter
        if field.data is None:
            return
        if not self.can_share:
            raise ValidationError("Only sales managers can share a view with a team.")
        if field.data not in {value for value, _ in field.choices if value != ""}:
            raise ValidationError("Choose a team.")
