"""Qualification criteria and decisions alone (Q1–Q6, P1, P3, S5): pure, no app fixture."""

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.core import lifecycle
from leads.core.conditions import Condition, DefinitionError, Facts, Group, InteractionFact
from leads.core.lifecycle import LeadState
from leads.core.qualification import (
    DRAFT,
    MARKETING_QUALIFY,
    PUBLISHED,
    SALES_READY,
    SCORE_RECEIVED,
    STOPPED,
    AttributeTerm,
    Criteria,
    InteractionTerm,
    ScoreTerm,
    can_change_status,
    can_edit,
    decide,
    validate_criteria,
)

NOW = dt.datetime(2024, 6, 1, 12, 0)
ENGAGEMENT, DEMOGRAPHIC = 1, 2
NEW_LEAD = LeadState()
SCORED_LEAD = LeadState(stage=lifecycle.AUTOMATED_QUALIFICATION)
NO_FACTS = Facts({})


def criteria(*terms, op="and", mq=True, sr=False, status=PUBLISHED, id=10):
    return Criteria(id, f"criteria {id}", Group(op, tuple(terms)), mq, sr, status)


def apply_decision(state, decision):
    """Apply a decision's actions the way the jobs will, with ``leads.core.lifecycle``.

    (``marketing_qualify`` is done by hand here until lifecycle has it.)"""
    for action in decision.actions:
        if action == SCORE_RECEIVED:
            state = lifecycle.score_received(state)
        elif action == MARKETING_QUALIFY:
            state = replace(state, status_reason=lifecycle.REASON_MARKETING_QUALIFIED)
        elif action == SALES_READY:
            state = lifecycle.mark_sales_ready(state, lifecycle.SYSTEM_ACTOR)
    return state


BOTH = criteria(ScoreTerm(ENGAGEMENT, 50), ScoreTerm(DEMOGRAPHIC, 30))
EITHER = criteria(ScoreTerm(ENGAGEMENT, 50), ScoreTerm(DEMOGRAPHIC, 30), op="or", id=11)


# --- Q1 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "scores, both, either",
    [
        ({ENGAGEMENT: 50, DEMOGRAPHIC: 30}, True, True),
        ({ENGAGEMENT: 80, DEMOGRAPHIC: 29}, False, True),
        ({ENGAGEMENT: 10, DEMOGRAPHIC: 10}, False, False),
        ({ENGAGEMENT: 90}, False, True),
    ],
)
def test_q1_score_thresholds_combine_with_and_or(scores, both, either):
    assert (decide([BOTH], SCORED_LEAD, scores, NO_FACTS, NOW).matched_criteria_ids == (10,)) is both
    assert (decide([EITHER], SCORED_LEAD, scores, NO_FACTS, NOW).matched_criteria_ids == (11,)) is either


def test_q1_only_live_models_count():
    decision = decide([EITHER], SCORED_LEAD, {ENGAGEMENT: 90}, NO_FACTS, NOW, live_model_ids=[DEMOGRAPHIC])
    assert decision.matched_criteria_ids == () and decision.actions == ()


def test_q1_model_ids_compare_as_given_or_as_text():
    decision = decide([BOTH], SCORED_LEAD, {"1": 50, "2": 30}, NO_FACTS, NOW)
    assert decision.matched_criteria_ids == (10,)


def test_q1_builder_offers_live_models_only():
    data = {
        "name": "Hot",
        "rule": {"op": "and", "items": [{"kind": "score", "model_id": 3, "min_score": 50}]},
    }
    assert validate_criteria(data, live_model_ids=[3]) == []
    [error] = validate_criteria(data, live_model_ids=[1, 2])
    assert error.field == "rule.items[0].model_id" and "live" in error.reason


# --- Q2 ---------------------------------------------------------------------


def test_q2_met_criteria_set_marketing_qualified():
    decision = decide([BOTH], SCORED_LEAD, {ENGAGEMENT: 60, DEMOGRAPHIC: 40}, NO_FACTS, NOW)
    assert decision.actions == (MARKETING_QUALIFY,) and decision.qualifies
    assert decision.via[MARKETING_QUALIFY] == "qualification criteria 10"
    after = apply_decision(SCORED_LEAD, decision)
    assert after.status_reason == lifecycle.REASON_MARKETING_QUALIFIED and after.stage == 2


def test_q2_p3_sales_ready_action_sends_the_lead_to_stage_5():
    both_actions = criteria(ScoreTerm(ENGAGEMENT, 50), mq=True, sr=True)
    decision = decide([both_actions], SCORED_LEAD, {ENGAGEMENT: 60}, NO_FACTS, NOW)
    assert decision.actions == (MARKETING_QUALIFY, SALES_READY)
    after = apply_decision(SCORED_LEAD, decision)
    assert after.stage == lifecycle.SALES_ACCEPTANCE and after.sales_ready
    assert after.status_reason == lifecycle.REASON_MARKETING_QUALIFIED


