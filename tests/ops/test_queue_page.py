"""O3: the admins' queue page. A job that really failed in a real RQ worker is
listed with its function, the last line of its error (escaped) and when; Retry
puts it back in its queue, Delete forgets it; nobody but an admin gets the page
or either button."""

from __future__ import annotations

import threading
import time

import pytest
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.base.queue import QUEUE_NAMES, get_queue, get_redis
from tests.factories import csrf_token, login, make_user
from tests.faults.harness import wait_for

JOB_ID = "queue-page-fails"


def waits(key: str):
    """A job that runs until ``key`` is set in Redis (at most 20 s)."""
    from rq import get_current_job

    connection = get_current_job().connection
    deadline = time.monotonic() + 20
    while not connection.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)


def fails():
    """A job that fails with markup in its message (run by ``run_jobs``'s real worker)."""
    raise RuntimeError("<b>no such mailbox</b> & more")


@pytest.fixture
def failed_job(app, run_jobs):
    """The id of a job that failed in a real worker, in the default queue's failed registry."""
    with app.app_context():
        get_queue("default").enqueue(f"{__name__}.fails", job_id=JOB_ID)
    run_jobs()
    with app.app_context():
        assert JOB_ID in get_queue("default").failed_job_registry
    return JOB_ID


def _admin(app):
    client = login(app.test_client(), make_user(ADMIN))
    return client, {"X-CSRFToken": csrf_token(client), "HX-Request": "true"}


def test_a_job_that_failed_in_a_worker_is_listed_with_its_error_escaped(app, failed_job):
    client, _ = _admin(app)
    html = client.get("/admin/queues").get_data(as_text=True)
    assert failed_job in html and f"{__name__}.fails" in html
    assert "RuntimeError: &lt;b&gt;no such mailbox&lt;/b&gt; &amp; more" in html
    assert "<b>no such mailbox" not in html
    assert "Traceback" not in html  # the last line only
    assert 'href="/admin/queues"' in html  # linked from the admin navigation
    assert html.count(">Retry<") == 1 and html.count(">Delete<") == 1


def test_failed_jobs_of_every_queue_are_listed_newest_first(app, failed_job, run_jobs):
    time.sleep(0.01)  # RQ keeps times to the microsecond: the second failure is later
    with app.app_context():
        get_queue("routing").enqueue(f"{__name__}.fails", job_id="queue-page-fails-later")
    run_jobs()
    client, _ = _admin(app)
    html = client.get("/admin/queues").get_data(as_text=True)
    assert html.index("queue-page-fails-later<br>") < html.index(f"{failed_job}<br>")
    assert f"{__name__}.fails · routing" in html and f"{__name__}.fails · default" in html
    assert '<tr id="queue-routing"><td>routing</td><td class="num">0</td><td class="num">1</td>' in html


def test_queue_depths_and_the_workers_are_shown(app):
    with app.app_context():
        for n in range(3):
            get_queue("routing").enqueue("routing.jobs.route_lead", n, job_id=f"queue-page-wait-{n}")
        worker = Worker([get_queue(name) for name in QUEUE_NAMES], connection=get_redis())
        worker.register_birth()
        worker.set_state("idle")
    try:
        client, _ = _admin(app)
        html = client.get("/admin/queues").get_data(as_text=True)
        assert '<tr id="queue-routing"><td>routing</td><td class="num">3</td>' in html
        assert worker.name in html and ">idle<" in html
        assert worker.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S") in html
    finally:
        with app.app_context():
            worker.register_death()
    assert "No worker is running" in client.get("/admin/queues").get_data(as_text=True)


def test_retry_puts_the_failed_job_back_in_its_queue(app, failed_job):
    client, headers = _admin(app)
    response = client.post(f"/admin/queues/default/failed/{failed_job}/retry", headers=headers)
    assert response.status_code == 200
    region = response.get_data(as_text=True)
    assert '<div id="queues">' in region and "<html" not in region  # the region, not the page
    assert "back in the queue" in region and "No failed jobs." in region
    with app.app_context():
        queue = get_queue("default")
        assert failed_job in queue.job_ids
        assert failed_job not in queue.failed_job_registry


def test_delete_removes_the_failed_job(app, failed_job):
    client, headers = _admin(app)
    response = client.post(f"/admin/queues/default/failed/{failed_job}/delete", headers=headers)
    assert response.status_code == 200 and "No failed jobs." in response.get_data(as_text=True)
    with app.app_context():
        queue = get_queue("default")
        assert failed_job not in queue.failed_job_registry and failed_job not in queue.job_ids
        assert not Job.exists(failed_job, connection=get_redis())
    again = client.post(f"/admin/queues/default/failed/{failed_job}/delete", headers=headers)
    assert again.status_code == 404


def test_a_plain_form_post_redirects_back_to_the_page(app, failed_job):
    client, headers = _admin(app)
    response = client.post(
        f"/admin/queues/default/failed/{failed_job}/retry", data={"csrf_token": headers["X-CSRFToken"]}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/queues")


@pytest.mark.parametrize("role", [MARKETER, MANAGER, TELEPROSPECTOR, REP])
def test_only_admins_see_the_page_or_press_the_buttons(app, failed_job, role):
    client = login(app.test_client(), make_user(role))
    headers = {"X-CSRFToken": csrf_token(client), "HX-Request": "true"}
    assert client.get("/admin/queues").status_code == 403
    for action in ("retry", "delete"):
        response = client.post(f"/admin/queues/default/failed/{failed_job}/{action}", headers=headers)
        assert response.status_code == 403, action
    assert 'href="/admin/queues"' not in client.get("/leads").get_data(as_text=True)
    with app.app_context():
        assert failed_job in get_queue("default").failed_job_registry  # untouched
        job = Job.fetch(failed_job, connection=get_redis(), serializer=JSONSerializer)
        assert job.get_status() == "failed"


def test_anonymous_is_sent_to_sign_in(app, failed_job):
    client = app.test_client()
    assert client.get("/admin/queues").status_code == 302
    token = csrf_token(client, "/login")
    response = client.post(f"/admin/queues/default/failed/{failed_job}/retry", headers={"X-CSRFToken": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


class ThreadWorker(SimpleWorker):
    """A real RQ worker in a thread of the test (signals and alarms are the main thread's)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        """This worker stops when its queue is empty (burst)."""


def test_a_busy_worker_shows_the_job_it_runs(app):
    release = f"{app.config['QUEUE_PREFIX']}:release"
    with app.app_context():
        get_queue("default").enqueue(f"{__name__}.waits", release, job_id="queue-page-busy")
        worker = ThreadWorker(
            [get_queue(name) for name in QUEUE_NAMES], connection=get_redis(), serializer=JSONSerializer
        )
    thread = threading.Thread(target=lambda: _work(app, worker), daemon=True)
    thread.start()
    client, _ = _admin(app)
    try:

        def busy_row():
            html = client.get("/admin/queues").get_data(as_text=True)
            return ">busy<" in html and "queue-page-busy" in html and worker.name in html

        assert wait_for(busy_row, 15, 0.1)
    finally:
        with app.app_context():
            get_redis().set(release, "1")
        thread.join(timeout=30)
    assert not thread.is_alive()


def _work(app, worker):
    with app.app_context():
        worker.work(burst=True, logging_level="WARNING")
