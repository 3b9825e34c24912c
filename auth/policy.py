"""The one authorization chokepoint.

Every route declares who may call it with ``@allow(...)``, ``@signed_in``,
``@public`` or ``@api(...)``. A ``before_request`` hook reads that declaration
and refuses everything else; a route that declares nothing is refused (and a
test fails if any route in the URL map has no policy). Record-level access
(a rep sees only their own leads, a teleprospector those in stages 3–4, and
each only the contacts and accounts of those) is the job of
``leads.records.queries.visible_leads``, ``visible_contacts`` and ``visible_accounts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, g, redirect, request, url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from auth import models as roles
from auth.sessions import session_user, token_user

ALL_WEB_ROLES = frozenset({roles.ADMIN, roles.MARKETER, roles.MANAGER, roles.TELEPROSPECTOR, roles.REP})


@dataclass(frozen=True)
class Policy:
    roles: frozenset = frozenset()
    public: bool = False
    api: bool = False


def _declare(policy: Policy):
    def decorate(view):
        view.policy = policy
        return view

    return decorate


def allow(*role_names: str):
    """Only signed-in users with one of ``role_names`` may call this page or fragment."""
    return _declare(Policy(roles=frozenset(role_names)))


def signed_in(view):
    """Any signed-in web user may call this."""
    return _declare(Policy(roles=ALL_WEB_ROLES))(view)


def public(view):
    """Anyone may call this (sign-in page, health check, OpenAPI document)."""
    return _declare(Policy(public=True))(view)


def api(*role_names: str):
    """A JSON API route, token-authenticated, for users with one of ``role_names``."""
    return _declare(Policy(roles=frozenset(role_names), api=True))


def policy_for(endpoint: str) -> Policy | None:
    """The declared policy of ``endpoint`` (``static`` is public)."""
    if endpoint == "static":
        return Policy(public=True)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "policy", None)


def enforce():
    """before_request: authenticate, then allow or refuse per the route's policy."""
    g.user = None
    if request.endpoint is None:
        return None  # 404 / 405 answer on their own
    declared = policy_for(request.endpoint)
    if declared is None:
        current_app.logger.error("route %s declares no policy; refused", request.endpoint)
        abort(403)
    if declared.api:
        g.user = token_user()
    elif request.endpoint != "static":
        g.user = session_user()
    if declared.public:
        return None
    if g.user is None:
        if declared.api:
            raise Unauthorized(
                "A valid API token is required (Authorization: Bearer …).",
                www_authenticate=WWWAuthenticate("Bearer"),  # RFC 6750: say which scheme
            )
        return _to_login()
    if g.user.role not in declared.roles:
        abort(403, "Your role does not allow this.")
    return None


def _to_login():
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if request.htmx:
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def current_user():
    """The signed-in user of this request, or None."""
    return g.get("user")


def init_app(app) -> None:
    """Install the chokepoint and expose ``current_user`` to templates."""
    app.before_request(enforce)
    app.context_processor(lambda: {"current_user": g.get("user")})
