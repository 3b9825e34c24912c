"""Benchmark of the public capture endpoint (C3, M1–M5): submissions per second.

Builds a fresh SQLite file, migrates it, creates a landing-page source (contact
by email, lead by email + source form, fill-blanks policy), then posts form
submissions through the Flask test client (the whole request: rate limiter,
matching, contact and lead writes, timeline rows, the interaction and the
scoring job enqueued on the local Redis):

- **new people**: every submission a new email (creates a contact and a lead);
- **all matching**: the same emails again (matches both, updates per policy).

Run from the repository root:  .venv/bin/python bench/capture.py [--submissions N]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

REDIS_URL = os.environ.get("LEADFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _app(path: str):
    from app import create_app
    from leads.base.migrate import upgrade

    prefix = f"bench-capture-{secrets.token_hex(4)}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": secrets.token_hex(16),
            "DATABASE_URL": f"sqlite:///{path}",
            "REDIS_URL": REDIS_URL,
            "QUEUE_PREFIX": prefix,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATELIMIT_ENABLED": False,  # measuring the work, not the limiter's refusals
        }
    )
    with app.app_context():
        upgrade()
    return app, prefix


def _run(client, key: str, emails: list[str], phase: str) -> float:
    start = time.perf_counter()
    for n, email in enumerate(emails):
        data = {
            "first_name": f"Person{n}",
            "last_name": "Bench",
            "email": email,
            "company": f"Company {n % 97}",
            "phone": f"+33 6 12 {n // 10000 % 100:02d} {n // 100 % 100:02d} {n % 100:02d}",
            "consent": "yes",
            "message": "I would like a demo.",
        }
        response = client.post(f"/capture/{key}", data=data)
        if response.status_code != 303:
            raise SystemExit(f"{phase}: submission {n} answered {response.status_code}")
    return time.perf_counter() - start


def _clear_redis(app, prefix: str) -> None:
    from leads.base.queue import get_redis

    with app.app_context():
        conn = get_redis(app)
        keys = list(conn.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            conn.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-capture-") as tmp:
        app, prefix = _app(os.path.join(tmp, "capture.db"))
        try:
            from leads.intake import manage
            from leads.records.models import Contact, Interaction, Lead

            with app.app_context():
                source = manage.save_source(
                    {
                        "name": "Bench form",
                        "kind": "form",
                        "field_mapping": {},
                        "contact_strategies": [],
                        "lead_strategies": [],
                        "creates_lead": True,
                        "update_policy": "fill_empty",
                        "thank_you_url": "/thanks",
                        "active": True,
                    }
                )
            client = app.test_client()
            emails = [f"person{n}@bench.example" for n in range(args.submissions)]
            new_s = _run(client, source.key, emails, "new people")
            match_s = _run(client, source.key, [e.upper() for e in emails], "all matching")
            with app.app_context():
                totals = (Contact.select().count(), Lead.select().count(), Interaction.select().count())
        finally:
            _clear_redis(app, prefix)
    n = args.submissions
    print(
        f"capture benchmark — SQLite, Flask test client, {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print(f"{'case':<16}{'submissions':>12}{'seconds':>10}{'per second':>12}{'ms each':>10}")
    for name, seconds in (("new people", new_s), ("all matching", match_s)):
        print(f"{name:<16}{n:>12}{seconds:>10.2f}{n / seconds:>12.0f}{seconds / n * 1000:>10.2f}")
    print(f"contacts {totals[0]}, leads {totals[1]}, interactions {totals[2]} (expected {n}, {n}, {2 * n})")


if __name__ == "__main__":
    main()
