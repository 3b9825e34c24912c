"""What a draft would have said (SPEC D3), as a background task.

A draft has no score history, so "Does the score predict?" re-scores every lead
that reached an outcome in the range (``prediction.model_prediction`` with
``what_if``): seconds at 10,000 outcomes, too long for a page request. Up to
``INLINE_MAX`` outcomes (the app's ``WHAT_IF_INLINE_MAX`` overrides it) it is
still computed in the request; more run in the RQ job ``leads.scoring.jobs.what_if``
under a ``BackgroundTask`` whose progress bar the page polls.

A task answers one question: the model at one version (``ScoringModel.version``
grows on every save) over one range of days, named by ``key``, which is the
task's title. Its ``detail`` keeps the definition it scores (a snapshot: a
later edit asks a new question, it does not change this one), the range, the
figures once done (``result``) or why it stopped (``problem``), and ``beat``,
the last time its job showed signs of life. The page asks ``prediction_for``:
a finished task's figures are shown without recomputing; a running one's
progress; a failed one's message (until asked again).

Safe to run twice: the job reads everything from its task, a finished task is
left alone, and the figures it computes are written to every unfinished task
of the same key (two requests that raced each created one: both finish). A
worker killed mid-job leaves its task without a beat: the sweeper's turn
(``sweep``) enqueues it again after ``STALE_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import current_app

from leads.base.db import on_commit, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core import scoring as core_scoring
from leads.scoring import prediction
from leads.scoring.models import ScoringModel as ModelRow

log = logging.getLogger(__name__)

KIND = "what_if"
INLINE_MAX = 300  # outcomes computed in the request (well under a second); more: a job
STALE_SECONDS = 60  # a queued or running task with no beat for this long has lost its job
JOB_TIMEOUT = 1800
PROBLEM = "Trying the draft on these outcomes stopped on an unexpected error. Try again; if it stops again, tell an administrator."
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed")
KEEP_DAYS = 30  # a finished task's figures are kept this long (unless a newer answer replaced them)


@dataclass(frozen=True)
class WhatIf:
    """What the page shows for a draft: the figures, or the task computing them (or that failed)."""

    result: prediction.ModelPrediction | None
    task: BackgroundTask | None = None

    @property
    def problem(self) -> str | None:
        if self.task is not None and self.task.status == "failed":
            return self.task.detail.get("problem") or PROBLEM
        return None


def key(row: ModelRow, start: dt.date, end: dt.date) -> str:
    """The question a task answers: this model at this version over these days."""
    return f"What-if: model {row.id} version {row.version}, {start.isoformat()} to {end.isoformat()}"


def latest(row: ModelRow, start: dt.date, end: dt.date) -> BackgroundTask | None:
    """The newest task asked for this model version and range, if any."""
    return (
        BackgroundTask.select()
        .where((BackgroundTask.kind == KIND) & (BackgroundTask.title == key(row, start, end)))
        .order_by(BackgroundTask.id.desc())
        .first()
    )


def result_of(task: BackgroundTask) -> prediction.ModelPrediction | None:
    """A finished task's figures (None while it runs or when it failed)."""
    if task.status != "done" or "result" not in task.detail:
        return None
    return prediction.ModelPrediction.from_dict(task.detail["result"])


def inline_max() -> int:
    return int(current_app.config.get("WHAT_IF_INLINE_MAX", INLINE_MAX))


def prediction_for(
    row: ModelRow, start: dt.date, end: dt.date, user_id: int | None = None, again: bool = False
) -> WhatIf:
    """D3 for the draft ``row`` over ``start``–``end``: a finished task's figures,
    else the task computing them (started here when none is under way, or with
    ``again``: after a failure, or to count the outcomes recorded since), or, for at most ``inline_max()`` outcomes, the
    figures computed now."""
    task = latest(row, start, end)
    if task is not None and task.status in ACTIVE:
        return WhatIf(None, task)
    if task is not None and not again:  # done (its figures), or failed (its message)
        return WhatIf(result_of(task), task)
    if prediction.outcome_count(start, end) <= inline_max():
        return WhatIf(
            prediction.model_prediction(_model(row.definition, row.id, row.name), start, end, what_if=True)
        )
    return WhatIf(None, start_task(row, start, end, user_id))


def start_task(row: ModelRow, start: dt.date, end: dt.date, user_id: int | None = None) -> BackgroundTask:
    """A queued task for this question and its job, enqueued after commit."""
    with transaction():
        task = BackgroundTask.create(
            kind=KIND,
            title=key(row, start, end),
            status="queued",
            created_by=user_id,
            detail={
                "model_id": row.id,
                "name": row.name,
                "version": row.version,
                "definition": row.definition,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "beat": utcnow().isoformat(),
            },
        )
        on_commit(lambda: enqueue_task(task.id))
    return task


