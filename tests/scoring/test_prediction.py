"""Does the score predict? (SPEC D3) on a stored model, on SQLite and PostgreSQL:
a small hand-made history whose answer is known (the score at the stage-5
moment, not today's; the bands, the AUC, the sentence, "not enough"), then the
insights page, its date range, its CSV and who may see it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from auth.models import ADMIN, MANAGER, REP, TELEPROSPECTOR
from leads.base.db import utcnow
from leads.core import lifecycle
from leads.core import scoring as core_scoring
from leads.records.models import Interaction, Lead, LeadHistory
from leads.scoring import prediction as scoring_prediction
from leads.scoring.models import LeadScore, ScoreChange
from leads.scoring.models import ScoringModel as ModelRow
from tests.factories import count_queries, make_contact, make_lead
from tests.scoring.test_scoring_ui import HX, signed_in, stored_model, text_of

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def _history(lead, kind, old, new, at):
    LeadHistory.create(lead=lead, kind=kind, old_value=old, new_value=new, created_at=at)


def _score(lead, model, new, at, old=None):
    ScoreChange.create(lead=lead, model=model, old_score=old, new_score=new, cause="test", created_at=at)


def outcome_lead(model, score, converted, *, days_ago=10, via_stage_5=True, later_score=None):
    """A lead scored ``score`` in ``model`` two days before its outcome, which was
    ``days_ago`` days ago; it reached stage 5 one day before the outcome (unless
    not ``via_stage_5``); ``later_score`` is a change after the stage-5 moment."""
    outcome_at = utcnow() - days_ago * DAY
    status = lifecycle.QUALIFIED if converted else lifecycle.DISQUALIFIED
    reason = lifecycle.REASON_CONVERTED if converted else "no_budget"
    stage = lifecycle.SALES_ACCEPTANCE if via_stage_5 else lifecycle.TP_ACCEPTANCE
    lead = make_lead(stage=stage, status=status, status_reason=reason)
    _score(lead, model, score, outcome_at - 2 * DAY)
    if via_stage_5:
        _history(lead, "stage", "2", "5", outcome_at - DAY)
    else:
        _history(lead, "stage", "2", "3", outcome_at - DAY)
    if later_score is not None:
        _score(lead, model, later_score, outcome_at - DAY + HOUR, old=score)
    _history(lead, "status", lifecycle.OPEN, status, outcome_at)
    LeadScore.create(lead=lead, model=model, score=later_score if later_score is not None else score)
    return lead


def known_history(model, other):
    """Five counted outcomes: converted at 85 (now 10), 70 and 15; disqualified at 10
    and, without reaching stage 5, at 30; plus leads that must not count."""
    leads = {
        "85": outcome_lead(model, 85, True, later_score=10),
        "70": outcome_lead(model, 70, True),
        "15": outcome_lead(model, 15, True),
        "10": outcome_lead(model, 10, False),
        "30": outcome_lead(model, 30, False, via_stage_5=False),
    }
    outcome_lead(model, 90, True, days_ago=120)  # outside the last 90 days
    outcome_lead(other, 50, False)  # no score in this model at that moment: left out
    open_lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE)  # no outcome
    _score(open_lead, model, 99, utcnow() - 5 * DAY)
    _history(open_lead, "stage", "2", "5", utcnow() - 4 * DAY)
    return leads


def live_model(app, user, name="Engagement"):
    """A stored model marked live (its score history is what counts), without
    the re-scoring that publishing starts."""
    row = stored_model(app, user, name=name)
    ModelRow.update(status=core_scoring.LIVE).where(ModelRow.id == row.id).execute()
    return ModelRow.get_by_id(row.id)


def _model(row):
    return core_scoring.ScoringModel.from_dict({**row.definition, "id": row.id, "name": row.name})


def _last_90_days():
    return scoring_prediction.default_range(utcnow().date())


def test_d3_each_outcome_counts_with_its_score_at_stage_5_or_at_the_outcome(app):
    _, _, user = signed_in(app)
    row, other = live_model(app, user), live_model(app, user, name="Other")
    leads = known_history(row, other)
    start, end = _last_90_days()

    rows = scoring_prediction.outcome_scores(row.id, dt.datetime.combine(start, dt.time()), utcnow() + DAY)
    found = {item.lead_id: (item.score, item.converted, item.at_sales_acceptance) for item in rows}
    assert found[leads["85"].id] == (85, True, True)  # the stage-5 score, not the later 10
    assert found[leads["30"].id] == (30, False, False)  # never reached stage 5: its score at the outcome
    assert sorted(score for score, _, _ in found.values() if score is not None) == [10, 15, 30, 70, 85]
    assert sum(score is None for score, _, _ in found.values()) == 1

    result = scoring_prediction.model_prediction(_model(row), start, end)
    figures = result.figures
    assert (figures.converted, figures.disqualified) == (3, 2)
    assert (result.at_sales_acceptance, result.at_outcome, result.unscored) == (4, 1, 1)
    assert [(band.label, band.converted, band.disqualified) for band in figures.bands] == [
        ("Under 20", 1, 1),
        ("20–39", 0, 1),
        ("40–59", 0, 0),
        ("60–79", 1, 0),
        ("80+", 1, 0),
    ]
    # Converted 85, 70, 15 against disqualified 10, 30: 5 of the 6 pairs are won.
    assert abs(figures.auc - 5 / 6) < 1e-9
    assert figures.sentence == "Not enough outcomes yet: 5 of the 100 needed."


def test_d3_todays_score_is_not_used(app):
    _, _, user = signed_in(app)
    row, other = live_model(app, user), live_model(app, user, name="Other")
    leads = known_history(row, other)
    start, end = _last_90_days()
    before = scoring_prediction.model_prediction(_model(row), start, end)

    lead = leads["10"]  # disqualified at 10; now rescored to 95, today
    _score(lead, row, 95, utcnow(), old=10)
    LeadScore.update(score=95).where(LeadScore.lead == lead.id).execute()
    after = scoring_prediction.model_prediction(_model(row), start, end)
    assert after == before
    assert after.figures.bands[0].disqualified == 1


def test_d3_the_date_range_counts_outcomes_by_the_day_they_happened(app):
    _, _, user = signed_in(app)
    row = live_model(app, user)
    outcome_lead(row, 50, True, days_ago=10)
    outcome_lead(row, 50, False, days_ago=40)
    today = utcnow().date()
    counts = [
        scoring_prediction.model_prediction(_model(row), today - days * DAY, today).figures.outcomes
        for days in (5, 10, 39, 40)
    ]
    assert counts == [0, 1, 1, 2]


def _bulk_outcomes(model, plan):
    """``plan``: (score, converted, disqualified) per band, stored in three bulk inserts."""
    outcome_at = utcnow() - 3 * DAY
    specs = [(score, won) for score, wins, losses in plan for won in [True] * wins + [False] * losses]
    rows = [
        {
            "topic": f"Bulk {index}",
            "stage": lifecycle.SALES_ACCEPTANCE,
            "status": lifecycle.QUALIFIED if won else lifecycle.DISQUALIFIED,
            "status_reason": lifecycle.REASON_CONVERTED if won else "no_budget",
        }
        for index, (_score_value, won) in enumerate(specs)
    ]
    Lead.insert_many(rows).execute()
    ids = [
        lead_id
        for (lead_id,) in Lead.select(Lead.id)
        .where(Lead.topic.startswith("Bulk "))
        .order_by(Lead.id)
        .tuples()
    ]
    ScoreChange.insert_many(
        [
            {
                "lead": lead_id,
                "model": model.id,
                "new_score": score,
                "cause": "test",
                "created_at": outcome_at - DAY,
            }
            for lead_id, (score, _) in zip(ids, specs, strict=True)
        ]
    ).execute()
    LeadHistory.insert_many(
        [
            row
            for lead_id, (_, won) in zip(ids, specs, strict=True)
            for row in (
                {
                    "lead": lead_id,
                    "kind": "stage",
                    "old_value": "4",
                    "new_value": "5",
                    "created_at": outcome_at - HOUR,
                },
                {
                    "lead": lead_id,
                    "kind": "status",
                    "old_value": lifecycle.OPEN,
                    "new_value": lifecycle.QUALIFIED if won else lifecycle.DISQUALIFIED,
                    "created_at": outcome_at,
                },
            )
        ]
    ).execute()


# Under 20: 2 of 10 converted (20 %); 60 or more: 31 of 50 (62 %): 3.1 times as often.
HUNDRED = [(5, 2, 8), (30, 5, 15), (45, 5, 15), (70, 20, 10), (90, 11, 9)]


def test_d3_with_a_hundred_outcomes_the_sentence_compares_the_top_bands_with_the_lowest(app):
    _, _, user = signed_in(app)
    row = live_model(app, user)
    _bulk_outcomes(row, HUNDRED)
    start, end = _last_90_days()
    with count_queries() as sql:
        result = scoring_prediction.model_prediction(_model(row), start, end)
    assert len(sql) == 1  # one query for a hundred outcomes, no query per lead
    assert result.figures.outcomes == 100
    with count_queries() as sql:
        scoring_prediction.model_prediction(_model(row), start, end, what_if=True)
    assert len(sql) <= 6  # the outcomes, then a draft's facts per batch of leads
    assert result.figures.sentence == "Leads scoring 60 or more converted 3.1× as often as leads under 20."
    client, _, _ = signed_in(app)
    page = client.get(f"/scoring/models/{row.id}/insights").get_data(as_text=True)
    assert (
        text_of(page, "prediction-sentence")
        == "Leads scoring 60 or more converted 3.1× as often as leads under 20."
    )


def test_d3_a_model_with_grades_is_banded_by_its_grades(app):
    _, _, user = signed_in(app)
    row = live_model(app, user)
    row.definition = {
        **row.definition,
        "grades": [{"label": "A", "min_score": 60}, {"label": "B", "min_score": 0}],
    }
    row.save()
    outcome_lead(row, 70, True)
    outcome_lead(row, 10, False)
    start, end = _last_90_days()
    result = scoring_prediction.model_prediction(_model(row), start, end)
    assert result.by_grade
    assert [(band.label, band.outcomes) for band in result.figures.bands] == [("B (0–59)", 1), ("A (60+)", 1)]
    assert result.figures.auc == 1.0


# --- The insights page -------------------------------------------------------------


def test_d3_the_insights_page_shows_the_sentence_the_auc_the_chart_the_table_and_a_csv(app):
    client, _, user = signed_in(app)
    row, other = live_model(app, user), live_model(app, user, name="Other")
    known_history(row, other)

    page = client.get(f"/scoring/models/{row.id}/insights").get_data(as_text=True)
    assert text_of(page, "prediction-sentence") == "Not enough outcomes yet: 5 of the 100 needed."
    assert text_of(page, "prediction-auc") == "0.83"
    assert text_of(page, "prediction-outcomes") == "5 (3 converted, 2 disqualified)"
    assert "1 left out, with no score in this model" in text_of(page, "prediction")
    assert "Sales acceptance" in text_of(page, "prediction")  # the help says which score counts
    assert text_of(page, "prediction-bands") == (
        "Score band Converted Disqualified Outcomes Conversion rate "
        "Under 20 1 1 2 50.0% 20–39 0 1 1 0.0% 40–59 0 0 0 – 60–79 1 0 1 100.0% 80+ 1 0 1 100.0%"
    )
    chart = page.split('class="score-chart calibration-chart"', 1)[1].split("</figure>", 1)[0]
    assert "<title>Conversion rate per score band</title>" in chart and ">Converted</text>" in chart
    assert re.findall(r'<text class="count"[^>]*>([^<]+)</text>', chart) == ["50%", "0%", "–", "100%", "100%"]
    assert "style=" not in page.split("<main", 1)[1]  # CSP: no inline styles

    link = re.search(r'href="([^"]*prediction\.csv[^"]*)"', page).group(1).replace("&amp;", "&")
    download = client.get(link)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Score band", "Converted", "Disqualified", "Outcomes", "Conversion rate (%)"]
    assert rows[1:] == [
        ["Under 20", "1", "1", "2", "50.0"],
        ["20–39", "0", "1", "1", "0.0"],
        ["40–59", "0", "0", "0", ""],
        ["60–79", "1", "0", "1", "100.0"],
        ["80+", "1", "0", "1", "100.0"],
    ]


def test_d3_the_range_form_swaps_the_figures_in_place_and_refuses_bad_days_inline(app):
    client, _, user = signed_in(app)
    row = live_model(app, user)
    outcome_lead(row, 70, True, days_ago=10)
    outcome_lead(row, 10, False, days_ago=40)
    today = utcnow().date()
    url = f"/scoring/models/{row.id}/insights"
    target = {**HX, "HX-Target": "prediction"}

    recent = client.get(
        url, query_string={"from": (today - 20 * DAY).isoformat(), "to": today.isoformat()}, headers=target
    )
    html = recent.get_data(as_text=True)
    assert recent.status_code == 200 and html.count('id="prediction"') == 1 and "insights-scored" not in html
    assert text_of(html, "prediction-outcomes") == "1 (1 converted, 0 disqualified)"
    assert text_of(html, "prediction-auc") == "needs both converted and disqualified leads"
    both = client.get(url, query_string={"from": (today - 60 * DAY).isoformat()}, headers=target)
    assert text_of(both.get_data(as_text=True), "prediction-auc") == "1.00"
    empty = client.get(
        url, query_string={"to": (today - 50 * DAY).isoformat(), "from": (today - 55 * DAY).isoformat()}
    )
    assert "No lead with a score in this model reached an outcome" in text_of(
        empty.get_data(as_text=True), "prediction"
    )

    for query, reason in (
        ({"from": "abc"}, "Not a valid date value."),
        ({"from": today.isoformat(), "to": (today - DAY).isoformat()}, "Must be on or after “from”."),
        ({"to": "9999-12-31"}, "Choose a day after 1970."),
        ({"from": "1900-01-01"}, "Choose a day after 1970."),
        ({"from": "1971-01-01", "to": "2026-01-01"}, "Choose at most 3660 days."),
    ):
        response = client.get(url, query_string=query, headers=target)
        assert response.status_code == 200
        assert reason in text_of(response.get_data(as_text=True), "prediction")
        assert client.get(f"{url}/prediction.csv", query_string=query).status_code == 400
    assert client.get(url, query_string={"from": "\x00"}).status_code == 200


@pytest.mark.parametrize("role", [ADMIN, MANAGER, REP, TELEPROSPECTOR])
def test_d3_the_same_roles_as_the_insights_page_see_the_figures_and_the_csv(app, role):
    _, _, owner = signed_in(app)
    row = live_model(app, owner)
    outcome_lead(row, 70, True)
    client, _, _ = signed_in(app, role)
    page = client.get(f"/scoring/models/{row.id}/insights")
    download = client.get(f"/scoring/models/{row.id}/insights/prediction.csv")
    expected = 200 if role in (ADMIN, MANAGER) else 403
    assert (page.status_code, download.status_code) == (expected, expected)
    if expected == 200:
        assert text_of(page.get_data(as_text=True), "prediction-outcomes").startswith("1 ")
        assert '"60–79","1","0","1","100.0"' in download.get_data(as_text=True)


# --- A draft, tried on the stored history ---------------------------------------------


def _click(contact, at):
    Interaction.create(
        contact=contact,
        type="email_clicked",
        occurred_at=at,
        external_id=f"click-{at.isoformat()}-{contact.id}",
    )


def test_d3_a_draft_shows_what_it_would_have_said_from_the_interactions_stored_by_each_moment(app):
    """The draft gives 20 for a director and 10 per email click (at most 30): a
    converted director with two clicks by stage 5 (a third after it does not
    count) scores 40; a disqualified director 20; a disqualified engineer 0."""
    client, _, user = signed_in(app)
    draft = stored_model(app, user)
    assert draft.status == core_scoring.DRAFT
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
    _click(engineer, utcnow() + DAY)  # after its outcome: never counts
    ScoreChange.delete().execute()  # a draft has no score history: the figures cannot come from it

    start, end = _last_90_days()
    result = scoring_prediction.model_prediction(_model(draft), start, end, what_if=True)
    assert result.what_if and result.unscored == 0
    assert [(band.label, band.converted, band.disqualified) for band in result.figures.bands] == [
        ("Under 20", 0, 1),
        ("20–39", 0, 1),
        ("40–59", 1, 0),
        ("60–79", 0, 0),
        ("80+", 0, 0),
    ]
    assert result.figures.auc == 1.0

    page = client.get(f"/scoring/models/{draft.id}/insights").get_data(as_text=True)
    assert "This model is a draft" in text_of(page, "prediction-help")
    assert text_of(page, "prediction-outcomes") == "3 (1 converted, 2 disqualified)"
    assert text_of(page, "prediction-auc") == "1.00"
