"""The leadflow app factory."""

from __future__ import annotations

import os
import secrets

from flask import Flask

DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "leadflow_session",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "WTF_CSRF_SSL_STRICT": False,  # the demo serves plain http on localhost
    "LOGIN_LIMIT_PER_CLIENT": "20 per minute",
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per minute",
    "PAGE_SIZE": 50,
    "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,  # request bodies (CSV uploads are checked at 10 MB)
    "QUEUE_PREFIX": "leadflow",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the app: read configuration from the environment (then ``config``),
    bind the database, attach extensions, blueprints and CLI commands."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(DEFAULTS)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or _instance_secret(app.instance_path),
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{os.path.join(app.instance_path, 'leadflow.db')}",
        REDIS_URL=os.environ.get("REDIS_URL"),
        QUEUE_PREFIX=os.environ.get("QUEUE_PREFIX") or DEFAULTS["QUEUE_PREFIX"],
    )
    for name in ("SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "REPLY_DOMAIN"):  # mail is optional
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if os.environ.get("SESSION_COOKIE_SECURE") == "0":
        app.config["SESSION_COOKIE_SECURE"] = False
    app.config.update(config or {})
    app.config.setdefault("SALES_READY_JOBS", ["routing.jobs.route_lead"])  # R1

    _bind(app)
    _register(app)
    return app


def _instance_secret(instance_path: str) -> str:
    """A per-install random secret kept in ``instance/`` when SECRET_KEY is unset."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    with open(path) as fh:
        return fh.read().strip()


def _bind(app: Flask) -> None:
    from leads.db import bind_database, db
    from leads.queue import redis_url
    from web.extensions import csrf, htmx, limiter

    bind_database(app.config["DATABASE_URL"])
    htmx.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app, redis_url))
    limiter.init_app(app)

    @app.before_request
    def _open_db():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        from leads.db import close_connection

        close_connection()  # back to the pool; PRAGMA optimize first on SQLite


def _limiter_storage(app: Flask, redis_url) -> str:
    url = redis_url(app)
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _register(app: Flask) -> None:
    from auth import policy
    from auth.admin_views import bp as admin_bp
    from auth.views import bp as auth_bp
    from leads.api import bp as api_bp
    from leads.cli import register_cli
    from leads.lead_views import bp as lead_bp
    from leads.marketing_views import bp as marketing_bp
    from leads.record_views import bp as records_bp
    from leads.views import bp as leads_bp
    from routing.views import bp as routing_bp
    from web import errors
    from web.extensions import csrf
    from web.security import set_security_headers

    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(leads_bp)
    app.register_blueprint(lead_bp)
    app.register_blueprint(marketing_bp)
    from leads.intake_views import bp as intake_bp

    app.register_blueprint(intake_bp)  # the capture view exempts itself from CSRF
    from leads.scoring_views import bp as scoring_bp

    app.register_blueprint(scoring_bp)
    from leads.import_views import bp as imports_bp
    from leads.import_views import exports_bp

    app.register_blueprint(imports_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(routing_bp)
    from routing.rule_views import bp as routing_rules_bp

    app.register_blueprint(routing_rules_bp)
    from leads.webhook_views import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    import leads.api_campaigns  # noqa: F401  (adds the campaign routes to the api blueprint)

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # token-authenticated, no cookies
    policy.init_app(app)
    errors.register(app)
    app.after_request(set_security_headers)
    register_cli(app)
