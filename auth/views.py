"""Sign in, sign out, change password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from auth.forms import LoginForm, PasswordChangeForm
from auth.policy import current_user, public, signed_in
from auth.service import authenticate, change_password
from auth.sessions import end_session, start_session
from web.extensions import limiter, login_account_key

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("lead_list.index")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_CLIENT"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=login_account_key
)
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong email or password."
    return render_template("auth/login.html", form=form, error=error), 200 if not error else 401


@bp.route("/logout", methods=["POST"])
@public
def logout():
    end_session()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if change_password(current_user(), form.current_password.data, form.new_password.data):
            flash("Password changed. Your other sessions were signed out.")
            return redirect(url_for("auth.password"))
        form.current_password.errors.append("That is not your current password.")
    return render_template("auth/password.html", form=form)


@bp.route("/healthz")
@public
def health():
    return {"ok": True}
