"""Admin pages: users, teams, API tokens, qualification fields, interaction types (G1, P5, E3).

Every write answers an htmx request with the region it changed (422 with inline
errors for invalid input, 409 for a refused change) and a plain form post with a
redirect, so each page also works without JavaScript. CSRF is checked for every
POST by ``CSRFProtect``; the one-button forms only carry the token.
"""

from __future__ import annotations

from flask import Blueprint, abort, request

from auth import admin
from auth.admin import AdminError
from auth.forms import (
    InteractionTypeForm,
    PasswordResetForm,
    QualificationFieldCreateForm,
    QualificationFieldForm,
    TeamForm,
    TokenForm,
    UserCreateForm,
    UserProfileForm,
)
from auth.models import ADMIN, ApiToken, Team, User
from auth.policy import allow, current_user
from leads.core.interactions import BUILT_IN
from leads.records import interaction_types
from leads.records.models import CustomInteractionType
from leads.stages import fields as fields
from leads.stages.models import QualificationField
from web import crud
from web.crud import get_or_404, reason_on, saved
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("admin", __name__, url_prefix="/admin")


# Users ------------------------------------------------------------------------


def _users_page(form=None, notice=None, status=200):
    return render(
        "admin/users.html",
        "admin/_users.html",
        status,
        users=list(admin.users_overview()),
        form=form or UserCreateForm(formdata=None),
        notice=notice,
    )


@bp.route("/users")
@allow(ADMIN)
def users():
    return _users_page()


@bp.route("/users", methods=["POST"])
@allow(ADMIN)
def create_user():
    form = UserCreateForm()
    return crud.create(
        form,
        lambda: admin.create_user(
            form.email.data,
            form.name.data,
            form.role.data,
            form.password.data or None,
            Team.get_or_none(Team.id == form.team_id) if form.team_id else None,
        ),
        _users_page,
        lambda user: f"{user.name} was added.",
        "admin.users",
        refused=AdminError,
        show=reason_on("email"),
    )


def _user_page(user_id: int, region: str = "profile", status: int = 200, **context):
    """The user page, or one of its regions (profile, password, tokens) for htmx."""
    user = get_or_404(User, user_id)
    context.setdefault(
        "profile_form",
        UserProfileForm(
            formdata=None, data={"name": user.name, "role": user.role, "team": str(user.team_id or "")}
        ),
    )
    context.setdefault("password_form", PasswordResetForm(formdata=None))
    context.setdefault("token_form", TokenForm(formdata=None))
    return render(
        "admin/user.html",
        f"admin/_user_{region}.html",
        status,
        user=user,
        tokens=list(admin.tokens_of(user)),
        notices=context.pop("notices", {}),
        alerts=context.pop("alerts", {}),
        **context,
    )


@bp.route("/users/<int:user_id>")
@allow(ADMIN)
def user(user_id):
    return _user_page(user_id)


