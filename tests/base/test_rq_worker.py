"""S4: with REDIS_URL set, jobs run in any number of plain ``rq worker``
processes (JSON serializer, the app's worker class), not only the bundled one."""

from __future__ import annotations

import os
import subprocess
import sys

from leads.scoring.models import LeadScore
from tests.factories import ENGAGEMENT, make_contact, make_lead, make_user
from tests.scoring.test_scoring_pipeline import admin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_s4_a_plain_rq_worker_runs_the_scoring_jobs(app):
    marketer = make_user("marketer")
    lead = make_lead(contact=make_contact(job_title="Director of IT"))
    row = admin(app, "save_model", None, "Plain", "", ENGAGEMENT, marketer)
    admin(app, "set_model_status", row, "live", marketer)
    env = dict(
        os.environ,
        DATABASE_URL=app.config["DATABASE_URL"],
        REDIS_URL=app.config["REDIS_URL"],
        QUEUE_PREFIX=app.config["QUEUE_PREFIX"],
        SECRET_KEY="rq-worker-test",
    )
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    done = subprocess.run(
        [
            rq,
            "worker",
            "--burst",
            "-w",
            "app.AppWorker",
            "-S",
            "json",
            "-u",
            app.config["REDIS_URL"],
            f"{app.config['QUEUE_PREFIX']}-default",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert LeadScore.get(lead=lead, model=row).score == 20
