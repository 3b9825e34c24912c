"""The scoring engine alone (S1–S6, E3): pure functions, no app fixture."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core.conditions import Condition, DefinitionError, Facts, Group, InteractionFact
from leads.core.scoring import (
    DRAFT,
    LIVE,
    STOPPED,
    AttributeRule,
    BehaviourRule,
    Grade,
    ScoreResult,
    ScoringModel,
    can_change_status,
    evaluate,
    expires_at,
    validate_model,
)

NOW = dt.datetime(2024, 6, 1, 12, 0)


def event(kind, days_ago=0.0, ext=None, **properties):
    """An interaction ``days_ago`` days before NOW."""
    ext = ext or f"{kind}-{days_ago}-{sorted(properties.items())}"
    return InteractionFact(kind, NOW - dt.timedelta(days=days_ago), properties, "api", ext)


def model(*rules, audience=None, threshold=None, grades=()):
    """A model from attribute and behaviour rules, in any order."""
    return ScoringModel(
        id=1,
        name="Test",
        audience=audience,
        attribute_rules=tuple(rule for rule in rules if isinstance(rule, AttributeRule)),
        behaviour_rules=tuple(rule for rule in rules if isinstance(rule, BehaviourRule)),
        sales_ready_threshold=threshold,
        grades=tuple(grades),
    )


def clicks(points=5, **kw):
    return BehaviourRule("clicks", "email_clicked", points, **kw)


DIRECTOR = AttributeRule("director", Condition("contact", "job_title", "contains", "director"), 20)
STUDENT = AttributeRule("student", Condition("contact", "job_title", "contains", "student"), -30)
BIG = AttributeRule("big", Condition("account", "employee_count", "gte", 1000), 15)


# --- S1 ---------------------------------------------------------------------


def test_s1_leads_outside_the_audience_are_not_scored():
    audience = Group("and", (Condition("contact", "country", "equals", "FR"),))
    scoring = model(DIRECTOR, audience=audience)
    outside = evaluate(scoring, Facts({}, {"country": "DE", "job_title": "Director"}), NOW)
    inside = evaluate(scoring, Facts({}, {"country": "fr", "job_title": "Director"}), NOW)
    assert outside == ScoreResult(False, 0, (), None, False)
    assert inside.in_audience and inside.score == 20


def test_s1_no_audience_scores_every_lead_even_with_nothing_to_score():
    result = evaluate(model(DIRECTOR), Facts({}), NOW)
    assert result.in_audience and result.score == 0 and result.breakdown == ()


def test_s1_model_status_goes_draft_live_stopped_live():
    assert (
        can_change_status(DRAFT, LIVE)
        and can_change_status(LIVE, STOPPED)
        and can_change_status(STOPPED, LIVE)
    )
    assert not can_change_status(DRAFT, STOPPED) and not can_change_status(LIVE, DRAFT)
    assert not can_change_status(STOPPED, DRAFT) and not can_change_status("gone", LIVE)


# --- S2 ---------------------------------------------------------------------


def test_s2_demographic_and_firmographic_rules_add_positive_and_negative_points():
    scoring = model(DIRECTOR, STUDENT, BIG)
    director = Facts({}, {"job_title": "Sales Director"}, {"employee_count": 5000})
    student = Facts({}, {"job_title": "Student"}, {"employee_count": 10})
    assert evaluate(scoring, director, NOW).score == 35
    assert evaluate(scoring, student, NOW).score == -30


def test_s2_behaviour_counts_each_occurrence_of_its_type():
    facts = Facts(
        {}, interactions=(event("email_clicked", 1), event("email_clicked", 2), event("email_opened", 1))
    )
    result = evaluate(model(clicks(5)), facts, NOW)
    assert result.score == 10
    assert result.breakdown[0].occurrences == 2 and not result.breakdown[0].capped


def test_s2_once_rules_give_their_points_once():
    facts = Facts({}, interactions=tuple(event("email_clicked", d) for d in (1, 2, 3)))
    assert evaluate(model(clicks(5, per_occurrence=False)), facts, NOW).score == 5


def test_s2_property_filters_pick_which_page_event_or_campaign():
    pricing = BehaviourRule(
        "pricing", "web_visit", 10, filters=(Condition("interaction", "page", "equals", "/pricing"),)
    )
    facts = Facts(
        {},
        interactions=(
            event("web_visit", 1, page="/Pricing"),
            event("web_visit", 1, page="/blog"),
            event("web_visit", 2),
        ),
    )
    assert evaluate(model(pricing), facts, NOW).score == 10


def test_s6_rules_describe_themselves_unless_labelled():
    pricing = BehaviourRule(
        "p",
        "web_visit",
        10,
        filters=(Condition("interaction", "page", "in_list", ("/pricing", "/demo")),),
    )
    assert pricing.title == "Website visited where page is one of /pricing, /demo"
    assert (
        BehaviourRule("x", "webinar_watched", 5, window_days=7).title == "webinar watched in the last 7 days"
    )
    assert AttributeRule("big", BIG.condition, 15, label="Large company").title == "Large company"
    assert BIG.title == "Account employee count ≥ 1000"


def test_s2_time_window_excludes_older_interactions():
    facts = Facts(
        {},
        interactions=(event("email_clicked", 29.9), event("email_clicked", 30), event("email_clicked", 31)),
    )
    result = evaluate(model(clicks(5, window_days=30)), facts, NOW)
    assert result.score == 5 and result.breakdown[0].occurrences == 1


def test_s2_cap_limits_a_rule_and_says_so():
    facts = Facts({}, interactions=tuple(event("email_clicked", d) for d in range(10)))
    result = evaluate(model(clicks(5, cap=12)), facts, NOW)
    assert result.score == 12
    assert result.breakdown[0].capped and result.breakdown[0].occurrences == 10


def test_s2_cap_bounds_what_a_negative_rule_takes_away():
    bounces = BehaviourRule("bounce", "email_bounced", -10, cap=25)
    facts = Facts({}, interactions=tuple(event("email_bounced", d) for d in range(5)))
    result = evaluate(model(bounces), facts, NOW)
    assert result.score == -25 and result.breakdown[0].capped


def test_s2_interaction_types_match_case_insensitively():
    facts = Facts({}, interactions=(event("Email_Clicked", 1),))
    assert evaluate(model(clicks(5)), facts, NOW).score == 5


# --- S3 ---------------------------------------------------------------------


def test_s3_a_lead_without_contact_is_scored_from_its_own_interactions():
    """S3, E1: no contact, no account: the lead's record and events still score."""
    rule = AttributeRule("fr", Condition("lead", "country", "equals", "FR"), 5)
    facts = Facts({"country": "FR"}, None, None, (event("email_clicked", 1),))
    assert evaluate(model(rule, clicks(5)), facts, NOW).score == 10


