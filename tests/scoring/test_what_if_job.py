"""Does the score predict? (SPEC D3) for a draft, past the outcomes computed in
the request: the what-if runs as an RQ job (a real worker) under a background
task, on SQLite and PostgreSQL. The page shows a progress bar, then the same
figures the inline computation gives on a known-answer history; the figures
are stored and shown again without recomputing for the same version and range,
and computed again for an edited draft or another range; enqueueing twice runs
the work once, a killed worker's task is picked up by the sweeper, a failure
shows a message, and the page and its fragment keep their roles."""

from __future__ import annotations

import datetime as dt

import pytest

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.base.db import utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import get_queue
from leads.base.sweep import sweep
from leads.core import scoring as core_scoring
from leads.core.conditions import DefinitionError
from leads.records.models import Interaction, Lead, LeadHistory
from leads.scoring import jobs, what_if
from leads.scoring import prediction as scoring_prediction
from leads.scoring.models import ScoreChange
from leads.scoring.models import ScoringModel as ModelRow
from tests.factories import make_contact
from tests.scoring.test_prediction import DAY, HOUR, _click, _last_90_days, outcome_lead
from tests.scoring.test_scoring_ui import HX, signed_in, stored_model, text_of

POLL = {**HX, "HX-Target": "prediction-result"}  # what the progress bar asks with


@pytest.fixture
def as_job(app, monkeypatch):
    """Every draft's what-if runs as a job, however few its outcomes."""
    monkeypatch.setitem(app.config, "WHAT_IF_INLINE_MAX", 0)


def _known_draft(app, user) -> ModelRow:
    """The draft gives 20 for a director and 10 per email click (at most 30): a
    converted director with two clicks by stage 5 scores 40, a disqualified
    director 20, a disqualified engineer 0 (as in test_prediction)."""
    draft = stored_model(app, user)
    director, engineer = make_contact(job_title="Sales Director"), make_contact(job_title="Engineer")
    won = outcome_lead(draft, 0, True)
    stage5_at = LeadHistory.get((LeadHistory.lead == won.id) & (LeadHistory.kind == "stage")).created_at
    Lead.update(contact=director).where(Lead.id == won.id).execute()
    for at in (stage5_at - 3 * DAY, stage5_at - HOUR, stage5_at + HOUR):
        _click(director, at)
    lost = outcome_lead(draft, 0, False)
    Lead.update(contact=make_contact(job_title="Director of IT")).where(Lead.id == lost.id).execute()
    other = outcome_lead(draft, 0, False, via_stage_5=False)
    Lead.update(contact=engineer).where(Lead.id == other.id).execute()
    ScoreChange.delete().execute()  # a draft has no score history
    return draft


def _inline(draft: ModelRow, start, end) -> scoring_prediction.ModelPrediction:
    model = core_scoring.ScoringModel.from_dict({**draft.definition, "id": draft.id, "name": draft.name})
    return scoring_prediction.model_prediction(model, start, end, what_if=True)


def _tasks() -> list[BackgroundTask]:
    return list(
        BackgroundTask.select().where(BackgroundTask.kind == what_if.KIND).order_by(BackgroundTask.id)
    )


def test_d3_a_drafts_what_if_shows_a_progress_bar_then_the_figures_its_job_computed(app, as_job, run_jobs):
    """D3: the first visit queues one task and shows its progress bar (polling);
    polling again starts nothing new; once a real worker ran the job, the poll
    shows the sentence, the AUC and the bands the inline computation gives."""
    client, _, user = signed_in(app)
    draft = _known_draft(app, user)
    start, end = _last_90_days()
    expected = _inline(draft, start, end)
    url = f"/scoring/models/{draft.id}/insights"

    page = client.get(url).get_data(as_text=True)
    assert "This model is a draft" in text_of(page, "prediction-help")
    assert 'id="what-if-progress"' in page and "<progress" in page and 'hx-trigger="every 1s"' in page
    # the poll swaps the figures' region only: dates typed in the form meanwhile stay
    assert 'hx-target="#prediction-result" hx-select="#prediction-result"' in page
    assert 'id="prediction-sentence"' not in page
    assert text_of(page, "what-if-progress").endswith("Waiting for its turn")
    assert [task.status for task in _tasks()] == ["queued"]
    assert client.get(f"{url}/prediction.csv").status_code == 409  # nothing to download yet

    polled = client.get(url, headers=POLL).get_data(as_text=True)
    assert polled.lstrip().startswith('<section class="card" id="prediction">')
    assert 'id="what-if-progress"' in polled and len(_tasks()) == 1  # the poll starts nothing new
    BackgroundTask.update(status="running", done=1, total=3).where(
        BackgroundTask.kind == what_if.KIND
    ).execute()
    running = client.get(url, headers=POLL).get_data(as_text=True)
    assert (
        text_of(running, "what-if-progress").endswith("1 of 3 leads")
        and '<progress max="3" value="1">' in running
    )

    run_jobs()
    task = _tasks()[0]
    assert (task.status, task.done, task.total) == ("done", 3, 3)
    assert task.detail["result"] == expected.to_dict()
    assert scoring_prediction.ModelPrediction.from_dict(task.detail["result"]) == expected

    done = client.get(url, headers=POLL).get_data(as_text=True)
    assert 'id="what-if-progress"' not in done and "every 1s" not in done  # the polling stops
    assert "Worked out on" in text_of(done, "what-if-computed")
    assert text_of(done, "prediction-outcomes") == "3 (1 converted, 2 disqualified)"
    assert text_of(done, "prediction-auc") == "1.00"
    assert text_of(done, "prediction-sentence") == expected.figures.sentence
    assert "40–59" in text_of(done, "prediction-bands")
    download = client.get(f"{url}/prediction.csv").get_data(as_text=True)
    assert '"40–59","1","0","1","100.0"' in download


