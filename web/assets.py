"""Static files a browser keeps for a year (O3): every page links its script and
style by a content hash, so a new release changes the URL and nothing stale is
ever served, while an unchanged file is never asked for again.

The style sheets (``static/app.css`` then each area's ``static/css/*.css``)
are served as one file, ``/assets/app-<hash>.css``, built once per process:
one request instead of one per sheet on a first visit. Scripts keep their
``/static/...`` URL with ``?v=<hash>``; the security headers' hook marks those
answers immutable (``cache_headers``).

Flask-Assets or webassets would add a build step and a cache directory for a
concatenation of a few small files; hashing them at start-up is all this needs.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache

from flask import Blueprint, Response, abort, current_app, request, url_for

from auth.policy import public

STYLE_SHEETS = ("app.css",) + tuple(
    f"css/{name}.css"
    for name in (
        "list", "lead", "admin", "campaigns", "routing", "scoring", "intake", "imports", "reports",
        "marketing-dashboard",
    )
)
YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"

bp = Blueprint("assets", __name__, url_prefix="/assets")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@cache
def _bundle(static_folder: str) -> tuple[str, bytes]:
    """The style sheets in order, as one file, and its hash."""
    parts = []
    for name in STYLE_SHEETS:
        with open(os.path.join(static_folder, name), "rb") as sheet:
            parts.append(b"/* " + name.encode() + b" */\n" + sheet.read())
    body = b"\n".join(parts)
    return _digest(body), body


@cache
def _file_hash(static_folder: str, filename: str) -> str:
    with open(os.path.join(static_folder, filename), "rb") as handle:
        return _digest(handle.read())


def style_url() -> str:
    """The URL of the style sheets' bundle (changes when any sheet does)."""
    digest, _body = _bundle(current_app.static_folder)
    return url_for("assets.styles", digest=digest)


def static_url(filename: str) -> str:
    """``/static/<filename>?v=<hash of its content>``."""
    return url_for("static", filename=filename, v=_file_hash(current_app.static_folder, filename))


@bp.route("/app-<digest>.css")
@public
def styles(digest: str):
    """The style sheets' bundle; an old hash is a 404 (the page asking for it is stale)."""
    current, body = _bundle(current_app.static_folder)
    if digest != current:
        abort(404)
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def cache_headers(response):
    """after_request: a static file asked for by its current hash is immutable."""
    if request.endpoint == "static" and response.status_code == 200:
        filename = (request.view_args or {}).get("filename", "")
        version = request.args.get("v")
        try:
            fresh = version is not None and version == _file_hash(current_app.static_folder, filename)
        except OSError:
            fresh = False
        if fresh:
            response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_app(app) -> None:
    """The template helpers and the caching hook."""
    app.jinja_env.globals.update(style_url=style_url, static_url=static_url)
    app.after_request(cache_headers)