def test_s3_account_based_leads_count_every_contacts_interactions():
    """S3: the caller passes the events of all the account's contacts; all count."""
    alice = event("email_clicked", 1, ext="alice-1")
    bob = event("email_clicked", 2, ext="bob-1")
    carol = event("email_clicked", 3, ext="carol-1")
    account_lead = Facts({}, None, {"name": "Acme"}, (alice, bob, carol))
    assert evaluate(model(clicks(5)), account_lead, NOW).score == 15


# --- S4: what makes a score change ------------------------------------------


def test_s4_expires_at_is_when_the_oldest_counted_event_leaves_the_window():
    facts = Facts(
        {}, interactions=(event("email_clicked", 5), event("email_clicked", 20), event("email_clicked", 40))
    )
    scoring = model(clicks(5, window_days=30))
    moment = expires_at(scoring, facts, NOW)
    assert moment == NOW + dt.timedelta(days=10)
    assert evaluate(scoring, facts, moment).score == 5
    assert evaluate(scoring, facts, moment - dt.timedelta(microseconds=1)).score == 10


def test_s4_the_result_carries_its_expiry_for_the_scheduled_job():
    facts = Facts({}, interactions=(event("email_clicked", 5),))
    scoring = model(clicks(5, window_days=30))
    result = evaluate(scoring, facts, NOW)
    assert result.expires_at == expires_at(scoring, facts, NOW) == NOW + dt.timedelta(days=25)
    assert ScoreResult.from_dict(result.to_dict()) == result
    assert evaluate(scoring, facts, NOW + dt.timedelta(days=26)).expires_at is None


