"""JSON API v1 (token-authenticated)."""

from __future__ import annotations

from flask import Blueprint

from auth.policy import public

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/openapi.json")
@public
def openapi():
    return {"openapi": "3.1.0"}
