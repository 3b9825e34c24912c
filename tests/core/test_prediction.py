"""Does the score predict? (SPEC D3): the AUC, the score bands and the sentence,
on hand-made sets whose answers are known, and the AUC's invariants."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.core.conditions import Facts, InteractionFact
from leads.core.prediction import (
    MIN_OUTCOMES,
    auc,
    fill,
    grade_bands,
    lift_sentence,
    predict,
    score_as_of,
    score_bands,
)
from leads.core.scoring import ScoringModel


def test_d3_auc_is_one_when_every_conversion_outscores_every_disqualification():
    assert auc([3, 4, 9], [1, 2]) == 1.0


def test_d3_auc_is_zero_when_the_order_is_reversed():
    assert auc([1, 2], [3, 4, 9]) == 0.0


def test_d3_auc_is_one_half_when_every_score_ties():
    assert auc([5, 5], [5, 5, 5]) == 0.5


def test_d3_auc_of_a_small_mixed_set_counts_ties_half():
    # Pairs won by the conversion: 10 beats 5; 20 beats 15 and 5 and ties 20; 30 beats all: 6.5 of 9.
    assert auc([10, 20, 30], [15, 20, 5]) == pytest.approx(13 / 18)


def test_d3_auc_needs_both_outcomes():
    assert auc([], [1, 2]) is None
    assert auc([1], []) is None


def _pairwise(pos, neg):
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


scores = st.lists(st.integers(-50, 50), min_size=1, max_size=30)


@given(scores, scores)
def test_d3_auc_equals_the_share_of_pairs_won_and_swapping_sides_complements_it(pos, neg):
    value = auc(pos, neg)
    assert value == pytest.approx(_pairwise(pos, neg))
    assert 0.0 <= value <= 1.0
    assert auc(neg, pos) == pytest.approx(1 - value)


def test_d3_default_bands_cover_every_score_including_negative_ones():
    outcomes = [(-5, False), (0, False), (19, True), (20, False), (39, True), (40, True), (59, False)]
    outcomes += [(60, True), (79, True), (80, True), (500, False)]
    bands = fill(score_bands(), outcomes)
    assert [band.label for band in bands] == ["Under 20", "20–39", "40–59", "60–79", "80+"]
    assert [(band.converted, band.disqualified) for band in bands] == [(1, 2), (1, 1), (1, 1), (2, 0), (1, 1)]
    assert bands[0].rate == pytest.approx(1 / 3)
    assert bands[3].rate == 1.0


def test_d3_an_empty_band_has_no_rate():
    bands = fill(score_bands(), [(10, True)])
    assert bands[4].outcomes == 0 and bands[4].rate is None


def test_d3_grade_bands_follow_the_grades_and_keep_scores_under_every_grade_only_when_there_are_some():
    grades = [("A", 80), ("B", 50), ("C", 0)]
    bands = fill(grade_bands(grades), [(0, False), (49, True), (50, True), (90, True)])
    assert [band.label for band in bands] == ["C (0–49)", "B (50–79)", "A (80+)"]
    assert [(band.converted, band.disqualified) for band in bands] == [(1, 1), (1, 0), (1, 0)]
    with_negative = fill(grade_bands(grades), [(-3, False), (90, True)])
    assert with_negative[0].label == "No grade (under 0)"
    assert with_negative[0].disqualified == 1


def _outcomes(band_low: int, converted: int, disqualified: int) -> list[tuple[int, bool]]:
    return [(band_low, True)] * converted + [(band_low, False)] * disqualified


def test_d3_the_sentence_compares_the_top_bands_with_the_lowest():
    # 60+: 31 of 50 converted (62 %); under 20: 2 of 10 (20 %): 3.1 times as often.
    outcomes = _outcomes(5, 2, 8) + _outcomes(30, 5, 15) + _outcomes(70, 20, 10) + _outcomes(90, 11, 9)
    prediction = predict(outcomes, score_bands())
    assert prediction.outcomes == 80
    assert prediction.sentence == "Not enough outcomes yet: 80 of the 100 needed."
    outcomes += _outcomes(45, 5, 15)
    prediction = predict(outcomes, score_bands())
    assert prediction.enough and prediction.converted == 43 and prediction.disqualified == 57
    assert prediction.sentence == "Leads scoring 60 or more converted 3.1× as often as leads under 20."


def test_d3_not_enough_outcomes_says_how_many_of_the_minimum():
    assert MIN_OUTCOMES == 100
    bands = fill(score_bands(), _outcomes(10, 4, 8))
    assert lift_sentence(bands) == "Not enough outcomes yet: 12 of the 100 needed."


def test_d3_the_sentence_when_the_lowest_band_never_converted_or_a_side_is_empty():
    never = fill(score_bands(), _outcomes(10, 0, 4) + _outcomes(85, 1, 3))
    assert (
        lift_sentence(never, minimum=1)
        == "Leads scoring 60 or more converted 25% of the time; leads under 20 never did."
    )
    nobody = fill(score_bands(), _outcomes(10, 0, 4) + _outcomes(85, 0, 3))
    assert lift_sentence(nobody, minimum=1) == "No lead converted in this period."
    no_top = fill(score_bands(), _outcomes(10, 1, 4))
    assert (
        lift_sentence(no_top, minimum=1)
        == "No lead scoring 60 or more reached an outcome: there is nothing to compare."
    )
    no_bottom = fill(score_bands(), _outcomes(70, 1, 4))
    assert (
        lift_sentence(no_bottom, minimum=1)
        == "No lead under 20 reached an outcome: there is nothing to compare."
    )


def test_d3_the_sentence_over_grade_bands_names_the_scores_of_the_grades():
    bands = fill(grade_bands([("A", 80), ("B", 50), ("C", 0)]), _outcomes(10, 1, 4) + _outcomes(85, 3, 1))
    # Three grades: the top one (A, 80+) against the lowest (C, under 50): 75 % against 20 %.
    assert (
        lift_sentence(bands, minimum=1)
        == "Leads scoring 80 or more converted 3.8× as often as leads under 50."
    )


def test_d3_predict_with_no_outcomes():
    prediction = predict([], score_bands())
    assert prediction.auc is None and prediction.outcomes == 0
    assert prediction.sentence == "Not enough outcomes yet: 0 of the 100 needed."


def _clicks_model(**extra) -> ScoringModel:
    return ScoringModel.from_dict(
        {
            "id": 1,
            "name": "Clicks",
            "behaviour_rules": [{"id": "clicks", "type": "email_clicked", "points": 10, "window_days": 30}],
            "attribute_rules": [
                {
                    "id": "fr",
                    "condition": {"entity": "lead", "field": "country", "operator": "equals", "value": "FR"},
                    "points": 5,
                }
            ],
            **extra,
        }
    )


def test_d3_a_draft_scores_a_lead_as_of_a_moment_from_the_interactions_it_had_then():
    moment = dt.datetime(2026, 6, 1, 12, 0)
    clicks = [
        moment - dt.timedelta(days=40),
        moment - dt.timedelta(days=10),
        moment,
        moment + dt.timedelta(hours=1),
    ]
    facts = Facts(
        lead={"country": "FR"},
        interactions=tuple(
            InteractionFact("email_clicked", at, external_id=f"c{i}") for i, at in enumerate(clicks)
        ),
    )
    # The click 40 days before is out of the 30-day window, the one after the moment not yet there.
    assert score_as_of(_clicks_model(), facts, moment) == 5 + 2 * 10
    assert score_as_of(_clicks_model(), facts, moment + dt.timedelta(days=60)) == 5
    audience = {
        "op": "and",
        "items": [{"entity": "lead", "field": "country", "operator": "equals", "value": "DE"}],
    }
    assert score_as_of(_clicks_model(audience=audience), facts, moment) is None
