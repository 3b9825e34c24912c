"""S4: with REDIS_URL set, jobs run in any number of plain ``rq worker``
processes (JSON serializer, the app's worker class), not only the bundled one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from leads.scoring.models import LeadScore
from tests.factories import ENGAGEMENT, make_contact, make_lead, make_user
from tests.scoring.test_scoring_pipeline import admin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_in_own_group(command: list[str], cwd: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run`` with the output captured, in a process group of its
    own that is killed as a whole at the end (even on a timeout), so no child
    of the worker outlives the test."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


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
    done = _run_in_own_group(
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
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert LeadScore.get(lead=lead, model=row).score == 20
