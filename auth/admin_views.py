"""Admin pages: users, API tokens, qualification fields."""

from __future__ import annotations

from flask import Blueprint

from auth.models import ADMIN
from auth.policy import allow

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@allow(ADMIN)
def users():
    return "TODO"


@bp.route("/qualification-fields")
@allow(ADMIN)
def qualification_fields():
    return "TODO"