def test_d3_the_stored_figures_are_shown_again_until_the_draft_or_the_range_changes(app, as_job, run_jobs):
    """D3: reopening the page for the same version and range shows the stored
    figures (the interactions deleted meanwhile would change a recomputation);
    an edited draft (a new version) or another range computes again."""
    client, _, user = signed_in(app)
    draft = _known_draft(app, user)
    url = f"/scoring/models/{draft.id}/insights"
    client.get(url)
    run_jobs()
    Interaction.delete().execute()  # a recomputation would now score the won director 20, not 40

    again = client.get(url).get_data(as_text=True)
    assert text_of(again, "prediction-auc") == "1.00" and len(_tasks()) == 1
    # asked to work it out again (outcomes recorded since): a new task, the new figures
    assert 'id="what-if-progress"' in client.get(url, query_string={"again": "1"}).get_data(as_text=True)
    assert len(_tasks()) == 2
    run_jobs()
    assert text_of(client.get(url).get_data(as_text=True), "prediction-auc") == "0.75"

    start, end = _last_90_days()
    other_range = client.get(url, query_string={"from": (start + DAY).isoformat(), "to": end.isoformat()})
    assert 'id="what-if-progress"' in other_range.get_data(as_text=True) and len(_tasks()) == 3

    ModelRow.update(version=ModelRow.version + 1).where(ModelRow.id == draft.id).execute()  # edited
    edited = client.get(url).get_data(as_text=True)
    assert 'id="what-if-progress"' in edited and len(_tasks()) == 4
    run_jobs()
    recomputed = client.get(url).get_data(as_text=True)
    assert text_of(recomputed, "prediction-auc") == "0.75"  # 20 against 20 and 0, without the clicks
    assert [task.status for task in _tasks()] == ["done", "done", "done", "done"]


def test_d3_a_what_if_enqueued_twice_does_the_work_once(app, run_jobs):
    """Idempotent: the job id is the task's, a finished task is left alone, and
    two tasks of one question (two requests that raced) both end with one
    computation's figures."""
    _, _, user = signed_in(app)
    with app.app_context():  # the services enqueue on the app's Redis
        draft = _known_draft(app, user)
        start, end = _last_90_days()
        first = what_if.start_task(draft, start, end, user.id)
        raced = what_if.start_task(draft, start, end, user.id)
        assert what_if.enqueue_task(first.id).id == what_if.enqueue_task(first.id).id == f"what-if-{first.id}"
        run_jobs()
        tasks = _tasks()
        assert [task.status for task in tasks] == ["done", "done"]
        assert tasks[0].detail["result"] == tasks[1].detail["result"] == _inline(draft, start, end).to_dict()
        finished = tasks[0].finished_at
        assert jobs.what_if(first.id) == "done"  # run once more: nothing is recomputed
        assert BackgroundTask.get_by_id(first.id).finished_at == finished
        assert what_if.latest(draft, start, end).id == raced.id


def test_d3_a_killed_workers_what_if_is_enqueued_again_by_the_sweeper(app, run_jobs):
    """O2: a task whose job vanished mid-run (its worker killed, Redis lost it)
    shows no sign of life; the sweeper enqueues it again after STALE_SECONDS and
    a worker then finishes it; a task that is alive is left alone."""
    _, _, user = signed_in(app)
    with app.app_context():  # the services enqueue on the app's Redis
        draft = _known_draft(app, user)
        start, end = _last_90_days()
        task = what_if.start_task(draft, start, end, user.id)
        get_queue().empty()  # the job is gone with its worker
        old = (utcnow() - dt.timedelta(seconds=what_if.STALE_SECONDS + 5)).isoformat()
        BackgroundTask.update(status="running", done=1, total=3, detail={**task.detail, "beat": old}).where(
            BackgroundTask.id == task.id
        ).execute()
        alive = what_if.start_task(draft, start + DAY, end, user.id)

        assert sweep(now=utcnow())["what_if_requeued"] == 1
        assert sweep(now=utcnow())["what_if_requeued"] == 0  # its beat was renewed: not enqueued twice
        run_jobs()
        healed = BackgroundTask.get_by_id(task.id)
        assert (healed.status, healed.done, healed.total) == ("done", 3, 3)
        assert healed.detail["result"] == _inline(draft, start, end).to_dict()
        assert BackgroundTask.get_by_id(alive.id).status == "done"


