"""Flask CLI commands: migrations, demo data, the worker and the all-in-one server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import current_app


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
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", "web_workers", default=2, show_default=True)
def serve(host, port, web_workers):
    """Run web (gunicorn) and one RQ worker together, on the embedded Redis unless REDIS_URL is set."""
    from leads.base.queue import redis_url

    env = dict(os.environ, REDIS_URL=redis_url(current_app))
    env.setdefault("SESSION_COOKIE_SECURE", "0" if host in ("127.0.0.1", "localhost") else "1")
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=env.get("PROMETHEUS_MULTIPROC_DIR") or _metrics_dir())
    children = [
        subprocess.Popen([*flask, "worker"], env=env),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(web_workers),
                "-b",
                f"{host}:{port}",
                "app:create_app()",
            ],
            env=web_env,
        ),
    ]
    click.echo(f"leadflow on http://{host}:{port}  (Ctrl-C stops web and worker)")
    try:
        for child in children:
            child.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=10)


def _metrics_dir() -> str:
    """An empty ``instance/metrics`` where the web processes keep their request
    counts, so a scrape sums them all (``ops.metrics``); emptied at each start."""
    import shutil

    folder = os.path.join(current_app.instance_path, "metrics")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder
