"""The leadflow app factory."""

from __future__ import annotations

import os
import secrets

from flask import Flask, request

from leads.base import logs
from leads.base.worker import ContextWorker

DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "leadflow_session",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "WTF_CSRF_SSL_STRICT": False,  # the demo serves plain http on localhost
    # Failed sign-ins (auth/attempts.py): one account from one client, one client on
    # any accounts, and one account from every client together, loose so that an
    # attacker elsewhere cannot lock its owner out.
    "LOGIN_LIMIT_PER_ACCOUNT_CLIENT": "5 per minute",
    "LOGIN_LIMIT_PER_CLIENT": "20 per minute",
    "LOGIN_LIMIT_PER_ACCOUNT": "30 per minute",
    "PASSWORD_CHECK_LIMIT": "5 per 15 minutes",  # wrong current passwords, per user
    "PAGE_SIZE": 50,
    "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,  # request bodies (CSV uploads are checked at 10 MB)
    "QUEUE_PREFIX": "leadflow",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the app: read configuration from the environment (then ``config``),
    bind the database, attach extensions, blueprints and CLI commands."""
    instance_path = os.environ.get("INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(DEFAULTS)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or _instance_secret(app.instance_path),
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{os.path.join(app.instance_path, 'leadflow.db')}",
        REDIS_URL=os.environ.get("REDIS_URL"),
        QUEUE_PREFIX=os.environ.get("QUEUE_PREFIX") or DEFAULTS["QUEUE_PREFIX"],
        METRICS_TOKEN=os.environ.get("METRICS_TOKEN") or None,  # unset: /metrics for this machine only
    )
    optional = ("SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "REPLY_DOMAIN", "LOG_FORMAT", "LOG_LEVEL")
    for name in optional:  # mail is optional; logs are key=value lines at INFO unless said
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    # G1: webhooks post only to public addresses unless the install says otherwise.
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = os.environ.get("WEBHOOK_ALLOW_PRIVATE_TARGETS") == "1"
    if os.environ.get("SESSION_COOKIE_SECURE") == "0":
        app.config["SESSION_COOKIE_SECURE"] = False
    # O3: how many reverse proxies stand in front (their X-Forwarded-* are
    # believed, no others), and the address people reach the install at.
    app.config["TRUSTED_PROXIES"] = int(os.environ.get("TRUSTED_PROXIES") or 0)
    app.config["PUBLIC_URL"] = os.environ.get("PUBLIC_URL") or None
    app.config.update(config or {})
    _behind_proxies(app)
    logs.configure(app)

    _bind(app)
    _register(app)
    _connect_follow_ups()
    return app


def _behind_proxies(app: Flask) -> None:
    """Check ``PUBLIC_URL``, and believe the X-Forwarded-For, -Proto and -Host
    of exactly ``TRUSTED_PROXIES`` proxies: the client address that rate
    limits, sign-in limits and logs see, and whether the request was https,
    are then the real ones; with 0 a forged header changes nothing."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from leads.base.urls import check_public_url

    app.config["PUBLIC_URL"] = check_public_url(app.config.get("PUBLIC_URL"))
    count = int(app.config.get("TRUSTED_PROXIES") or 0)
    if count < 0:
        raise ValueError("TRUSTED_PROXIES is a number of proxies: 0 or more")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def _connect_follow_ups() -> None:
    """O1: the follow-ups connect to the domain's signals once, here (connecting
    the same receiver again is a no-op, so every app of a process shares them)."""
    from campaigns import requests as campaign_requests
    from leads.notify import services as notifications
    from leads.scoring import jobs as scoring
    from leads.webhooks import delivery as webhooks
    from reports.marketing import jobs as marketing_reports
    from reports.sales import jobs as sales_reports
    from routing import jobs as routing

    for area in (scoring, webhooks, notifications, routing, campaign_requests, sales_reports, marketing_reports):
        area.connect()


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
    from leads.base.db import bind_database, db
    from leads.base.queue import redis_url
    from web.extensions import csrf, htmx, limiter

    bind_database(app.config["DATABASE_URL"])
    htmx.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app, redis_url))
    # Installs sharing one Redis never share counts: the keys start with the install's prefix.
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["QUEUE_PREFIX"])
    limiter.init_app(app)

    from ops.views import PROBES

    @app.before_request
    def _open_db():
        if request.endpoint not in PROBES:  # a probe answers "failing", never a 500
            db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        from leads.base.db import close_connection

        close_connection()  # back to the pool; PRAGMA optimize first on SQLite


