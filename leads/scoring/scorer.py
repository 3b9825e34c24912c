"""Apply the scoring models and qualification criteria to stored leads (S4–S6, Q1–Q6, P1, P3).

The database, not Redis, is the source of truth. Whatever can change a score
(an interaction, a changed field, a publication, a time window running out)
first writes a ``PendingScore`` row for each lead it touches, in the same
transaction as the change itself (``mark_pending``); only then is a job
enqueued (``leads.scoring.jobs``). A job re-scores the leads that still have a pending
row: it recomputes every live model's score from the stored facts, upserts it
(never increments), records what changed, applies the qualification criteria
and the lifecycle moves they call for, and deletes the pending rows it read,
all in one transaction. Running it twice changes nothing the second time; a
job that is lost leaves its pending rows for the sweeper.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from leads.base import bulk
from leads.base.db import Shape, db, is_sqlite, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.core import lifecycle, qualification, scoring
from leads.records.models import Lead, LeadHistory
from leads.scoring.facts import load_facts
from leads.scoring.models import LeadScore, PendingScore, QualificationCriteria, ScoreChange
from leads.scoring.models import ScoringModel as ModelRow
from leads.stages.services import perform_steps

LIVE = scoring.LIVE
# Compiled once per definition (PERF), keyed by the stored JSON itself, so a
# new version, or another database reusing the id, never reads a stale one.
_compiled: dict[int, tuple[str, scoring.ScoringModel]] = {}
_criteria_cache: dict[int, tuple[str, qualification.Criteria]] = {}


def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def build_model(row: ModelRow) -> scoring.ScoringModel:
    """The engine's model for a stored row (compiled once per version, PERF)."""
    key = _key(row.name, row.definition)
    held = _compiled.get(row.id)
    if held is None or held[0] != key:
        data = {**(row.definition or {}), "id": row.id, "name": row.name}
        held = (key, scoring.ScoringModel.from_dict(data))
        _compiled[row.id] = held
    return held[1]


def live_models() -> list[scoring.ScoringModel]:
    """S1: the live models, in id order."""
    rows = ModelRow.select().where(ModelRow.status == LIVE).order_by(ModelRow.id)
    return [build_model(row) for row in rows]


def published_criteria(live_ids: Iterable[int]) -> list[qualification.Criteria]:
    """Q3: the published criteria (a criteria whose models are no longer all live
    still loads; its terms over a non-live model are simply not met, Q1)."""
    rows = QualificationCriteria.select().where(QualificationCriteria.status == qualification.PUBLISHED)
    found = []
    for row in rows.order_by(QualificationCriteria.id):
        key = _key(row.name, row.status, row.definition)
        held = _criteria_cache.get(row.id)
        if held is None or held[0] != key:
            data = {**(row.definition or {}), "id": row.id, "name": row.name, "status": row.status}
            held = (key, qualification.Criteria.from_dict(data))
            _criteria_cache[row.id] = held
        found.append(held[1])
    return found


# --- Marking leads for re-scoring --------------------------------------------


def mark_pending(lead_ids: Iterable[int], cause: str, task_id: int | None = None) -> list[int]:
    """S4: note that these leads must be re-scored, in the caller's transaction.
    A lead already pending gets a new token, so a job that read the old one
    leaves the row for the next run. Returns the ids, sorted."""
    ids = sorted(set(lead_ids))
    now = utcnow()
    fields = (
        PendingScore.lead,
        PendingScore.token,
        PendingScore.cause,
        PendingScore.task,
        PendingScore.queued_at,
    )
    bulk.insert(
        PendingScore,
        fields,
        [(lead_id, uuid.uuid4().hex, cause[:200], task_id, now) for lead_id in ids],
        conflict=(PendingScore.lead,),
        update=fields[1:],
        keep_if_null=(PendingScore.task,),  # a newer cause keeps the task a lead was counted under
    )
    return ids


# --- Re-scoring ----------------------------------------------------------------


@dataclass
class Outcome:
    """What one run did, for the job's result and the tests."""

    scored: int = 0
    changed: int = 0
    moved: int = 0
    qualified: list[int] = field(default_factory=list)
    sales_ready: list[int] = field(default_factory=list)


