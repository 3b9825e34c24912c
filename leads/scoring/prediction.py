"""Does the score predict? (SPEC D3) for a stored model: the leads that reached an
outcome (converted or disqualified) in a date range, each with the score it had
in the model when it last reached sales acceptance before that outcome (from
the score history, not today's score), or at the outcome when it never reached
sales acceptance; read in one query, then handed to ``leads.core.prediction``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import peewee as pw

from leads.core import csv_io, lifecycle, prediction
from leads.core import scoring as core_scoring
from leads.records.models import Lead, LeadHistory
from leads.scoring.facts import BATCH, load_facts
from leads.scoring.models import ScoreChange

DEFAULT_DAYS = 90
MAX_DAYS = 3660  # ten years: the widest range a page asks for


@dataclass(frozen=True)
class OutcomeScore:
    """One lead's outcome and the score it counts with (None: no score in the model then)."""

    lead_id: int
    converted: bool
    at_sales_acceptance: bool
    score: int | None
    moment: dt.datetime  # when the score counts: the last arrival in stage 5, else the outcome


def _outcome_filter():
    converted = (Lead.status == lifecycle.QUALIFIED) & (Lead.status_reason == lifecycle.REASON_CONVERTED)
    return converted | (Lead.status == lifecycle.DISQUALIFIED)


def outcome_scores(model_id: int, start: dt.datetime, end: dt.datetime) -> list[OutcomeScore]:
    """D3: every lead whose current outcome was recorded at or after ``start`` and
    before ``end``, with its score in the model at its last arrival in stage 5
    before the outcome (else at the outcome), in one query: the outcome time and
    the stage-5 time from the stage history, the score from the latest score
    change at or before that moment (correlated subqueries, on both backends)."""
    history = LeadHistory.alias("outcome_row")
    outcome_at = pw.fn.MAX(history.created_at)
    outcomes = (
        Lead.select(Lead.id.alias("lead_id"), Lead.status.alias("status"), outcome_at.alias("outcome_at"))
        .join(
            history,
            on=(history.lead == Lead.id) & (history.kind == "status") & (history.new_value == Lead.status),
        )
        .where(_outcome_filter())
        .group_by(Lead.id, Lead.status)
        .having((outcome_at >= start) & (outcome_at < end))
        .cte("outcome", columns=("lead_id", "status", "outcome_at"))
    )
    stage = LeadHistory.alias("stage_row")
    stage5_at = stage.select(pw.fn.MAX(stage.created_at)).where(
        (stage.lead == outcomes.c.lead_id)
        & (stage.kind == "stage")
        & (stage.new_value == str(lifecycle.SALES_ACCEPTANCE))
        & (stage.created_at <= outcomes.c.outcome_at)
    )
    moments = (
        outcomes.select_from(
            outcomes.c.lead_id, outcomes.c.status, outcomes.c.outcome_at, stage5_at.alias("stage5_at")
        )
    ).cte("moment", columns=("lead_id", "status", "outcome_at", "stage5_at"))
    score = (
        ScoreChange.select(ScoreChange.new_score)
        .where(
            (ScoreChange.lead == moments.c.lead_id)
            & (ScoreChange.model == model_id)
            & (ScoreChange.created_at <= pw.fn.COALESCE(moments.c.stage5_at, moments.c.outcome_at))
        )
        .order_by(ScoreChange.created_at.desc(), ScoreChange.id.desc())
        .limit(1)
    )
    query = (
        moments.select_from(
            moments.c.lead_id,
            moments.c.status,
            moments.c.stage5_at,
            score.alias("score"),
            pw.fn.COALESCE(moments.c.stage5_at, moments.c.outcome_at).alias("moment"),
        )
        .with_cte(outcomes, moments)
        .order_by(moments.c.lead_id)
        .tuples()
    )
    as_time = pw.DateTimeField().python_value  # SQLite hands a CTE's times back as text
    return [
        OutcomeScore(lead_id, status == lifecycle.QUALIFIED, stage5 is not None, score, as_time(moment))
        for lead_id, status, stage5, score, moment in query
    ]


Progress = Callable[[int, int], None]  # (outcomes scored so far, outcomes in all)


def what_if_scores(
    model: core_scoring.ScoringModel,
    start: dt.datetime,
    end: dt.datetime,
    progress: Progress | None = None,
) -> list[OutcomeScore]:
    """D3 for a draft: the same outcomes, each scored now by ``model`` as it would
    have been at its moment, from the interactions stored up to then and the
    lead's current fields (``load_facts`` per batch of leads, not per lead);
    ``progress`` is told after each batch."""
    rows = outcome_scores(model.id, start, end)
    if progress is not None:
        progress(0, len(rows))
    scored = []
    for first in range(0, len(rows), BATCH):
        batch = rows[first : first + BATCH]
        facts = load_facts([row.lead_id for row in batch])
        for row in batch:
            score = (
                prediction.score_as_of(model, facts[row.lead_id], row.moment)
                if row.lead_id in facts
                else None
            )
            scored.append(replace(row, score=score))
        if progress is not None:
            progress(len(scored), len(rows))
    return scored


