"""Work queues: teleprospectors', reps' and the managers' unassigned queue."""

from __future__ import annotations

from flask import Blueprint

from auth.models import ADMIN, MANAGER, REP, TELEPROSPECTOR
from auth.policy import allow

bp = Blueprint("routing", __name__)


@bp.route("/queues/teleprospecting")
@allow(TELEPROSPECTOR, MANAGER, ADMIN)
def teleprospecting():
    return "TODO"


@bp.route("/queues/mine")
@allow(REP)
def my_queue():
    return "TODO"


@bp.route("/queues/unassigned")
@allow(MANAGER, ADMIN)
def unassigned():
    return "TODO"