def rescore_pending(lead_ids: Iterable[int], now: dt.datetime | None = None) -> Outcome:
    """Re-score those of ``lead_ids`` that are still pending.

    The reading and computing happen outside the write lock; the writes happen
    in one short transaction that first checks each pending row still holds
    the token read (a newer cause is left for its own job) and writes lifecycle
    moves only over the state that was read (``leads.stages.services``)."""
    now = now or utcnow()
    ids = sorted(set(lead_ids))
    outcome = Outcome()
    pending = (
        {row.lead_id: row for row in PendingScore.select().where(PendingScore.lead.in_(ids))} if ids else {}
    )
    if not pending:
        return outcome
    plan = _plan(sorted(pending), {lead_id: row.cause for lead_id, row in pending.items()}, now, outcome)
    with transaction():
        claim = (
            PendingScore.select(PendingScore.lead, PendingScore.token)
            .where(PendingScore.lead.in_(list(pending)))
            .order_by(PendingScore.lead)
        )
        if not is_sqlite():
            # O2: lock the rows claimed, in lead order, so a newer cause written
            # meanwhile waits for this commit and is then scored by its own job
            # (without the lock, this older computation could be stored last and
            # the newer cause's row deleted). SQLite's IMMEDIATE lock does this.
            claim = claim.for_update()
        current = dict(claim.tuples())
        fresh = {lead_id for lead_id, row in pending.items() if current.get(lead_id) == row.token}
        if not fresh:
            return outcome
        retry = _write(plan, fresh, outcome)
        applied = [row for lead_id, row in pending.items() if lead_id in fresh and lead_id not in retry]
        for start in range(0, len(applied), 500):
            chunk = applied[start : start + 500]
            PendingScore.delete().where(
                PendingScore.lead.in_([row.lead_id for row in chunk])
                & PendingScore.token.in_([row.token for row in chunk])
            ).execute()
        _count_task_progress(applied)
    return outcome


def _count_task_progress(rows) -> None:
    per_task: dict[int, int] = {}
    for row in rows:
        if row.task_id:
            per_task[row.task_id] = per_task.get(row.task_id, 0) + 1
    for task_id, count in per_task.items():
        BackgroundTask.update(done=BackgroundTask.done + count).where(BackgroundTask.id == task_id).execute()
        BackgroundTask.update(status="done", finished_at=utcnow()).where(
            (BackgroundTask.id == task_id) & (BackgroundTask.done >= BackgroundTask.total)
        ).execute()


@dataclass
class _Plan:
    """What a run computed, to be written in one transaction."""

    upserts: list[dict] = field(default_factory=list)
    removals: list[tuple[int, int]] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    decisions: dict[int, tuple[Lead, qualification.Decision]] = field(default_factory=dict)


def _plan(ids: list[int], causes: dict[int, str], now: dt.datetime, outcome: Outcome) -> _Plan:
    """Score and decide for ``ids`` from the stored facts (reads only)."""
    models = live_models()
    live_ids = [model.id for model in models]
    criteria = published_criteria(live_ids)
    facts = load_facts(ids)
    stored = _stored_scores(ids)
    leads = {lead.id: lead for lead in Lead.select().where(Lead.id.in_(ids))}
    plan = _Plan()
    for lead_id in ids:
        lead = leads.get(lead_id)
        if lead is None or lead_id not in facts or lead.status != lifecycle.OPEN:
            continue  # closed leads keep the scores they had (Q4: nothing more to decide)
        outcome.scored += 1
        scores, reached = {}, []
        for model in models:
            result = scoring.evaluate(model, facts[lead_id], now)
            old = stored.get((lead_id, model.id))
            if not result.in_audience:
                if old is not None:
                    plan.removals.append((lead_id, model.id))
                    plan.changes.append(_change(lead_id, model.id, old.score, None, causes, now))
                continue
            scores[model.id] = result.score
            if result.sales_ready:
                reached.append(model.id)
            if old is None or old.score != result.score:
                before = None if old is None else old.score
                plan.changes.append(_change(lead_id, model.id, before, result.score, causes, now))
            plan.upserts.append(
                {
                    "lead": lead_id,
                    "model": model.id,
                    "score": result.score,
                    "grade": result.grade,
                    "breakdown": [rule._asdict() for rule in result.breakdown],
                    "sales_ready": result.sales_ready,
                    "expires_at": result.expires_at,
                    "computed_at": now,
                }
            )
        decision = qualification.decide(
            criteria,
            lead.state,
            scores,
            facts[lead_id],
            now,
            live_model_ids=live_ids,
            thresholds_reached=reached,
        )
        if decision.actions:
            plan.decisions[lead_id] = (lead, decision)
    return plan


def _write(plan: _Plan, fresh: set[int], outcome: Outcome) -> set[int]:
    """Store the plan for the ``fresh`` leads; returns those to try again."""
    retry = set()
    first_scores = [
        lead_id
        for lead_id, (lead, decision) in plan.decisions.items()
        if lead_id in fresh and decision.actions == (qualification.SCORE_RECEIVED,)
    ]
    moved = _move_to_stage_2(first_scores, plan.decisions)
    outcome.moved += len(moved)  # a lead no longer in stage 1 needs no move (P1)
    for lead_id, (lead, decision) in plan.decisions.items():
        if lead_id in fresh and lead_id not in first_scores and not _apply(lead, decision, outcome):
            retry.add(lead_id)
    outcome.changed += sum(1 for change in plan.changes if change["lead"] in fresh)
    _write_scores(
        [row for row in plan.upserts if row["lead"] in fresh],
        [pair for pair in plan.removals if pair[0] in fresh],
        [row for row in plan.changes if row["lead"] in fresh],
    )
    return retry