def test_q2_sales_ready_alone_keeps_the_reason_process_driven():
    sales_only = criteria(ScoreTerm(ENGAGEMENT, 50), mq=False, sr=True)
    decision = decide([sales_only], SCORED_LEAD, {ENGAGEMENT: 60}, NO_FACTS, NOW)
    assert decision.actions == (SALES_READY,)
    assert apply_decision(SCORED_LEAD, decision).status_reason == lifecycle.REASON_SALES_READY


def test_q2_criteria_need_at_least_one_action():
    data = {
        "name": "x",
        "marketing_qualified": False,
        "sales_ready": False,
        "rule": {"kind": "score", "model_id": 1, "min_score": 1},
    }
    assert [error.field for error in validate_criteria(data)] == ["actions"]


# --- Q3 ---------------------------------------------------------------------


def test_q3_only_published_criteria_take_effect():
    scores = {ENGAGEMENT: 99, DEMOGRAPHIC: 99}
    for status in (DRAFT, STOPPED):
        assert decide([replace(BOTH, status=status)], SCORED_LEAD, scores, NO_FACTS, NOW).actions == ()
    assert decide([BOTH], SCORED_LEAD, scores, NO_FACTS, NOW).actions == (MARKETING_QUALIFY,)


def test_q3_editable_only_while_draft_or_stopped_and_republished_after():
    assert can_edit(DRAFT) and can_edit(STOPPED) and not can_edit(PUBLISHED)
    assert can_change_status(DRAFT, PUBLISHED) and can_change_status(PUBLISHED, STOPPED)
    assert can_change_status(STOPPED, PUBLISHED)
    assert not can_change_status(PUBLISHED, DRAFT) and not can_change_status(DRAFT, STOPPED)


# --- Q4 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        LeadState(
            stage=5, status=lifecycle.QUALIFIED, status_reason=lifecycle.REASON_CONVERTED, sales_ready=True
        ),
        LeadState(stage=2, status=lifecycle.DISQUALIFIED, status_reason="no_budget"),
        LeadState(stage=1, status=lifecycle.DISQUALIFIED, status_reason="duplicate"),
    ],
)
def test_q4_only_open_leads_qualify(state):
    ready = criteria(ScoreTerm(ENGAGEMENT, 0), sr=True)
    decision = decide([ready], state, {ENGAGEMENT: 100}, NO_FACTS, NOW, thresholds_reached=[ENGAGEMENT])
    assert decision.actions == () and "not open: nothing to do" in decision.trace[0]


@pytest.mark.parametrize(
    "reason",
    [lifecycle.REASON_MARKETING_QUALIFIED, lifecycle.REASON_TP_ACCEPTED, lifecycle.REASON_SALES_ACCEPTED],
)
def test_q4_a_reason_already_past_new_is_left_as_it_is(reason):
    state = LeadState(stage=4, status_reason=reason, tp_accepted=True)
    decision = decide([criteria(ScoreTerm(ENGAGEMENT, 50))], state, {ENGAGEMENT: 90}, NO_FACTS, NOW)
    assert decision.actions == () and decision.matched_criteria_ids == (10,)
    assert any("left as it is" in line for line in decision.trace)


def test_q4_an_open_marketing_qualified_lead_can_still_become_sales_ready():
    mql = LeadState(stage=2, status_reason=lifecycle.REASON_MARKETING_QUALIFIED)
    sql = criteria(ScoreTerm(ENGAGEMENT, 80), mq=False, sr=True)
    assert decide([sql], mql, {ENGAGEMENT: 85}, NO_FACTS, NOW).actions == (SALES_READY,)


# --- Q5 ---------------------------------------------------------------------


def test_q5_a_score_drop_never_undoes_qualification():
    mql = LeadState(stage=5, status_reason=lifecycle.REASON_MARKETING_QUALIFIED, sales_ready=True)
    decision = decide([BOTH], mql, {ENGAGEMENT: 0, DEMOGRAPHIC: 0}, NO_FACTS, NOW)
    assert decision.actions == () and decision.matched_criteria_ids == ()


def test_q5_an_already_sales_ready_lead_is_not_marked_again():
    ready = LeadState(stage=5, sales_ready=True, status_reason=lifecycle.REASON_SALES_READY)
    decision = decide(
        [criteria(ScoreTerm(ENGAGEMENT, 1), mq=False, sr=True)], ready, {ENGAGEMENT: 5}, NO_FACTS, NOW
    )
    assert decision.actions == ()


# --- Q6 ---------------------------------------------------------------------