@dataclass(frozen=True)
class ModelPrediction:
    """What the insights page shows: the figures and where the scores came from."""

    figures: prediction.Prediction
    at_sales_acceptance: int
    at_outcome: int
    unscored: int
    by_grade: bool
    what_if: bool = False  # scored now by a draft, not read from the score history

    def to_dict(self) -> dict:
        """The figures as JSON-ready values (a what-if job stores them on its task)."""
        data = asdict(self)
        data["figures"]["bands"] = list(data["figures"]["bands"])  # as JSON gives it back
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelPrediction:
        figures = dict(data["figures"])
        figures["bands"] = tuple(prediction.Band(**band) for band in figures["bands"])
        return cls(**{**data, "figures": prediction.Prediction(**figures)})


def bands_for(model: core_scoring.ScoringModel) -> list[prediction.Band]:
    """The model's grade bands when it defines grades, else the default score bands."""
    if model.grades:
        return prediction.grade_bands([(grade.label, grade.min_score) for grade in model.grades])
    return prediction.score_bands()


def model_prediction(
    model: core_scoring.ScoringModel,
    start: dt.date,
    end: dt.date,
    what_if: bool = False,
    progress: Progress | None = None,
) -> ModelPrediction:
    """D3 for ``model`` over the outcomes from ``start`` to ``end`` (whole days, both
    included): from the score history, or with ``what_if`` (a draft, which has
    none) as the model would have scored them (``progress`` told per batch)."""
    since, until = _midnight(start), _midnight(end + dt.timedelta(days=1))
    if what_if:
        rows = what_if_scores(model, since, until, progress)
    else:
        rows = outcome_scores(model.id, since, until)
    scored = [row for row in rows if row.score is not None]
    return ModelPrediction(
        figures=prediction.predict([(row.score, row.converted) for row in scored], bands_for(model)),
        at_sales_acceptance=sum(row.at_sales_acceptance for row in scored),
        at_outcome=sum(not row.at_sales_acceptance for row in scored),
        unscored=len(rows) - len(scored),
        by_grade=bool(model.grades),
        what_if=what_if,
    )


def outcome_count(start: dt.date, end: dt.date) -> int:
    """How many leads reached an outcome from ``start`` to ``end`` (whole days): the
    rows a what-if would score (one query, no scores read)."""
    since, until = _midnight(start), _midnight(end + dt.timedelta(days=1))
    history = LeadHistory.alias("outcome_row")
    outcome_at = pw.fn.MAX(history.created_at)
    outcomes = (
        Lead.select(Lead.id)
        .join(
            history,
            on=(history.lead == Lead.id) & (history.kind == "status") & (history.new_value == Lead.status),
        )
        .where(_outcome_filter())
        .group_by(Lead.id, Lead.status)
        .having((outcome_at >= since) & (outcome_at < until))
    )
    return outcomes.count()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last ``DEFAULT_DAYS`` days, today included."""
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


CSV_COLUMNS = (
    ("band", "Score band"),
    ("converted", "Converted"),
    ("disqualified", "Disqualified"),
    ("outcomes", "Outcomes"),
    ("rate", "Conversion rate (%)"),
)


def bands_csv(result: ModelPrediction) -> Iterator[str]:
    """The conversion rate per band as CSV lines (formula-neutralised)."""
    rows = [
        {
            "band": band.label,
            "converted": band.converted,
            "disqualified": band.disqualified,
            "outcomes": band.outcomes,
            "rate": "" if band.rate is None else f"{band.rate * 100:.1f}",
        }
        for band in result.figures.bands
    ]
    return csv_io.export_csv(rows, CSV_COLUMNS)


# --- The calibration chart -------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 640, 240
_LEFT, _BOTTOM, _TOP = 44, 40, 20  # room for the y axis, the band labels and the rates


@dataclass(frozen=True)
class RateBar:
    """One band's bar, in the chart's own units (height 0 for an empty band)."""

    x: float
    y: float
    width: float
    height: float
    band: prediction.Band

    @property
    def percent(self) -> str:
        return "–" if self.band.rate is None else f"{self.band.rate * 100:.0f}%"


def rate_bars(bands: tuple[prediction.Band, ...] | list[prediction.Band]) -> list[RateBar]:
    """Where to draw each band's conversion rate (0 to 100 %) in a
    ``CHART_WIDTH`` × ``CHART_HEIGHT`` view box."""
    if not bands:
        return []
    slot = (CHART_WIDTH - _LEFT) / len(bands)
    room = CHART_HEIGHT - _BOTTOM - _TOP
    bars = []
    for index, band in enumerate(bands):
        height = room * (band.rate or 0)
        bars.append(
            RateBar(
                x=round(_LEFT + index * slot + slot * 0.15, 1),
                y=round(CHART_HEIGHT - _BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                band=band,
            )
        )
    return bars


def chart_geometry() -> dict:
    """The fixed lines of the chart: the axes and the 0/50/100 % ticks."""
    base = CHART_HEIGHT - _BOTTOM
    room = CHART_HEIGHT - _BOTTOM - _TOP
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": _LEFT,
        "base": base,
        "ticks": [(percent, round(base - room * percent / 100, 1)) for percent in (0, 50, 100)],
    }
