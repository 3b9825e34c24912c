"""What the marketer sees about scoring models and criteria (S6, issue 3 item 7):
per model, the score distribution, how many leads reach a threshold and which
rules contribute most, computed in SQL so they stay fast at 100k scores; and a
what-if preview of an unsaved model or criteria over a sample of recent open
leads, computed with the pure engines over ``load_facts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import peewee as pw

from leads.base.db import db, is_sqlite, utcnow
from leads.core import lifecycle, qualification, scoring
from leads.records.models import Lead
from leads.scoring.facts import load_facts
from leads.scoring.models import LeadScore
from leads.scoring.models import ScoringModel as ModelRow

SAMPLE_SIZE = 2000  # the what-if preview reads this many of the most recent open leads
SHOWN_LEADS = 20  # and lists this many of them, with their score and why
_BATCH = 500
_MAX_BARS = 20
_NICE_WIDTHS = (1, 2, 5)


@dataclass(frozen=True)
class Bucket:
    """Scores from ``low`` to ``high`` (both included) and how many leads have one."""

    low: int
    high: int
    count: int

    @property
    def label(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


# --- Lists -----------------------------------------------------------------------


def models_overview() -> pw.ModelSelect:
    """Every model with ``scored`` (its number of scored leads), by name, in one query."""
    return (
        ModelRow.select(ModelRow, pw.fn.COUNT(LeadScore.id).alias("scored"))
        .join(LeadScore, pw.JOIN.LEFT_OUTER, on=(LeadScore.model == ModelRow.id))
        .group_by(ModelRow.id)
        .order_by(ModelRow.name)
    )


# --- Buckets, shared by insights and previews --------------------------------------


def bucket_width(low: int, high: int, bars: int = _MAX_BARS) -> int:
    """The smallest "nice" width (1, 2, 5, 10, 20, 50…) that covers ``low..high``
    in at most ``bars`` buckets aligned on multiples of the width."""
    scale = 1
    while True:
        for nice in _NICE_WIDTHS:
            width = nice * scale
            if high // width - low // width + 1 <= bars:
                return width
        scale *= 10


def buckets_of(scores: Iterable[int]) -> list[Bucket]:
    """The distribution of ``scores`` (every bucket from the lowest to the highest,
    empty ones included)."""
    counts: dict[int, int] = {}
    values = list(scores)
    if not values:
        return []
    width = bucket_width(min(values), max(values))
    for score in values:
        counts[score // width] = counts.get(score // width, 0) + 1
    return _filled(counts, width)


def _filled(counts: dict[int, int], width: int) -> list[Bucket]:
    first, last = min(counts), max(counts)
    return [
        Bucket(index * width, index * width + width - 1, counts.get(index, 0))
        for index in range(first, last + 1)
    ]


@dataclass(frozen=True)
class Bar:
    """One bar of the SVG chart, in the chart's own units."""

    x: float
    y: float
    width: float
    height: float
    bucket: Bucket
    show_label: bool


CHART_WIDTH, CHART_HEIGHT, _AXIS = 640, 220, 28