def demo_request(days_ago, ext="demo-1", form="demo"):
    return InteractionFact("form_submitted", NOW - dt.timedelta(days=days_ago), {"form": form}, "api", ext)


DEMO = criteria(
    InteractionTerm("form_submitted", (Condition("interaction", "form", "equals", "Demo"),), within_days=30),
    sr=True,
    id=20,
)


def test_q6_a_high_value_action_alone_qualifies_without_any_model():
    facts = Facts({}, interactions=(demo_request(3),))
    decision = decide([DEMO], NEW_LEAD, {}, facts, NOW)
    assert decision.actions == (MARKETING_QUALIFY, SALES_READY) and decision.matched_criteria_ids == (20,)
    assert apply_decision(NEW_LEAD, decision).stage == lifecycle.SALES_ACCEPTANCE


def test_q6_the_action_must_match_its_filters_and_window():
    other_form = Facts({}, interactions=(demo_request(3, form="newsletter"),))
    too_old = Facts({}, interactions=(demo_request(31),))
    assert decide([DEMO], NEW_LEAD, {}, other_form, NOW).actions == ()
    assert decide([DEMO], NEW_LEAD, {}, too_old, NOW).actions == ()


def test_q6_an_attribute_alone_qualifies():
    vip = criteria(AttributeTerm(Condition("account", "annual_revenue", "gte", "1000000000")), id=21)
    facts = Facts({}, None, {"annual_revenue": 5_000_000_000})
    assert decide([vip], NEW_LEAD, {}, facts, NOW).actions == (MARKETING_QUALIFY,)
    assert decide([vip], NEW_LEAD, {}, Facts({}), NOW).actions == ()


def test_q6_terms_mix_with_score_terms_in_nested_groups():
    mixed = Criteria(
        30,
        "Hot or demo",
        Group("or", (Group("and", (ScoreTerm(ENGAGEMENT, 50), ScoreTerm(DEMOGRAPHIC, 30))), DEMO.rule)),
        status=PUBLISHED,
    )
    assert decide(
        [mixed], SCORED_LEAD, {}, Facts({}, interactions=(demo_request(1),)), NOW
    ).matched_criteria_ids == (30,)
    assert decide(
        [mixed], SCORED_LEAD, {ENGAGEMENT: 60, DEMOGRAPHIC: 30}, NO_FACTS, NOW
    ).matched_criteria_ids == (30,)
    assert decide([mixed], SCORED_LEAD, {ENGAGEMENT: 60}, NO_FACTS, NOW).matched_criteria_ids == ()


# --- P1, P3, S5 ---------------------------------------------------------------


def test_p1_a_first_score_moves_the_lead_from_stage_1_to_2():
    decision = decide([], NEW_LEAD, {ENGAGEMENT: 0}, NO_FACTS, NOW)
    assert decision.actions == (SCORE_RECEIVED,) and not decision.qualifies
    assert apply_decision(NEW_LEAD, decision).stage == lifecycle.AUTOMATED_QUALIFICATION


def test_p1_no_score_or_a_later_stage_means_no_move():
    assert decide([], NEW_LEAD, {}, NO_FACTS, NOW).actions == ()
    assert decide([], LeadState(stage=3), {ENGAGEMENT: 5}, NO_FACTS, NOW).actions == ()
    assert decide([], NEW_LEAD, {ENGAGEMENT: 5}, NO_FACTS, NOW, live_model_ids=[]).actions == ()


def test_p1_p3_first_score_and_sales_ready_in_one_decision():
    ready = criteria(ScoreTerm(ENGAGEMENT, 50), mq=False, sr=True)
    decision = decide([ready], NEW_LEAD, {ENGAGEMENT: 60}, NO_FACTS, NOW)
    assert decision.actions == (SCORE_RECEIVED, SALES_READY)
    after = apply_decision(NEW_LEAD, decision)
    assert after.stage == lifecycle.SALES_ACCEPTANCE and after.sales_ready


def test_s5_p3_a_model_threshold_makes_the_lead_sales_ready():
    decision = decide([], SCORED_LEAD, {ENGAGEMENT: 120}, NO_FACTS, NOW, thresholds_reached=[ENGAGEMENT])
    assert decision.actions == (SALES_READY,)
    assert decision.via[SALES_READY] == "sales-ready threshold of model 1"
    stopped = decide(
        [], SCORED_LEAD, {ENGAGEMENT: 120}, NO_FACTS, NOW, thresholds_reached=[1], live_model_ids=[2]
    )
    assert stopped.actions == ()


def test_trace_says_why_each_criteria_was_or_was_not_met():
    decision = decide([BOTH], SCORED_LEAD, {ENGAGEMENT: 60}, NO_FACTS, NOW)
    assert decision.trace == (
        "Criteria 10 'criteria 10': not met ([yes] model 1 ≥ 50: score 60 AND [no] model 2 ≥ 30: no score)",
    )


