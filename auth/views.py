"""Sign in, sign out, change password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address

from auth.attempts import TooManyAttempts
from auth.forms import LoginForm, PasswordChangeForm
from auth.policy import current_user, public, signed_in
from auth.service import authenticate, change_password
from auth.sessions import end_session, start_session

bp = Blueprint("auth", __name__)


# What a browser's URL parser drops before reading a URL (WHATWG URL standard):
# ASCII tab, newline and carriage return anywhere, C0 controls and spaces at
# either end. "/\t/evil.example" is "//evil.example" to a browser.
_DROPPED = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def local_path(target: str | None) -> str | None:
    """``target`` as a browser would read it, if that is a path on this site
    (one leading "/", not "//" or "/\\", no scheme, no host); else None."""
    if not target:
        return None
    path = _DROPPED.sub("", target).strip(_C0_AND_SPACE)
    if _CONTROL.search(path):
        return None  # never put a control character in a Location header
    # Browsers read a backslash as a slash in http(s) URLs: "/\host" is "//host".
    seen = path.replace("\\", "/")
    if not seen.startswith("/") or seen.startswith("//"):
        return None
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return None
    return path


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("lead_list.index")


def _refused(refusal: TooManyAttempts, template: str, **context):
    """The form again with the refusal inline, 429 and when to retry."""
    response = make_response(render_template(template, **context), 429)
    response.headers["Retry-After"] = str(refusal.seconds)
    return response


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = authenticate(form.email.data, form.password.data, get_remote_address())
    except TooManyAttempts as refusal:
        return _refused(refusal, "auth/login.html", form=form, error=str(refusal))
    if user is None:
        return render_template("auth/login.html", form=form, error="Wrong email or password."), 401
    start_session(user)
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@public
def logout():
    end_session()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form)
    try:
        changed = change_password(current_user(), form.current_password.data, form.new_password.data)
    except TooManyAttempts as refusal:
        form.current_password.errors.append(str(refusal))
        return _refused(refusal, "auth/password.html", form=form)
    if not changed:
        form.current_password.errors.append("That is not your current password.")
        return render_template("auth/password.html", form=form)
    flash("Password changed. Your other sessions were signed out and any API tokens revoked.")
    return redirect(url_for("auth.password"))