def _limiter_storage(app: Flask, redis_url) -> str:
    url = redis_url(app)
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _blueprints() -> list:
    """Every blueprint of the app, in one list (each module defines its own)."""
    from auth.admin_views import bp as admin
    from auth.views import bp as sign_in
    from campaigns.api import bp as campaigns_api
    from campaigns.views import bp as campaigns
    from leads.activities.api import bp as activities_api
    from leads.activities.views import bp as activities
    from leads.api.views import bp as api
    from leads.imports.views import bp as imports
    from leads.imports.views import exports_bp as exports
    from leads.intake.views import bp as intake  # the capture view exempts itself from CSRF
    from leads.lists.views import bp as lead_lists
    from leads.notify.views import bp as notify
    from leads.records.list_views import bp as lead_list
    from leads.records.views import bp as records
    from leads.scoring.views import bp as scoring
    from leads.stages.views import bp as lead_page
    from leads.webhooks.views import bp as webhooks
    from ops.views import bp as ops
    from reports.marketing.views import bp as marketing_dashboard
    from reports.sales.views import bp as sales_dashboard
    from routing.queue_views import bp as queues
    from routing.rule_views import bp as routing_rules
    from web.assets import bp as assets

    return [
        assets,
        sign_in,
        admin,
        lead_list,
        lead_lists,
        lead_page,
        activities,
        campaigns,
        intake,
        scoring,
        imports,
        exports,
        records,
        queues,
        routing_rules,
        sales_dashboard,
        notify,
        webhooks,
        marketing_dashboard,
        api,
        campaigns_api,
        activities_api,
        ops,
    ]


API_BLUEPRINTS = ("api", "campaigns_api", "activities_api")  # token-authenticated, no cookies: no CSRF


def _register(app: Flask) -> None:
    from auth import policy
    from leads.records import interaction_types
    from ops import metrics
    from ops.cli import register_cli
    from web import assets, errors, request_log
    from web.converters import BoundedIntConverter
    from web.extensions import csrf
    from web.security import set_security_headers

    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    request_log.init_app(app)
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
        if blueprint.name in API_BLUEPRINTS:
            csrf.exempt(blueprint)
    _retry_deadlocks(app)
    metrics.init_app(app)  # first, so the time counted includes the chokepoint
    policy.init_app(app)
    errors.register(app)
    app.after_request(set_security_headers)
    assets.init_app(app)
    app.jinja_env.globals["interaction_label"] = interaction_types.label  # "Website visited", not web_visit
    register_cli(app)


def _retry_deadlocks(app: Flask) -> None:
    """O2: every API call is run again, whole, when PostgreSQL ends its
    transaction with a deadlock or a serialization failure (concurrent
    integrations writing the same rows): it was rolled back, so trying again is
    safe, and a 500 for it is not. Past the retries it is a 503 with
    Retry-After (``web.errors``)."""
    from leads.base.db import retrying

    for endpoint, view in list(app.view_functions.items()):
        if endpoint.split(".", 1)[0] in API_BLUEPRINTS:
            app.view_functions[endpoint] = retrying(view)


class AppWorker(ContextWorker):
    """The worker class for plain ``rq worker`` processes: it builds the app
    from the environment on its first job (see ``leads.base.worker.ContextWorker``):

        rq worker -w app.AppWorker -S rq.serializers.JSONSerializer \\
            --with-scheduler leadflow-default
    """

    @staticmethod
    def make_app():
        return create_app()
