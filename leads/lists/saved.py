"""Saved views of the lead list (W5): a user keeps the current search,
filters, sort and columns under a name; a manager may share one with a team,
whose members then see it in their navigation. A view holds list arguments
only: opening it runs the list with the viewer's own record access (G1)."""

from __future__ import annotations

import peewee as pw

from auth.models import ADMIN, MANAGER, Team, User
from leads.base.db import utcnow
from leads.lists.models import SavedView
from leads.records.listing import ListParams

SHARERS = {MANAGER, ADMIN}
MAX_VIEWS = 50  # listed in the navigation


class NotASharer(PermissionError):
    """Only sales managers (and admins) share views with a team."""


def views_for(user: User):
    """The views ``user`` sees, by name: their own, and those shared with their team."""
    seen = SavedView.owner == user.id
    if user.team_id is not None:
        seen |= SavedView.team == user.team_id
    return (
        SavedView.select(SavedView, Team.id, Team.name)
        .join(Team, pw.JOIN.LEFT_OUTER, on=(SavedView.team == Team.id))
        .where(seen)
        .order_by(SavedView.name, SavedView.id)
        .limit(MAX_VIEWS)
    )


def save_view(user: User, name: str, params: ListParams, team_id: int | None = None) -> SavedView:
    """Keep ``params`` (its search, filters, sort and columns; not the page)
    as ``user``'s view ``name``, shared with ``team_id`` if given; saving again
    under a name replaces that view. ``NotASharer`` when a non-manager shares."""
    if team_id is not None and user.role not in SHARERS:
        raise NotASharer("Only sales managers can share a view with a team.")
    args = params.replace(page=1, sort=ListParams.sort, columns=()).to_query_args()
    now = utcnow()
    values = {
        SavedView.filters: {name: str(value) for name, value in args.items()},
        SavedView.sort: params.sort,
        SavedView.columns: list(params.columns),
        SavedView.team: team_id,
        SavedView.updated_at: now,
    }
    row = {SavedView.owner: user.id, SavedView.name: name, SavedView.created_at: now, **values}
    SavedView.insert(row).on_conflict(
        conflict_target=[SavedView.owner, SavedView.name], update=values
    ).execute()
    return SavedView.get((SavedView.owner == user.id) & (SavedView.name == name))


def delete_view(user: User, view_id: int) -> bool:
    """Delete ``user``'s own view ``view_id``; False when it is not theirs."""
    return SavedView.delete().where((SavedView.id == view_id) & (SavedView.owner == user.id)).execute() == 1


def list_args(view: SavedView) -> dict:
    """The lead list's query arguments that open ``view``."""
    args = dict(view.filters or {})
    if view.sort and view.sort != ListParams.sort:
        args["sort"] = view.sort
    if view.columns:
        args["columns"] = list(view.columns)
    return args
