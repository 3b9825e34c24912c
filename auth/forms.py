"""Sign-in and account forms, and the admin's forms (users, teams, tokens,
qualification fields)."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from auth.admin import normalize_email
from auth.models import INTEGRATION, REP, ROLES, Team, User
from auth.passwords import MIN_LENGTH
from leads.core import validation
from leads.stages.fields import parse_choices
from leads.stages.models import QualificationField
from web.forms import PageForm


class LoginForm(PageForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class PasswordChangeForm(PageForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_LENGTH, max=1024, message=f"Use at least {MIN_LENGTH} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new_password", message="The two passwords differ.")],
    )


class EmptyForm(PageForm):
    """For POST-only buttons: carries the CSRF token and nothing else."""


# Admin: users, teams, API tokens ---------------------------------------------------


def _team_choices() -> list[tuple[str, str]]:
    return [("", "No team")] + [(str(team.id), team.name) for team in Team.select().order_by(Team.name)]


class UserProfileForm(PageForm):
    """What an admin may change on an existing user: name, role, team."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=list(ROLES.items()))
    team = SelectField("Team", choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.team.choices = _team_choices()

    @property
    def team_id(self) -> int | None:
        """The chosen team's id, or None for no team."""
        return int(self.team.data) if self.team.data else None


class UserCreateForm(UserProfileForm):
    """A new user: email (unique) and an initial password, except for API-only users."""

    role = SelectField("Role", choices=list(ROLES.items()), default=REP)  # the least powerful default

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Initial password", description="Leave empty for integration users.", validators=[Length(max=1024)]
    )

    def validate_email(self, field):
        checked = validation.check_email(field.data or "")
        if checked.reason:
            raise ValidationError(checked.reason)
        email = normalize_email(checked.value)
        if User.select().where(User.email == email).exists():
            raise ValidationError("A user with this email already exists.")

    def validate_password(self, field):
        if self.role.data == INTEGRATION:
            if field.data:
                raise ValidationError("Integration users have no password: issue them an API token.")
        elif len(field.data or "") < MIN_LENGTH:
            raise ValidationError(f"Use at least {MIN_LENGTH} characters.")


class PasswordResetForm(PageForm):
    password = PasswordField(
        "New password",
        validators=[
            DataRequired(),
            Length(min=MIN_LENGTH, max=1024, message=f"Use at least {MIN_LENGTH} characters."),
        ],
    )


class TeamForm(PageForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=100)])

    def __init__(self, *args, team_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team_id = team_id

    def validate_name(self, field):
        taken = Team.select().where((Team.name == field.data.strip()) & (Team.id != (self.team_id or 0)))
        if taken.exists():
            raise ValidationError("A team with this name already exists.")


class TokenForm(PageForm):
    token_name = StringField(
        "Token name",
        description="Where it is used, e.g. “Website forms”.",
        validators=[DataRequired(), Length(max=100)],
    )


# Admin: qualification fields (P5) ---------------------------------------------------


class QualificationFieldForm(PageForm):
    """What may change on a qualification field: everything but its key."""

    label = StringField("Label", validators=[DataRequired(), Length(max=100)])
    kind = SelectField("Kind", choices=list(QualificationField.KINDS.items()))
    choices = TextAreaField("Choices", description="One per line; only for “Choice” fields.")
    required = BooleanField("Required")

    @property
    def choice_list(self) -> list[str]:
        return parse_choices(self.choices.data)

    def validate_choices(self, field):
        choices = self.choice_list
        if self.kind.data != "select":
            return
        if not choices:
            raise ValidationError("A choice field needs at least one choice, one per line.")
        if len(set(choices)) != len(choices):
            raise ValidationError("Each choice may appear only once.")
        if any(len(choice) > 100 for choice in choices):
            raise ValidationError("Keep each choice under 100 characters.")


class QualificationFieldCreateForm(QualificationFieldForm):
    """A new field: its key is chosen once and never changes."""

    key = StringField(
        "Key",
        description="Lowercase letters, digits and _; cannot change later.",
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(
                r"^[a-z][a-z0-9_]*\Z", message="Use lowercase letters, digits and _, starting with a letter."
            ),
        ],
    )

    def validate_key(self, field):
        if QualificationField.select().where(QualificationField.key == field.data).exists():
            raise ValidationError("A field with this key already exists.")


class InteractionTypeForm(PageForm):
    """A custom interaction type (E3): checked by ``leads.core.interactions.check_custom``."""

    name = StringField(
        "Name",
        description="What integrations post as type, e.g. demo_requested: lower-case letters, digits and _.",
        validators=[DataRequired(), Length(max=50)],
    )
    label = StringField(
        "Label",
        description="What the scoring builder shows, e.g. Demo requested.",
        validators=[DataRequired(), Length(max=80)],
    )
