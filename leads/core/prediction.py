"""Does the score predict? (SPEC D3) as pure functions over plain values.

An *outcome* is a ``(score, converted)`` pair: the score a lead had when it
reached sales acceptance (or at its outcome) and whether it converted (True) or
was disqualified (False). From a list of them: the conversion rate per score
band (a calibration table), the AUC of the score against the outcome, and one
sentence a marketer can read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from leads.core.conditions import Facts
from leads.core.scoring import ScoringModel, evaluate

MIN_OUTCOMES = 100  # fewer outcomes than this and the figures are noise
DEFAULT_EDGES = (20, 40, 60, 80)  # bands: under 20, 20–39, 40–59, 60–79, 80+


@dataclass(frozen=True)
class Band:
    """Scores from ``low`` to ``high`` (both included; None: unbounded), with how
    many of the outcomes in it converted and how many were disqualified."""

    label: str
    low: int | None
    high: int | None
    converted: int = 0
    disqualified: int = 0
    dropped_when_empty: bool = False  # the scores under every grade

    @property
    def outcomes(self) -> int:
        return self.converted + self.disqualified

    @property
    def rate(self) -> float | None:
        """The share of the band's outcomes that converted, None when it has none."""
        return self.converted / self.outcomes if self.outcomes else None

    def holds(self, score: int) -> bool:
        """True when ``score`` falls in the band."""
        return (self.low is None or score >= self.low) and (self.high is None or score <= self.high)


def auc(positives: Iterable[float], negatives: Iterable[float]) -> float | None:
    """The probability that a random positive scores above a random negative, a tie
    counting half: the Mann–Whitney U of the positives over ``n_pos × n_neg``,
    from the pooled ranks (ties get their average rank). None when either side
    is empty."""
    pos, neg = list(positives), list(negatives)
    if not pos or not neg:
        return None
    pooled = sorted([(score, True) for score in pos] + [(score, False) for score in neg])
    rank_sum, index = 0.0, 0
    while index < len(pooled):
        end = index
        while end < len(pooled) and pooled[end][0] == pooled[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2  # ranks index+1 … end, averaged
        rank_sum += average_rank * sum(1 for _, positive in pooled[index:end] if positive)
        index = end
    u = rank_sum - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


def score_bands(edges: Sequence[int] = DEFAULT_EDGES) -> list[Band]:
    """Empty bands cut at ``edges`` (sorted lower bounds): under the first, one per
    gap, and the last open above."""
    cuts = sorted(set(edges))
    if not cuts:
        return [Band("Every score", None, None)]
    bands = [Band(f"Under {cuts[0]}", None, cuts[0] - 1)]
    bands += [Band(f"{low}–{high - 1}", low, high - 1) for low, high in zip(cuts, cuts[1:], strict=False)]
    bands.append(Band(f"{cuts[-1]}+", cuts[-1], None))
    return bands


def grade_bands(grades: Sequence[tuple[str, int]]) -> list[Band]:
    """Empty bands for a model's grades (``(label, min_score)`` pairs): one per
    grade from its minimum to the next grade's, lowest first, after a
    "No grade" band for the scores under every grade."""
    ordered = sorted(grades, key=lambda grade: grade[1])
    bands = [Band(f"No grade (under {ordered[0][1]})", None, ordered[0][1] - 1, dropped_when_empty=True)]
    for (label, low), (_next, upper) in zip(ordered, ordered[1:], strict=False):
        bands.append(Band(f"{label} ({low}–{upper - 1})", low, upper - 1))
    bands.append(Band(f"{ordered[-1][0]} ({ordered[-1][1]}+)", ordered[-1][1], None))
    return bands


def fill(bands: Sequence[Band], outcomes: Iterable[tuple[int, bool]]) -> list[Band]:
    """``bands`` with the outcomes counted in; a leading band for scores under
    every grade is dropped when it stays empty (a model whose grades start at
    its lowest score)."""
    converted = [0] * len(bands)
    disqualified = [0] * len(bands)
    for score, won in outcomes:
        index = next(i for i, band in enumerate(bands) if band.holds(score))
        if won:
            converted[index] += 1
        else:
            disqualified[index] += 1
    filled = [
        replace(band, converted=converted[i], disqualified=disqualified[i]) for i, band in enumerate(bands)
    ]
    return [band for band in filled if band.outcomes or not band.dropped_when_empty]


def _group(bands: Sequence[Band]) -> tuple[int, int]:
    return sum(band.converted for band in bands), sum(band.outcomes for band in bands)


def lift_sentence(bands: Sequence[Band], minimum: int = MIN_OUTCOMES) -> str:
    """One sentence on what the bands say: how much more often the top half of the
    bands converted than the lowest band, or why that cannot be said yet."""
    total = sum(band.outcomes for band in bands)
    if total < minimum:
        return f"Not enough outcomes yet: {total} of the {minimum} needed."
    if len(bands) < 2:
        return "Only one score band: there is nothing to compare."
    top, bottom = bands[len(bands) - len(bands) // 2 :], bands[0]
    top_won, top_total = _group(top)
    top_name = f"Leads scoring {top[0].low} or more"
    bottom_name = f"leads under {bottom.high + 1}"
    if not top_total:
        return f"No lead scoring {top[0].low} or more reached an outcome: there is nothing to compare."
    if not bottom.outcomes:
        return f"No lead under {bottom.high + 1} reached an outcome: there is nothing to compare."
    top_rate, bottom_rate = top_won / top_total, bottom.converted / bottom.outcomes
    if not bottom_rate:
        if not top_rate:
            return "No lead converted in this period."
        return f"{top_name} converted {top_rate:.0%} of the time; {bottom_name} never did."
    return f"{top_name} converted {top_rate / bottom_rate:.1f}× as often as {bottom_name}."


@dataclass(frozen=True)
class Prediction:
    """Everything the page shows: the filled bands, the AUC (None when it cannot be
    computed), the outcome counts and the sentence."""

    bands: tuple[Band, ...]
    auc: float | None
    converted: int
    disqualified: int
    sentence: str
    minimum: int

    @property
    def outcomes(self) -> int:
        return self.converted + self.disqualified

    @property
    def enough(self) -> bool:
        return self.outcomes >= self.minimum


def predict(
    outcomes: Iterable[tuple[int, bool]], bands: Sequence[Band], minimum: int = MIN_OUTCOMES
) -> Prediction:
    """D3 from ``(score, converted)`` pairs, counted into ``bands``."""
    pairs = list(outcomes)
    filled = fill(bands, pairs)
    won = [score for score, converted in pairs if converted]
    lost = [score for score, converted in pairs if not converted]
    return Prediction(
        bands=tuple(filled),
        auc=auc(won, lost),
        converted=len(won),
        disqualified=len(lost),
        sentence=lift_sentence(filled, minimum),
        minimum=minimum,
    )


def score_as_of(model: ScoringModel, facts: Facts, moment: dt.datetime) -> int | None:
    """What ``model`` would have scored the lead at ``moment`` (naive UTC) from the
    interactions it had by then, its windows counted back from then; None when
    the lead is outside the model's audience. The record fields are as given
    (their past values are not kept)."""
    then = replace(
        facts, interactions=tuple(event for event in facts.interactions if event.occurred_at <= moment)
    )
    result = evaluate(model, then, moment)
    return result.score if result.in_audience else None