def _move_to_stage_2(lead_ids: list[int], decisions) -> set[int]:
    """P1 in bulk (the common case of a publication): stage 1 → 2 for the leads
    still in stage 1 and open, with their history rows; returns those moved."""
    if not lead_ids:
        return set()
    now = utcnow()
    moved = set()
    for start in range(0, len(lead_ids), 500):
        chunk = lead_ids[start : start + 500]
        still = {
            lead_id
            for (lead_id,) in Lead.select(Lead.id)
            .where(Lead.id.in_(chunk) & (Lead.stage == lifecycle.INQUIRY) & (Lead.status == lifecycle.OPEN))
            .tuples()
        }
        if not still:
            continue
        Lead.update(stage=lifecycle.AUTOMATED_QUALIFICATION, updated_at=now).where(
            Lead.id.in_(sorted(still)) & (Lead.stage == lifecycle.INQUIRY)
        ).execute()
        LeadHistory.insert_many(
            [
                {
                    "lead": lead_id,
                    "kind": "stage",
                    "old_value": str(lifecycle.INQUIRY),
                    "new_value": str(lifecycle.AUTOMATED_QUALIFICATION),
                    "actor": None,
                    "via": decisions[lead_id][1].via[qualification.SCORE_RECEIVED][:200],
                    "created_at": now,
                }
                for lead_id in sorted(still)
            ]
        ).execute()
        moved |= still
    return moved


def _stored_scores(ids: list[int]) -> dict[tuple[int, int], LeadScore]:
    rows = LeadScore.select(LeadScore.id, LeadScore.lead, LeadScore.model, LeadScore.score)
    return {(row.lead_id, row.model_id): row for row in rows.where(LeadScore.lead.in_(ids))}


def _change(lead_id, model_id, old, new, causes, now) -> dict:
    return {
        "lead": lead_id,
        "model": model_id,
        "old_score": old,
        "new_score": new,
        "cause": causes.get(lead_id, "re-score")[:200],
        "created_at": now,
    }


_SCORE_FIELDS = (
    LeadScore.lead,
    LeadScore.model,
    LeadScore.score,
    LeadScore.grade,
    LeadScore.breakdown,
    LeadScore.sales_ready,
    LeadScore.expires_at,
    LeadScore.computed_at,
)
_CHANGE_FIELDS = (
    ScoreChange.lead,
    ScoreChange.model,
    ScoreChange.old_score,
    ScoreChange.new_score,
    ScoreChange.cause,
    ScoreChange.created_at,
)


def _write_scores(upserts: list[dict], removals: list[tuple[int, int]], changes: list[dict]) -> None:
    """Upsert the scores (never increment, S4), drop those of leads that left an
    audience, and append the history of changes (S6)."""
    bulk.insert(
        LeadScore,
        _SCORE_FIELDS,
        [tuple(row[field.name] for field in _SCORE_FIELDS) for row in upserts],
        conflict=(LeadScore.lead, LeadScore.model),
        update=_SCORE_FIELDS[2:],
    )
    for lead_id, model_id in removals:
        LeadScore.delete().where((LeadScore.lead == lead_id) & (LeadScore.model == model_id)).execute()
    bulk.insert(
        ScoreChange, _CHANGE_FIELDS, [tuple(row[field.name] for field in _CHANGE_FIELDS) for row in changes]
    )


def _apply(lead: Lead, decision: qualification.Decision, outcome: Outcome) -> bool:
    """P1, P3, Q2: the lifecycle moves of a decision, as the system, in a savepoint
    (the caller runs the hooks after commit). False when the lead changed under us."""
    steps = [(action, {}) for action in decision.actions]
    via = "; ".join(decision.via[action] for action in decision.actions)[:200]
    before = lead.state
    try:
        with db.atomic():
            after = perform_steps(lead, steps, None, via=via)
    except lifecycle.TransitionError:
        return False
    if after.stage != before.stage:
        outcome.moved += 1
    if decision.qualifies:
        outcome.qualified.append(lead.id)
    if after.sales_ready and not before.sales_ready:
        outcome.sales_ready.append(lead.id)
    return True


# --- What the UI reads ---------------------------------------------------------


def scores_for(lead_id: int) -> list[dict]:
    """S6: the lead's score in every model that scored it, with the why, live models first."""
    return [
        {
            "model_id": row.model.id,
            "model": row.model.name,
            "live": row.model.status == LIVE,
            "score": row.score,
            "grade": row.grade,
            "breakdown": row.breakdown,
            "sales_ready": row.sales_ready,
            "computed_at": row.computed_at,
        }
        for row in _SCORES.run(lead_id)
    ]


_SCORES = Shape(  # the SQL text built once (the lead page reads it on every view)
    lambda _, lead_id: (
        LeadScore.select(LeadScore, ModelRow)
        .join(ModelRow)
        .where(LeadScore.lead == lead_id)
        .order_by(ModelRow.status != LIVE, ModelRow.name)
    )
)


def score_history(lead_id: int, limit: int = 50) -> list[ScoreChange]:
    """S6: the latest changes of the lead's scores, newest first."""
    return list(_SCORE_HISTORY.run(lead_id, variant=limit))


_SCORE_HISTORY = Shape(
    lambda limit, lead_id: (
        ScoreChange.select(ScoreChange, ModelRow)
        .join(ModelRow)
        .where(ScoreChange.lead == lead_id)
        .order_by(ScoreChange.created_at.desc(), ScoreChange.id.desc())
        .limit(limit)
    )
)