def test_s4_expiries_that_change_nothing_are_skipped():
    """A capped rule still at its cap, and a once rule with events left, do not move."""
    capped = Facts({}, interactions=tuple(event("email_clicked", d) for d in (1, 2, 3)))
    moment = expires_at(model(clicks(5, window_days=30, cap=10)), capped, NOW)
    assert moment == NOW + dt.timedelta(days=28)
    once = model(clicks(5, window_days=30, per_occurrence=False))
    assert expires_at(once, capped, NOW) == NOW + dt.timedelta(days=29)


def test_s4_nothing_expires_without_windows_or_outside_the_audience():
    facts = Facts({"country": "DE"}, interactions=(event("email_clicked", 1),))
    assert expires_at(model(clicks(5)), facts, NOW) is None
    outside = Group("and", (Condition("lead", "country", "equals", "FR"),))
    assert expires_at(model(clicks(5, window_days=3), audience=outside), facts, NOW) is None


def test_s4_a_gain_and_a_loss_expiring_together_change_nothing():
    same = event("email_clicked", 1)
    plus = BehaviourRule("plus", "email_clicked", 5, window_days=10)
    minus = BehaviourRule("minus", "email_clicked", -5, window_days=10)
    assert expires_at(model(plus, minus), Facts({}, interactions=(same,)), NOW) is None


def test_s4_the_model_says_which_fields_and_types_can_change_its_scores():
    audience = Group("and", (Condition("lead", "country", "equals", "FR"),))
    scoring = model(DIRECTOR, BIG, clicks(5), audience=audience)
    assert scoring.fields_read() == {
        ("lead", "country"),
        ("contact", "job_title"),
        ("account", "employee_count"),
    }
    assert scoring.interaction_types() == {"email_clicked"}


# --- S5, S6 -----------------------------------------------------------------


def test_s5_reaching_the_threshold_makes_the_result_sales_ready():
    facts = Facts({}, {"job_title": "Director"})
    assert evaluate(model(DIRECTOR, threshold=20), facts, NOW).sales_ready
    assert not evaluate(model(DIRECTOR, threshold=21), facts, NOW).sales_ready
    assert not evaluate(model(DIRECTOR), facts, NOW).sales_ready


def test_s6_breakdown_explains_the_score_rule_by_rule():
    facts = Facts({}, {"job_title": "IT Director"}, interactions=(event("email_clicked", 1),))
    result = evaluate(model(DIRECTOR, STUDENT, clicks(5, window_days=30)), facts, NOW)
    assert [(r.rule_id, r.points, r.occurrences) for r in result.breakdown] == [
        ("director", 20, 1),
        ("clicks", 5, 1),
    ]
    assert result.breakdown[0].label == "Contact job title contains 'director'"
    assert result.breakdown[1].label == "Email clicked in the last 30 days"
    assert ScoreResult.from_dict(result.to_dict()) == result


def test_s6_grades_are_named_score_bands():
    grades = (Grade("A", 80), Grade("B", 50), Grade("C", 0))
    scoring = model(grades=grades)
    assert [scoring.grade_for(s) for s in (95, 80, 79, 50, 10, -1)] == ["A", "A", "B", "B", "C", None]


# --- E3 ---------------------------------------------------------------------


def test_e3_the_same_event_passed_twice_counts_once():
    once = event("email_clicked", 1, ext="x-1")
    again = InteractionFact("email_clicked", once.occurred_at, {}, "api", "x-1")
    facts = Facts({}, interactions=(once, again, once))
    assert evaluate(model(clicks(5)), facts, NOW).score == 5


# --- JSON and validation (the model builder) ---------------------------------

VALID = {
    "id": 7,
    "name": "Engagement",
    "audience": {
        "op": "and",
        "items": [{"entity": "contact", "field": "country", "operator": "equals", "value": "FR"}],
    },
    "attribute_rules": [
        {
            "id": "a1",
            "label": "",
            "condition": {
                "entity": "contact",
                "field": "job_title",
                "operator": "contains",
                "value": "director",
            },
            "points": 20,
        }
    ],
    "behaviour_rules": [
        {
            "id": "b1",
            "label": "Pricing visits",
            "type": "web_visit",
            "filters": [{"field": "page", "operator": "equals", "value": "/pricing"}],
            "window_days": 30,
            "per_occurrence": True,
            "cap": 50,
            "points": 10,
        }
    ],
    "sales_ready_threshold": 100,
    "grades": [{"label": "A", "min_score": 80}],
}


