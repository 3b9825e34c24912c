"""The background jobs of scoring and qualification (S4), how they are
enqueued, and the follow-ups that ask for them.

Every job takes ids (RQ's JSON serializer, never pickle), has a deterministic
id, a timeout and retries with backoff (``leads.base.queue.enqueue``), and is safe
to run twice: the work it does is read from the database (``PendingScore``
rows), never from the job's arguments alone.

- ``score_leads(lead_ids)``: re-score those leads that are still pending
  (``leads.scoring.scorer``), then send ``leads_qualified`` for the leads that
  became qualified or sales-ready (webhooks listen; routing follows the
  lifecycle move itself through ``action_done``).
- ``connect()``: at app set-up, scoring listens to the domain's signals: a new
  lead, changed fields (a contact's old and new account included), new
  interactions, and the sweeper's turn (lost jobs, ended time windows, a
  draft's what-if whose worker died).
- ``what_if(task_id)``: a draft's "Does the score predict?" on the stored
  history (D3, ``leads.scoring.what_if``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable

from leads.base import signals
from leads.base.db import gather, on_commit, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core import lifecycle
from leads.records.models import Lead
from leads.scoring import scorer
from leads.scoring import what_if as what_ifs
from leads.scoring.facts import open_leads_of
from leads.scoring.models import LeadScore, PendingScore, QualificationCriteria, ScoringModel

log = logging.getLogger(__name__)

JOB_BATCH = 200  # leads per scoring job (PERF: many events per job, not one)
STALE_SECONDS = 12  # a pending row older than this has probably lost its job (a job runs twice safely)
BACKLOG_STALE_SECONDS = 120  # rows of a publication's or import's re-score wait their turn longer


# --- Enqueueing ---------------------------------------------------------------


def enqueue_scoring(lead_ids: Iterable[int]) -> int:
    """After commit: one job per ``JOB_BATCH`` pending leads. The job id is made
    of the leads and their current tokens, so enqueueing the same pending state
    twice launches one job, and a newer cause a new one. Returns the job count."""
    ids = sorted(set(lead_ids))
    count = 0
    for start in range(0, len(ids), JOB_BATCH):
        chunk = ids[start : start + JOB_BATCH]
        tokens = (
            PendingScore.select(PendingScore.token)
            .where(PendingScore.lead.in_(chunk))
            .order_by(PendingScore.lead)
        )
        digest = hashlib.sha1(
            (",".join(map(str, chunk)) + "|" + ",".join(t for (t,) in tokens.tuples())).encode()
        ).hexdigest()[:20]
        enqueue("leads.scoring.jobs.score_leads", chunk, job_id=f"score-{digest}", timeout=300)
        count += 1
    return count


# --- Jobs ---------------------------------------------------------------------


def score_leads(lead_ids: list[int]) -> dict:
    """S4: re-score the still-pending ``lead_ids``; then the hooks (Q2, P3)."""
    outcome = scorer.rescore_pending(lead_ids)
    if outcome.qualified or outcome.sales_ready:
        leads_qualified(outcome.qualified, outcome.sales_ready)
    return {"scored": outcome.scored, "changed": outcome.changed, "moved": outcome.moved}


def leads_qualified(qualified: list[int], sales_ready: list[int]) -> None:
    """Q2 follow-ups of a scoring run: tell whoever listens (webhooks) which
    leads met qualification criteria and which became sales-ready."""
    signals.leads_qualified.send(__name__, qualified=list(qualified), sales_ready=list(sales_ready))


# --- Publishing a model ---------------------------------------------------------


def start_rescore_all(title: str, user_id: int | None, cause: str) -> BackgroundTask:
    """S4 on publication: every open lead is marked pending (the audience is
    decided by the engine) under one task, whose progress bar the UI polls."""
    with transaction():
        ids = [lead_id for (lead_id,) in Lead.select(Lead.id).where(Lead.status == lifecycle.OPEN).tuples()]
        task = BackgroundTask.create(
            kind="rescore",
            title=title,
            status="running" if ids else "done",
            total=len(ids),
            created_by=user_id,
            finished_at=None if ids else utcnow(),
        )
        scorer.mark_pending(ids, cause, task_id=task.id)
        on_commit(lambda: enqueue_scoring(ids))
    return task


def scoring_is_on() -> bool:
    """Whether anything can change a score: a live model or published criteria."""
    return (
        ScoringModel.select().where(ScoringModel.status == "live").exists()
        or QualificationCriteria.select().where(QualificationCriteria.status == "published").exists()
    )


def rescore_records(
    cause: str, *, lead_ids=(), contact_ids=(), account_ids=(), always: bool = False, verify: bool = False
) -> set[int]:
    """S4: mark the leads given, and the open leads that read these contacts and
    accounts, for re-scoring (in the current transaction, or one of its own) and
    enqueue their scoring after commit; returns them. Nothing when no model is
    live and no criteria are published (there is nothing a change could alter),
    unless ``always``: an interaction is marked even then, as it always was.
    ``verify``: keep only the leads still stored (new ones a savepoint undid)."""
    if not always and not scoring_is_on():
        return set()
    given = _existing(lead_ids) if verify else set(lead_ids)
    touched = given | open_leads_of(contact_ids=contact_ids, account_ids=account_ids)
    if touched:
        with transaction():
            scorer.mark_pending(touched, cause)
            on_commit(lambda: enqueue_scoring(touched))
    return touched


def _existing(lead_ids) -> set[int]:
    """Those of ``lead_ids`` still stored (a savepoint may have undone a new lead)."""
    ids, found = sorted(set(lead_ids)), set()
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        found |= {lead_id for (lead_id,) in Lead.select(Lead.id).where(Lead.id.in_(chunk)).tuples()}
    return found


def rescore_later(
    cause: str, *, lead_ids=(), contact_ids=(), account_ids=(), always: bool = False, verify: bool = False
) -> None:
    """``rescore_records`` once, just before the current transaction commits, for
    everything asked with the same cause meanwhile (an import's 1,000 new leads
    are one write, not 1,000)."""
    items = {("lead", i) for i in lead_ids} | {("contact", i) for i in contact_ids if i}
    items |= {("account", i) for i in account_ids if i}
    if not items:
        return

    def flush(gathered: set) -> None:
        by_kind: dict[str, list[int]] = {"lead": [], "contact": [], "account": []}
        for kind, record_id in gathered:
            by_kind[kind].append(record_id)
        rescore_records(
            cause,
            lead_ids=by_kind["lead"],
            contact_ids=by_kind["contact"],
            account_ids=by_kind["account"],
            always=always,
            verify=verify,
        )

    gather(f"rescore:{cause}:{always}:{verify}", items, flush)


# --- A draft tried on the stored history (D3) --------------------------------------


def what_if(task_id: int) -> str:
    """D3: compute a draft's figures on the stored history for its task
    (``leads.scoring.what_if.run``); safe to run twice. Returns the task's status."""
    from rq import get_current_job

    job = get_current_job()
    return what_ifs.run(task_id, last_attempt=job is None or not job.retries_left)