@bp.route("/users/<int:user_id>", methods=["POST"])
@allow(ADMIN)
def update_user(user_id):
    target = get_or_404(User, user_id)
    form = UserProfileForm()
    if not form.validate_on_submit():
        return _user_page(user_id, status=422, profile_form=form)
    try:
        admin.update_user(target, form.name.data, form.role.data, form.team_id)
    except AdminError as error:
        return _user_page(user_id, status=409, profile_form=form, alerts={"profile": str(error)})
    notices = {"profile": "Changes saved."}
    return saved(
        notices["profile"], lambda: _user_page(user_id, notices=notices), "admin.user", user_id=user_id
    )


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"], defaults={"active": False})
@bp.route("/users/<int:user_id>/reactivate", methods=["POST"], defaults={"active": True})
@allow(ADMIN)
def set_user_active(user_id, active):
    """G1: deactivation ends the user's sessions and revokes their API tokens at once.
    Answers the list row or the profile region, whichever the request targets."""
    target = get_or_404(User, user_id)
    alert, status = None, 200
    try:
        admin.set_active(target, active)
    except AdminError as error:
        alert, status = str(error), 409
    if wants_fragment() and request.htmx.target == f"user-{user_id}":
        row = admin.users_overview().where(User.id == user_id).get()
        return render_fragment("admin/_user_row.html", status, user=row, alert=alert)
    if alert:
        return _user_page(user_id, status=status, alerts={"profile": alert})
    message = f"{target.name} was {'reactivated' if active else 'deactivated'}."
    return saved(
        message, lambda: _user_page(user_id, notices={"profile": message}), "admin.user", user_id=user_id
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@allow(ADMIN)
def reset_password(user_id):
    """A new password set by an admin; the user's sessions end."""
    target = get_or_404(User, user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        return _user_page(user_id, "password", 422, password_form=form)
    try:
        admin.reset_password(target, form.password.data)
    except AdminError as error:
        return _user_page(user_id, "password", 409, alerts={"password": str(error)})
    notices = {"password": "Password reset; the user's sessions and API tokens were ended."}
    return saved(
        notices["password"],
        lambda: _user_page(user_id, "password", notices=notices),
        "admin.user",
        user_id=user_id,
    )


# API tokens ---------------------------------------------------------------------


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
@allow(ADMIN)
def issue_token(user_id):
    """A new API token, shown in this answer only (never stored in plain, never cached)."""
    target = get_or_404(User, user_id)
    form = TokenForm()
    if not form.validate_on_submit():
        return _user_page(user_id, "tokens", 422, token_form=form)
    token = admin.issue_api_token(target, form.token_name.data)
    response = _user_page(user_id, "tokens", new_token=token, new_token_name=form.token_name.data.strip())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@allow(ADMIN)
def revoke_token(user_id, token_id):
    target = get_or_404(User, user_id)
    if ApiToken.get_or_none((ApiToken.id == token_id) & (ApiToken.user == user_id)) is None:
        abort(404)
    admin.revoke_api_token(target, token_id)
    notices = {"tokens": "Token revoked."}
    return saved(
        notices["tokens"],
        lambda: _user_page(user_id, "tokens", notices=notices),
        "admin.user",
        user_id=user_id,
    )


# Teams ------------------------------------------------------------------------


def _teams_page(form=None, renamed: TeamForm | None = None, notice=None, status=200):
    teams = list(admin.teams_overview())
    rename_forms = {team.id: TeamForm(formdata=None, data={"name": team.name}) for team in teams}
    if renamed is not None:
        rename_forms[renamed.team_id] = renamed
    return render(
        "admin/teams.html",
        "admin/_teams.html",
        status,
        teams=teams,
        form=form or TeamForm(formdata=None),
        rename_forms=rename_forms,
        notice=notice,
    )


@bp.route("/teams")
@allow(ADMIN)
def teams():
    return _teams_page()


@bp.route("/teams", methods=["POST"])
@allow(ADMIN)
def create_team():
    form = TeamForm()
    return crud.create(
        form,
        lambda: admin.create_team(form.name.data),
        _teams_page,
        lambda team: f"Team {team.name} was added.",
        "admin.teams",
        refused=AdminError,
        show=reason_on("name"),
    )


@bp.route("/teams/<int:team_id>", methods=["POST"])
@allow(ADMIN)
def rename_team(team_id):
    team = get_or_404(Team, team_id)
    form = TeamForm(team_id=team.id)
    renamed = crud.store(form, lambda: admin.rename_team(team, form.name.data), AdminError, reason_on("name"))
    if renamed is crud.NOT_STORED:
        return _teams_page(renamed=form, status=422)
    message = "Team renamed."
    return saved(message, lambda: _teams_page(notice=message), "admin.teams")


# Qualification fields (P5) --------------------------------------------------------


def _fields_page(form=None, notice=None, status=200):
    return render(
        "admin/qualification_fields.html",
        "admin/_qualification_fields.html",
        status,
        fields=list(fields.ordered_fields()),
        kinds=QualificationField.KINDS,
        form=form or QualificationFieldCreateForm(formdata=None),
        notice=notice,
    )


@bp.route("/qualification-fields")
@allow(ADMIN)
def qualification_fields():
    return _fields_page()


@bp.route("/qualification-fields", methods=["POST"])
@allow(ADMIN)
def add_qualification_field():
    form = QualificationFieldCreateForm()
    return crud.create(
        form,
        lambda: fields.add_field(
            form.key.data, form.label.data, form.kind.data, form.choice_list, form.required.data
        ),
        _fields_page,
        lambda field: f"Field {field.label} was added at the end of the form.",
        "admin.qualification_fields",
        refused=fields.FieldError,
        show=reason_on("key"),
    )


def _field_page(field: QualificationField, form=None, notice=None, status=200):
    data = {"label": field.label, "kind": field.kind, "choices": "\n".join(field.choices or [])}
    return render(
        "admin/qualification_field.html",
        "admin/_qualification_field_form.html",
        status,
        field=field,
        form=form or QualificationFieldForm(formdata=None, data={**data, "required": field.required}),
        notice=notice,
    )


@bp.route("/qualification-fields/<int:field_id>")
@allow(ADMIN)
def qualification_field(field_id):
    return _field_page(get_or_404(QualificationField, field_id))


@bp.route("/qualification-fields/<int:field_id>", methods=["POST"])
@allow(ADMIN)
def update_qualification_field(field_id):
    """P5: label, kind, choices and required change; the key never does."""
    field = get_or_404(QualificationField, field_id)
    form = QualificationFieldForm()
    return crud.update(
        field,
        form,
        lambda: fields.update_field(
            field, form.label.data, form.kind.data, form.choice_list, form.required.data
        ),
        _field_page,
        "admin.qualification_field",
        field_id=field_id,
    )


@bp.route("/qualification-fields/<int:field_id>/move-up", methods=["POST"], defaults={"step": -1})
@bp.route("/qualification-fields/<int:field_id>/move-down", methods=["POST"], defaults={"step": 1})
@allow(ADMIN)
def move_qualification_field(field_id, step):
    field = get_or_404(QualificationField, field_id)
    fields.move_field(field, step)
    return saved("Order changed.", _fields_page, "admin.qualification_fields")


@bp.route("/qualification-fields/<int:field_id>/deactivate", methods=["POST"], defaults={"active": False})
@bp.route("/qualification-fields/<int:field_id>/reactivate", methods=["POST"], defaults={"active": True})
@allow(ADMIN)
def set_qualification_field_active(field_id, active):
    """P5: an inactive field leaves the teleprospectors' form; stored values stay."""
    field = get_or_404(QualificationField, field_id)
    fields.set_field_active(field, active)
    message = f"Field {field.label} is {'shown again' if active else 'hidden from the form'}."
    return saved(message, lambda: _fields_page(notice=message), "admin.qualification_fields")


# Interaction types (E3, S2) ------------------------------------------------------


def _types_page(form=None, notice=None, status=200):
    custom = list(interaction_types.custom_types())
    return render(
        "admin/interaction_types.html",
        "admin/_interaction_types.html",
        status,
        built_in=BUILT_IN,
        custom=custom,
        counts=interaction_types.stored_counts([*BUILT_IN, *(row.name for row in custom)]),
        form=form or InteractionTypeForm(formdata=None),
        notice=notice,
    )


@bp.route("/interaction-types")
@allow(ADMIN)
def interaction_types_page():
    """The built-in interaction types and the custom ones, with how many are stored."""
    return _types_page()


def _show_refusal(form, error: interaction_types.RefusedType) -> None:
    for name, reason in error.errors:
        getattr(form, name).errors.append(reason)


@bp.route("/interaction-types", methods=["POST"])
@allow(ADMIN)
def add_interaction_type():
    form = InteractionTypeForm()
    return crud.create(
        form,
        lambda: interaction_types.add_custom_type(form.name.data, form.label.data, current_user()),
        _types_page,
        lambda row: f"Type {row.name} was added: integrations may post it, scoring rules may count it.",
        "admin.interaction_types_page",
        refused=interaction_types.RefusedType,
        show=_show_refusal,
    )


@bp.route("/interaction-types/<int:type_id>/delete", methods=["POST"])
@allow(ADMIN)
def remove_interaction_type(type_id):
    row = get_or_404(CustomInteractionType, type_id)
    interaction_types.remove_custom_type(row)
    message = f"Type {row.name} was removed: new interactions of it are refused; stored ones stay."
    return saved(message, lambda: _types_page(notice=message), "admin.interaction_types_page")