def enqueue_task(task_id: int):
    """The task's job; its id is the task's, so enqueueing it twice runs one job's worth of work."""
    return enqueue("leads.scoring.jobs.what_if", task_id, job_id=f"what-if-{task_id}", timeout=JOB_TIMEOUT)


def _model(definition: dict, model_id: int, name: str) -> core_scoring.ScoringModel:
    return core_scoring.ScoringModel.from_dict({**definition, "id": model_id, "name": name})


def run(task_id: int, last_attempt: bool = True) -> str:
    """Compute the task's figures, telling its progress per batch; returns its
    status. A finished task is left as it is. An unexpected error marks it
    failed on the ``last_attempt`` (else the job's retry starts over) and is
    raised again."""
    task = BackgroundTask.get_or_none((BackgroundTask.id == task_id) & (BackgroundTask.kind == KIND))
    if task is None or task.status in ("done", "failed"):
        return task.status if task else "missing"
    detail = dict(task.detail)
    BackgroundTask.update(status="running", detail={**detail, "beat": utcnow().isoformat()}).where(
        BackgroundTask.id == task_id
    ).execute()

    def progress(done: int, total: int) -> None:
        beat = {**detail, "beat": utcnow().isoformat()}
        BackgroundTask.update(done=done, total=total, detail=beat).where(
            (BackgroundTask.id == task_id) & (BackgroundTask.status == "running")
        ).execute()

    try:
        model = _model(detail["definition"], detail["model_id"], detail["name"])
        start, end = dt.date.fromisoformat(detail["start"]), dt.date.fromisoformat(detail["end"])
        result = prediction.model_prediction(model, start, end, what_if=True, progress=progress)
    except Exception:
        log.exception("what-if task %s stopped", task_id)
        if last_attempt:
            BackgroundTask.update(
                status="failed", finished_at=utcnow(), detail={**detail, "problem": PROBLEM}
            ).where(BackgroundTask.id == task_id).execute()
        raise
    total = result.figures.outcomes + result.unscored
    BackgroundTask.update(
        status="done",
        done=total,
        total=total,
        finished_at=utcnow(),
        detail={**detail, "result": result.to_dict()},
    ).where(
        (BackgroundTask.kind == KIND)
        & (BackgroundTask.title == task.title)
        & BackgroundTask.status.in_(ACTIVE)
    ).execute()
    return "done"


def sweep(sender=None, *, now: dt.datetime, redis_lost: bool = False, **_) -> dict:
    """The sweeper's turn (O2): enqueue again the tasks still queued or running
    whose job showed no sign of life for ``STALE_SECONDS`` (a killed worker, a
    lost job; every one of them when Redis came back empty)."""
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    lost = []
    for task in BackgroundTask.select().where(
        (BackgroundTask.kind == KIND) & BackgroundTask.status.in_(ACTIVE)
    ):
        beat = task.detail.get("beat")
        if redis_lost or beat is None or dt.datetime.fromisoformat(beat) <= stale:
            lost.append(task)
    for task in lost:
        BackgroundTask.update(detail={**task.detail, "beat": now.isoformat()}).where(
            BackgroundTask.id == task.id
        ).execute()
        enqueue_task(task.id)
    return {"what_if_requeued": len(lost), "what_if_forgotten": forget_old(now)}


def forget_old(now: dt.datetime) -> int:
    """Delete the finished tasks nobody will be shown again: those of a question
    answered again since (a newer finished task of the same key), and those
    finished more than ``KEEP_DAYS`` ago (asked again, they are computed
    again). Returns how many."""
    finished = list(
        BackgroundTask.select(BackgroundTask.id, BackgroundTask.title, BackgroundTask.finished_at)
        .where((BackgroundTask.kind == KIND) & BackgroundTask.status.in_(FINISHED))
        .order_by(BackgroundTask.id.desc())
        .tuples()
    )
    oldest_kept, seen, gone = now - dt.timedelta(days=KEEP_DAYS), set(), []
    for task_id, title, finished_at in finished:  # newest first
        if title in seen or (finished_at is not None and finished_at < oldest_kept):
            gone.append(task_id)
        seen.add(title)
    for start in range(0, len(gone), 500):
        BackgroundTask.delete().where(BackgroundTask.id.in_(gone[start : start + 500])).execute()
    return len(gone)