# --- Follow-ups: what asks for a re-score ----------------------------------------


def on_lead_created(sender=None, *, lead_ids, **_) -> None:
    """S4/P1: a new lead is scored (and leaves stage 1 once it has a score)."""
    rescore_later("lead created", lead_ids=lead_ids, verify=True)


def on_records_changed(sender=None, *, cause, lead_ids=(), contact_ids=(), account_ids=(), **_) -> None:
    """S4/S3: a scored field changed; an account's leads read all its contacts."""
    rescore_later(cause, lead_ids=lead_ids, contact_ids=contact_ids, account_ids=account_ids)


def on_interactions_stored(sender=None, *, lead_ids, cause, **_) -> None:
    """S4: new interactions count for the leads they touch (S3)."""
    rescore_later(cause, lead_ids=lead_ids, always=True)


def sweep_scores(sender=None, *, now: dt.datetime, redis_lost: bool = False, **_) -> dict:
    """The sweeper's turn (S4, O2): re-enqueue pending rows nobody applied for a
    while (a lost job, a killed worker; all of them when Redis came back
    empty), and mark the leads whose time windows ran out."""
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    backlog = now - dt.timedelta(seconds=BACKLOG_STALE_SECONDS)
    expired = [
        lead_id
        for (lead_id,) in LeadScore.select(LeadScore.lead)
        .join(Lead)
        .where(LeadScore.expires_at.is_null(False) & (LeadScore.expires_at <= now) & (Lead.status == "open"))
        .distinct()
        .tuples()
    ]
    if expired:
        with transaction():
            scorer.mark_pending(expired, "time window ended")
            LeadScore.update(expires_at=None).where(
                LeadScore.lead.in_(expired) & (LeadScore.expires_at <= now)
            ).execute()
    if redis_lost:  # Redis came back empty: every pending row's job is gone
        waiting = PendingScore.select(PendingScore.lead)
    else:
        waiting = PendingScore.select(PendingScore.lead).where(
            (PendingScore.task.is_null() & (PendingScore.queued_at <= stale))
            | (PendingScore.queued_at <= backlog)
        )
    lost = [lead_id for (lead_id,) in waiting.tuples()]
    if lost:
        PendingScore.update(queued_at=now).where(PendingScore.lead.in_(lost)).execute()
    jobs = enqueue_scoring(set(expired) | set(lost))
    return {"expired": len(expired), "requeued": len(lost), "jobs": jobs}


def connect() -> None:
    """Connect scoring to the domain's signals (once, at app set-up)."""
    signals.lead_created.connect(on_lead_created, weak=False)
    signals.records_changed.connect(on_records_changed, weak=False)
    signals.interactions_stored.connect(on_interactions_stored, weak=False)
    signals.sweep_due.connect(sweep_scores, weak=False)
    signals.sweep_due.connect(what_ifs.sweep, weak=False)
