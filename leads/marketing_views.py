"""Marketing records: product lines and campaigns (marketers and admins)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("marketing", __name__, url_prefix="/marketing")