def test_d3_a_failed_what_if_says_so_and_can_be_tried_again(app, as_job, run_jobs):
    """D3: a job that stops on an unexpected error on its last attempt marks its
    task failed; the page then shows a clear message (no endless progress bar)
    and a link that starts it again, which then computes the figures."""
    client, _, user = signed_in(app)
    draft = _known_draft(app, user)
    url = f"/scoring/models/{draft.id}/insights"
    client.get(url)
    task = _tasks()[0]
    broken = {**task.detail, "definition": {"behaviour_rules": [{"id": "x"}]}}  # not a definition
    BackgroundTask.update(detail=broken).where(BackgroundTask.id == task.id).execute()
    with app.app_context(), pytest.raises(DefinitionError):
        get_queue().empty()
        jobs.what_if(task.id)  # outside a worker: the last attempt
    assert BackgroundTask.get_by_id(task.id).status == "failed"

    page = client.get(url).get_data(as_text=True)
    assert text_of(page, "what-if-problem").startswith("Trying the draft on these outcomes stopped")
    assert 'id="what-if-progress"' not in page and "every 1s" not in page
    assert client.get(f"{url}/prediction.csv").status_code == 409
    assert len(_tasks()) == 1  # reopening does not loop on a failing job

    retried = client.get(url, query_string={"again": "1"}).get_data(as_text=True)
    assert 'id="what-if-progress"' in retried and len(_tasks()) == 2
    run_jobs()
    assert text_of(client.get(url).get_data(as_text=True), "prediction-auc") == "1.00"


@pytest.mark.parametrize("role", [ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP])
def test_d3_the_drafts_what_if_page_and_its_progress_fragment_keep_their_roles(app, as_job, run_jobs, role):
    """G1: marketers, admins and managers see the page, its polled fragment and
    the CSV; teleprospectors and reps get 403 and start no job."""
    _, _, owner = signed_in(app)
    draft = _known_draft(app, owner)
    client, _, _ = signed_in(app, role)
    url = f"/scoring/models/{draft.id}/insights"
    page, fragment = client.get(url), client.get(url, headers=POLL)
    allowed = role in (ADMIN, MARKETER, MANAGER)
    assert (page.status_code, fragment.status_code) == ((200, 200) if allowed else (403, 403))
    assert len(_tasks()) == (1 if allowed else 0)
    if allowed:
        assert 'id="what-if-progress"' in fragment.get_data(as_text=True)
        run_jobs()
        assert client.get(f"{url}/prediction.csv").status_code == 200
    else:
        assert client.get(f"{url}/prediction.csv").status_code == 403


def test_d3_a_small_drafts_what_if_is_still_computed_in_the_request(app):
    """D3: up to INLINE_MAX outcomes the figures come with the page, no task."""
    client, _, user = signed_in(app)
    draft = _known_draft(app, user)
    page = client.get(f"/scoring/models/{draft.id}/insights").get_data(as_text=True)
    assert text_of(page, "prediction-auc") == "1.00" and _tasks() == []


def test_d3_finished_what_ifs_answered_again_or_older_than_a_month_are_forgotten_by_the_sweeper(app):
    """D3: the sweeper deletes a finished what-if once a newer answer to the
    same question exists, and any finished more than 30 days ago; a running
    one and the latest answer of each question stay."""
    with app.app_context():
        now = utcnow()

        def task(title, status, days_ago):
            finished = now - dt.timedelta(days=days_ago) if status in what_if.FINISHED else None
            return BackgroundTask.create(
                kind=what_if.KIND, title=title, status=status, finished_at=finished
            ).id

        replaced = task("What-if: model 1 version 2, a", "failed", 2)
        latest_a = task("What-if: model 1 version 2, a", "done", 1)
        expired = task("What-if: model 1 version 1, b", "done", 31)
        recent_b = task("What-if: model 1 version 3, b", "done", 29)
        running = task("What-if: model 2 version 1, c", "running", 0)
        other_kind = BackgroundTask.create(
            kind="import", title="x", status="done", finished_at=now - dt.timedelta(days=90)
        ).id
        assert what_if.sweep(now=now)["what_if_forgotten"] == 2
        left = {row.id for row in BackgroundTask.select()}
        assert left == {latest_a, recent_b, running, other_kind} and not {replaced, expired} & left
        assert what_if.forget_old(now) == 0  # run again: nothing more