# --- JSON and validation ------------------------------------------------------

VALID = {
    "id": 4,
    "name": "Demo or hot",
    "status": "draft",
    "marketing_qualified": True,
    "sales_ready": True,
    "rule": {
        "op": "or",
        "items": [
            {"kind": "score", "model_id": 1, "min_score": 50},
            {
                "kind": "interaction",
                "type": "form_submitted",
                "filters": [{"field": "form", "operator": "equals", "value": "demo"}],
                "within_days": 30,
            },
            {
                "kind": "attribute",
                "condition": {"entity": "lead", "field": "source", "operator": "equals", "value": "partner"},
            },
        ],
    },
}


def test_criteria_round_trip_through_json():
    built = Criteria.from_dict(VALID)
    assert built.to_dict() == VALID and Criteria.from_dict(built.to_dict()) == built
    assert built.model_ids == {1}


def test_criteria_validation_points_at_each_bad_field():
    bad = {
        "name": " ",
        "status": "paused",
        "rule": {
            "op": "and",
            "items": [
                {"kind": "score", "model_id": None, "min_score": "many"},
                {
                    "kind": "interaction",
                    "type": "",
                    "filters": [{"field": "f", "operator": "?"}],
                    "within_days": 0,
                },
                {
                    "kind": "attribute",
                    "condition": {"entity": "lead", "field": "nope", "operator": "is_empty"},
                },
                {"kind": "mood"},
            ],
        },
    }
    assert [error.field for error in validate_criteria(bad)] == [
        "name",
        "status",
        "rule.items[0].model_id",
        "rule.items[0].min_score",
        "rule.items[1].type",
        "rule.items[1].filters[0].operator",
        "rule.items[1].within_days",
        "rule.items[2].condition.field",
        "rule.items[3].kind",
    ]
    with pytest.raises(DefinitionError):
        Criteria.from_dict(bad)
    assert [error.field for error in validate_criteria({"name": "x"})] == ["rule"]


# --- Invariants (hypothesis) ------------------------------------------------

states = st.builds(
    LeadState,
    stage=st.integers(1, 5),
    status=st.sampled_from([lifecycle.OPEN, lifecycle.QUALIFIED, lifecycle.DISQUALIFIED]),
    status_reason=st.sampled_from(sorted(lifecycle.STATUS_REASONS)),
    sales_ready=st.booleans(),
)
score_maps = st.dictionaries(st.sampled_from([ENGAGEMENT, DEMOGRAPHIC]), st.integers(-50, 150), max_size=2)
criteria_lists = st.lists(
    st.builds(
        lambda op, e, d, mq, sr: criteria(
            ScoreTerm(ENGAGEMENT, e), ScoreTerm(DEMOGRAPHIC, d), op=op, mq=mq, sr=sr or not mq
        ),
        st.sampled_from(["and", "or"]),
        st.integers(0, 100),
        st.integers(0, 100),
        st.booleans(),
        st.booleans(),
    ),
    max_size=3,
)


@given(criteria_lists, states, score_maps, st.lists(st.sampled_from([ENGAGEMENT, DEMOGRAPHIC]), max_size=2))
def test_decisions_only_move_forward(criteria_list, state, scores, thresholds):
    """Q4, Q5: nothing for a closed lead; otherwise only forward actions, each
    needed, and applying them never loses qualification already gained."""
    decision = decide(criteria_list, state, scores, NO_FACTS, NOW, thresholds_reached=thresholds)
    if state.status != lifecycle.OPEN:
        assert decision.actions == ()
        return
    assert set(decision.actions) <= {SCORE_RECEIVED, MARKETING_QUALIFY, SALES_READY}
    assert MARKETING_QUALIFY not in decision.actions or state.status_reason == lifecycle.REASON_NEW
    assert SALES_READY not in decision.actions or not state.sales_ready
    after = apply_decision(state, decision)
    assert after.sales_ready >= state.sales_ready and after.stage >= state.stage
    assert after.status == state.status


@given(criteria_lists, score_maps, score_maps)
def test_q5_qualification_survives_any_later_scores(criteria_list, first, later):
    """Q5: once qualified by a decision, a second decision over any scores proposes
    no qualification action again and undoes nothing."""
    once = apply_decision(SCORED_LEAD, decide(criteria_list, SCORED_LEAD, first, NO_FACTS, NOW))
    again = decide(criteria_list, once, later, NO_FACTS, NOW)
    if once.status_reason != lifecycle.REASON_NEW:
        assert MARKETING_QUALIFY not in again.actions
    if once.sales_ready:
        assert SALES_READY not in again.actions
    assert apply_decision(once, again).sales_ready >= once.sales_ready