def test_models_round_trip_through_json():
    scoring = ScoringModel.from_dict(VALID)
    assert scoring.to_dict() == VALID
    assert ScoringModel.from_dict(scoring.to_dict()) == scoring


def test_form_values_are_read_and_missing_rule_ids_are_given():
    data = {
        "name": " Fit ",
        "attribute_rules": [
            {"condition": VALID["attribute_rules"][0]["condition"], "points": "-5"},
            {"id": "a1", "condition": VALID["attribute_rules"][0]["condition"], "points": "5"},
        ],
        "behaviour_rules": [{"type": "email_opened", "points": 1, "window_days": "", "cap": None}],
        "sales_ready_threshold": "",
    }
    scoring = ScoringModel.from_dict(data)
    assert [rule.id for rule in scoring.attribute_rules] == ["a2", "a1"]
    assert scoring.attribute_rules[0].points == -5 and scoring.name == "Fit"
    assert scoring.behaviour_rules[0].id == "b1" and scoring.behaviour_rules[0].window_days is None
    assert scoring.sales_ready_threshold is None


def reasons(data, **kw):
    return {error.field: error.reason for error in validate_model(data, **kw)}


def test_validation_points_at_each_bad_field():
    bad = {
        "name": "",
        "attribute_rules": [
            {"condition": {"entity": "contact", "field": "job_title", "operator": "gt"}, "points": 0}
        ],
        "behaviour_rules": [
            {
                "type": " ",
                "filters": [{"field": "page", "operator": "wat", "value": "x"}],
                "window_days": 0,
                "cap": -1,
                "per_occurrence": "sometimes",
                "points": "lots",
            }
        ],
        "sales_ready_threshold": "high",
        "grades": [
            {"label": "A", "min_score": 10},
            {"label": "a", "min_score": 20},
            {"label": "B", "min_score": 10},
        ],
    }
    assert set(reasons(bad)) == {
        "name",
        "attribute_rules[0].condition.value",
        "attribute_rules[0].points",
        "behaviour_rules[0].type",
        "behaviour_rules[0].filters[0].operator",
        "behaviour_rules[0].window_days",
        "behaviour_rules[0].cap",
        "behaviour_rules[0].per_occurrence",
        "behaviour_rules[0].points",
        "sales_ready_threshold",
        "grades[1].label",
        "grades[2].min_score",
    }
    assert reasons(bad)["attribute_rules[0].points"] == "Give this rule some points (negative to subtract)."


def test_validation_refuses_duplicate_rule_ids_and_wrong_shapes():
    data = dict(VALID, behaviour_rules=[dict(VALID["behaviour_rules"][0], id="a1")])
    assert reasons(data) == {"behaviour_rules[0].id": "Two rules have the same id."}
    assert reasons([]) == {"": "Expected a scoring model."}
    assert reasons({"name": "x", "attribute_rules": "all"}) == {"attribute_rules": "Expected a list."}


def test_publishing_needs_at_least_one_rule():
    assert reasons({"name": "Empty"}) == {}
    assert "attribute_rules" in reasons({"name": "Empty"}, publishing=True)


def test_from_dict_raises_with_the_errors():
    with pytest.raises(DefinitionError) as raised:
        ScoringModel.from_dict({"name": ""})
    assert raised.value.errors[0].field == "name"


# --- Invariants (hypothesis) ------------------------------------------------

TYPES = ["email_clicked", "email_opened", "web_visit"]