def chart_bars(buckets: list[Bucket]) -> list[Bar]:
    """Where to draw each bucket in a ``CHART_WIDTH`` × ``CHART_HEIGHT`` view box
    (the bottom ``_AXIS`` units hold the labels, the top ones the counts)."""
    if not buckets:
        return []
    tallest = max(bucket.count for bucket in buckets) or 1
    slot = CHART_WIDTH / len(buckets)
    room = CHART_HEIGHT - 2 * _AXIS
    every = max(1, len(buckets) // 10)  # keep the axis labels readable
    bars = []
    for index, bucket in enumerate(buckets):
        height = room * bucket.count / tallest
        bars.append(
            Bar(
                x=round(index * slot + slot * 0.1, 1),
                y=round(CHART_HEIGHT - _AXIS - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
                bucket=bucket,
                show_label=index % every == 0,
            )
        )
    return bars


# --- Insights of a stored model (S6) ---------------------------------------------


def distribution(model_id: int) -> list[Bucket]:
    """S6: the model's stored scores in buckets, grouped in SQL."""
    scores = LeadScore.select().where(LeadScore.model == model_id)
    low, high = scores.select(pw.fn.MIN(LeadScore.score), pw.fn.MAX(LeadScore.score)).scalar(as_tuple=True)
    if low is None:
        return []
    width = bucket_width(low, high)
    base = (low // width) * width
    # ``score - base`` is never negative, so integer division is a floor on both backends.
    bucket = ((LeadScore.score - base) / width).alias("bucket")
    rows = (
        LeadScore.select(bucket, pw.fn.COUNT(LeadScore.id))
        .where(LeadScore.model == model_id)
        .group_by(pw.SQL("1"))
        .tuples()
    )
    counts = {int(index) + base // width: count for index, count in rows}
    return _filled(counts, width)


def count_at_or_above(model_id: int, threshold: int) -> int:
    """S6: how many leads have a score of at least ``threshold`` in the model."""
    return LeadScore.select().where((LeadScore.model == model_id) & (LeadScore.score >= threshold)).count()


@dataclass(frozen=True)
class RuleContribution:
    """S6: what one rule gave across every scored lead."""

    rule_id: str
    label: str
    points: int
    leads: int


_TOP_RULES_SQL = {
    "sqlite": """
        SELECT json_extract(item.value, '$.rule_id') AS rule_id,
               MAX(json_extract(item.value, '$.label')),
               SUM(json_extract(item.value, '$.points')) AS points,
               COUNT(*)
        FROM lead_score, json_each(lead_score.breakdown) AS item
        WHERE lead_score.model_id = ?
        GROUP BY rule_id
        ORDER BY ABS(points) DESC, rule_id
        LIMIT ?""",
    "postgres": """
        SELECT item ->> 'rule_id' AS rule_id,
               MAX(item ->> 'label'),
               SUM((item ->> 'points')::bigint) AS points,
               COUNT(*)
        FROM lead_score, jsonb_array_elements(lead_score.breakdown::jsonb) AS item
        WHERE lead_score.model_id = %s
        GROUP BY rule_id
        ORDER BY ABS(SUM((item ->> 'points')::bigint)) DESC, rule_id
        LIMIT %s""",
}


def top_rules(model_id: int, titles: dict[str, str] | None = None, limit: int = 10) -> list[RuleContribution]:
    """S6: the rules that gave the most points (in absolute value) over every stored
    breakdown of the model, summed in SQL; ``titles`` (rule id → title) names them
    as the model reads now, else the label stored with the score."""
    sql = _TOP_RULES_SQL["sqlite" if is_sqlite() else "postgres"]
    rows = db.execute_sql(sql, (model_id, limit)).fetchall()
    titles = titles or {}
    return [
        RuleContribution(str(rule_id), titles.get(str(rule_id)) or label or str(rule_id), int(points), leads)
        for rule_id, label, points, leads in rows
    ]


def rule_titles(model: scoring.ScoringModel) -> dict[str, str]:
    """Rule id → title, for every rule of ``model``."""
    return {rule.id: rule.title for rule in (*model.attribute_rules, *model.behaviour_rules)}


# --- What-if previews ------------------------------------------------------------


def recent_open_lead_ids(limit: int = SAMPLE_SIZE) -> list[int]:
    """The ids of the ``limit`` most recently created open leads."""
    query = (
        Lead.select(Lead.id)
        .where(Lead.status == lifecycle.OPEN)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(limit)
    )
    return [lead_id for (lead_id,) in query.tuples()]


def _live_scores(lead_ids: list[int], live_ids: list[int]) -> dict[int, dict[int, int]]:
    """lead id → {live model id → stored score}."""
    found: dict[int, dict[int, int]] = {}
    if not live_ids:
        return found
    query = LeadScore.select(LeadScore.lead, LeadScore.model, LeadScore.score).where(
        LeadScore.lead.in_(lead_ids) & LeadScore.model.in_(live_ids)
    )
    for lead_id, model_id, score in query.tuples():
        found.setdefault(lead_id, {})[model_id] = score
    return found


def _sample(lead_ids: list[int]):
    """(leads in the order of ``lead_ids``, facts, stored live scores) for one batch of the sample."""
    found = {lead.id: lead for lead in Lead.select().where(Lead.id.in_(lead_ids))}
    leads = {lead_id: found[lead_id] for lead_id in lead_ids if lead_id in found}
    return leads, load_facts(lead_ids), _live_scores(lead_ids, live_model_ids())


def live_model_ids() -> list[int]:
    """The ids of the live models."""
    return [row.id for row in ModelRow.select(ModelRow.id).where(ModelRow.status == scoring.LIVE)]


@dataclass(frozen=True)
class SampleLead:
    """One lead of a preview's sample: who, the draft's score (None for criteria)
    and why, line by line."""

    lead_id: int
    name: str
    score: int | None
    why: tuple[str, ...]
    qualifies: bool


@dataclass
class ModelPreview:
    """What a draft model would do to the sample: how many leads it would score,
    their distribution, how many would newly qualify (Q2, S5), and the first
    ``SHOWN_LEADS`` scored leads with their score and why."""

    sample: int = 0
    scored: int = 0
    qualify: int = 0
    scores: list[int] = field(default_factory=list)
    leads: list[SampleLead] = field(default_factory=list)

    @property
    def buckets(self) -> list[Bucket]:
        return buckets_of(self.scores)


def preview_model(model: scoring.ScoringModel, now: dt.datetime | None = None) -> ModelPreview:
    """Score the sample with ``model`` as if it were live, beside the live models'
    stored scores, and run the published criteria on the result."""
    now = now or utcnow()
    ids = recent_open_lead_ids()
    live_ids = [*live_model_ids(), model.id]
    criteria = _published_criteria()
    preview = ModelPreview(sample=len(ids))
    for start in range(0, len(ids), _BATCH):
        leads, facts, stored = _sample(ids[start : start + _BATCH])
        for lead_id, lead in leads.items():
            result = scoring.evaluate(model, facts[lead_id], now)
            if not result.in_audience:
                continue
            preview.scored += 1
            preview.scores.append(result.score)
            scores = {**stored.get(lead_id, {}), model.id: result.score}
            decision = qualification.decide(
                criteria,
                lead.state,
                scores,
                facts[lead_id],
                now,
                live_model_ids=live_ids,
                thresholds_reached=[model.id] if result.sales_ready else [],
            )
            preview.qualify += decision.qualifies
            if len(preview.leads) < SHOWN_LEADS:
                preview.leads.append(
                    SampleLead(lead_id, lead.name, result.score, _why(result), decision.qualifies)
                )
    return preview


def _why(result: scoring.ScoreResult) -> tuple[str, ...]:
    """The breakdown in words: "Email clicks: +20 (2 times, capped)"."""
    lines = []
    for rule in result.breakdown:
        detail = [f"{rule.occurrences} times"] if rule.occurrences > 1 else []
        if rule.capped:
            detail.append("capped")
        extra = f" ({', '.join(detail)})" if detail else ""
        lines.append(f"{rule.label}: {rule.points:+d}{extra}")
    return tuple(lines) or ("No rule matched.",)


def _published_criteria() -> list[qualification.Criteria]:
    from leads.scoring.scorer import published_criteria

    return published_criteria(live_model_ids())


@dataclass
class CriteriaPreview:
    """What draft criteria would do to the sample: how many leads meet them, and how
    many of those would newly qualify (the others are already qualified, Q4/Q5)."""

    sample: int = 0
    met: int = 0
    qualify: int = 0
    leads: list[SampleLead] = field(default_factory=list)


def preview_criteria(criteria: qualification.Criteria, now: dt.datetime | None = None) -> CriteriaPreview:
    """Apply ``criteria`` as if published to the sample, with the stored live scores."""
    now = now or utcnow()
    ids = recent_open_lead_ids()
    live_ids = live_model_ids()
    published = qualification.Criteria(
        criteria.id,
        criteria.name,
        criteria.rule,
        criteria.marketing_qualified,
        criteria.sales_ready,
        qualification.PUBLISHED,
    )
    preview = CriteriaPreview(sample=len(ids))
    for start in range(0, len(ids), _BATCH):
        leads, facts, stored = _sample(ids[start : start + _BATCH])
        for lead_id, lead in leads.items():
            scores = stored.get(lead_id, {})
            met, why = published.check(scores, facts[lead_id], now)
            if not met:
                continue
            preview.met += 1
            decision = qualification.decide(
                [published], lead.state, scores, facts[lead_id], now, live_model_ids=live_ids
            )
            preview.qualify += decision.qualifies
            if len(preview.leads) < SHOWN_LEADS:
                preview.leads.append(SampleLead(lead_id, lead.name, None, (why,), decision.qualifies))
    return preview
