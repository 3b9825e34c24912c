"""The lead page: stage bar, stage panels, actions and the history timeline (P1–P8)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lead", __name__)