behaviour_rules = st.builds(
    BehaviourRule,
    id=st.uuids().map(str),
    interaction_type=st.sampled_from(TYPES),
    points=st.integers(-20, 20).filter(bool),
    filters=st.sampled_from([(), (Condition("interaction", "page", "equals", "/pricing"),)]),
    window_days=st.one_of(st.none(), st.integers(1, 60)),
    per_occurrence=st.booleans(),
    cap=st.one_of(st.none(), st.integers(1, 60)),
)
attribute_rules = st.builds(
    AttributeRule,
    id=st.uuids().map(str),
    condition=st.sampled_from(
        [DIRECTOR.condition, BIG.condition, Condition("lead", "country", "in_list", ("FR",))]
    ),
    points=st.integers(-50, 50).filter(bool),
)
models = st.builds(
    lambda attributes, behaviours: ScoringModel(1, "m", None, tuple(attributes), tuple(behaviours)),
    st.lists(attribute_rules, max_size=4),
    st.lists(behaviour_rules, min_size=1, max_size=5),
)
interactions = st.lists(
    st.builds(
        InteractionFact,
        type=st.sampled_from(TYPES),
        occurred_at=st.integers(-5 * 24 * 60, 90 * 24 * 60).map(
            lambda minutes: NOW - dt.timedelta(minutes=minutes)
        ),
        properties=st.sampled_from([{}, {"page": "/pricing"}, {"page": "/blog"}]),
        external_id=st.integers(0, 40).map(str),
    ),
    max_size=40,
)
records = st.builds(
    lambda title, employees, country: Facts(
        {"country": country}, {"job_title": title}, {"employee_count": employees}
    ),
    st.sampled_from(["Director", "Student", None]),
    st.one_of(st.none(), st.integers(0, 5000)),
    st.sampled_from(["FR", "DE", None]),
)


def with_events(facts, events):
    return Facts(facts.lead, facts.contact, facts.account, tuple(events))


@given(models, records, interactions)
def test_points_add_up_to_the_breakdown_and_caps_hold(scoring, facts, events):
    """S2, S6: the score is the sum of the breakdown; no rule gives more than its cap."""
    result = evaluate(scoring, with_events(facts, events), NOW)
    assert result.score == sum(item.points for item in result.breakdown)
    caps = {rule.id: rule.cap for rule in scoring.behaviour_rules}
    for item in result.breakdown:
        if caps.get(item.rule_id) is not None:
            assert abs(item.points) <= caps[item.rule_id]
        assert item.points != 0 and item.occurrences >= 1


@given(models, records, interactions, st.randoms())
def test_score_does_not_depend_on_event_order_or_duplicates(scoring, facts, events, rng):
    """E3: duplicates count once; the order events are given in does not matter."""
    shuffled = list(events) * 2
    rng.shuffle(shuffled)
    assert evaluate(scoring, with_events(facts, shuffled), NOW) == evaluate(
        scoring, with_events(facts, events), NOW
    )


@given(models, records, interactions, st.lists(st.sampled_from(TYPES), max_size=5))
def test_windows_exclude_old_events(scoring, facts, events, old_types):
    """S2: events older than a rule's window change nothing for it."""
    windowed = ScoringModel(
        1,
        "m",
        None,
        scoring.attribute_rules,
        tuple(
            BehaviourRule(
                r.id, r.interaction_type, r.points, r.filters, r.window_days or 30, r.per_occurrence, r.cap
            )
            for r in scoring.behaviour_rules
        ),
    )
    longest = max(rule.window_days for rule in windowed.behaviour_rules)
    old = [
        InteractionFact(
            kind, NOW - dt.timedelta(days=longest, seconds=i), {"page": "/pricing"}, "api", f"old-{i}"
        )
        for i, kind in enumerate(old_types)
    ]
    assert evaluate(windowed, with_events(facts, events + old), NOW) == evaluate(
        windowed, with_events(facts, events), NOW
    )


@given(st.lists(st.integers(1, 20), min_size=1, max_size=10), st.integers(-20, -1))
def test_negative_points_can_make_a_negative_score(days, points):
    """S2: negative points subtract, and the total may go below zero."""
    scoring = model(BehaviourRule("neg", "email_bounced", points))
    facts = Facts({}, interactions=tuple(event("email_bounced", d, ext=str(i)) for i, d in enumerate(days)))
    assert evaluate(scoring, facts, NOW).score == points * len(days) < 0


@settings(max_examples=60)
@given(models, records, interactions)
def test_expires_at_is_exactly_when_the_score_next_moves(scoring, facts, events):
    """S4: the score is the same until ``expires_at`` and differs at it."""
    facts = with_events(facts, events)
    now_score = evaluate(scoring, facts, NOW).score
    moment = expires_at(scoring, facts, NOW)
    if moment is None:
        assert evaluate(scoring, facts, NOW + dt.timedelta(days=3650)).score == now_score
        return
    assert moment > NOW
    assert evaluate(scoring, facts, moment).score != now_score
    assert evaluate(scoring, facts, moment - dt.timedelta(microseconds=1)).score == now_score
