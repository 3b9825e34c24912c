"""The pure router (R1–R6): rules tried in order, relationship owners, round robin
and least loaded within capacity and availability, declined reps, the trace,
and the rules' JSON and validation. No app fixture, no database."""

import datetime as dt
import json
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core.conditions import DefinitionError, Facts, FieldError, matches
from routing.router import (
    ASSIGNED,
    AWAY,
    EXCLUDED,
    FULL,
    INACTIVE,
    LEAST_LOADED,
    NAMED_USER,
    NO_ELIGIBLE_REP,
    NO_PRODUCT_LINE,
    NO_RULE_MATCHED,
    OWNER,
    POOLS,
    ROUND_ROBIN,
    RULE_UNASSIGNED,
    STRATEGIES,
    UNASSIGNED,
    UNKNOWN,
    Decision,
    Rep,
    Rule,
    owner_ids,
    reps_in_play,
    route,
    rules_from_dicts,
    validate_rule,
    validate_rules,
    with_scores,
)

NOW = dt.datetime(2024, 6, 3, 9, 0)
HOUR = dt.timedelta(hours=1)


def rep(rep_id, name=None, **overrides):
    """A rep who can take leads: active, capacity 10, nothing open, never assigned."""
    values = {"id": rep_id, "name": name or f"Rep{rep_id}", "capacity": 10, **overrides}
    return Rep(**values)


def rule(rule_id=1, strategy=ROUND_ROBIN, conditions=None, **more):
    """A rule built through ``from_dict``, so every test rule also validates."""
    return Rule.from_dict(
        {"id": rule_id, "name": f"Rule {rule_id}", "strategy": strategy, "conditions": conditions, **more}
    )


def lead(product_line=None, contact_owner=None, account_owner=None, **fields):
    """Facts of a lead (and its contact/account when an owner is given)."""
    contact = None if contact_owner is None else {"owner_id": contact_owner}
    account = None if account_owner is None else {"owner_id": account_owner}
    return Facts(lead={"product_line_id": product_line, **fields}, contact=contact, account=account)


def cond(entity, field, operator, value=None):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def product_line_is(line):
    return cond("lead", "product_line_id", "equals", line)


# --- R1, R4: ordered rules, first match wins --------------------------------


def test_r1_r4_the_first_matching_rule_decides():
    """R1/R4: two rules match; the first one in the list decides."""
    rules = [
        rule(1, NAMED_USER, cond("lead", "country", "equals", "DE"), user_id=1),
        rule(2, NAMED_USER, cond("lead", "country", "in_list", ["FR", "BE"]), user_id=2),
        rule(3, NAMED_USER, cond("lead", "source", "equals", "web"), user_id=3),
    ]
    decision = route(rules, lead(country="FR", source="web"), [rep(1), rep(2), rep(3)], NOW)
    assert (decision.rep_id, decision.rule_id, decision.reason) == (2, 2, ASSIGNED)
    assert decision.trace[0] == "Rule 1 'Rule 1': no match (Lead country equals 'DE')"
    assert decision.trace[1] == "Rule 2 'Rule 2' matched: Lead country is one of FR, BE"
    assert not any("Rule 3" in line for line in decision.trace)


def test_r4_no_rule_matched_goes_to_the_managers_unassigned_queue():
    """R4: no match → unassigned, reason no_rule_matched, every rule tried in the trace."""
    rules = [rule(1, conditions=product_line_is(1)), rule(2, conditions=product_line_is(2))]
    decision = route(rules, lead(product_line=3), [rep(1, product_line_ids={1, 2})], NOW)
    assert decision.rep_id is None and decision.rule_id is None
    assert decision.reason == NO_RULE_MATCHED and not decision.assigned
    assert len(decision.trace) == 3 and decision.trace[-1] == "No rule matched → managers' unassigned queue"
    assert route([], lead(), [rep(1)], NOW).reason == NO_RULE_MATCHED


def test_r4_rules_that_are_off_are_passed_over():
    """R4: an inactive rule never matches; the next one decides."""
    rules = [rule(1, NAMED_USER, user_id=1, active=False), rule(2, NAMED_USER, user_id=2)]
    decision = route(rules, lead(), [rep(1), rep(2)], NOW)
    assert decision.rule_id == 2 and decision.trace[0] == "Rule 1 'Rule 1': off"


def test_r4_conditions_on_score_territory_source_and_account():
    """R4: a rule can test "score in model X ≥ N" (score:<id> lead fields), the
    country, the source and account fields, with AND / OR."""
    hot_in_fr = {
        "op": "and",
        "items": [
            cond("lead", "score:7", "gte", 50),
            {
                "op": "or",
                "items": [
                    cond("contact", "country", "equals", "FR"),
                    cond("lead", "source", "equals", "event"),
                ],
            },
            cond("account", "employee_count", "gte", 200),
        ],
    }
    rules = [rule(1, NAMED_USER, hot_in_fr, user_id=1), rule(2, NAMED_USER, user_id=2)]
    facts = Facts(lead={"source": "event"}, contact={"country": "DE"}, account={"employee_count": 500})
    assert route(rules, with_scores(facts, {7: 55}), [rep(1), rep(2)], NOW).rep_id == 1
    assert route(rules, with_scores(facts, {7: 49}), [rep(1), rep(2)], NOW).rep_id == 2
    assert route(rules, with_scores(facts, {8: 90}), [rep(1), rep(2)], NOW).rep_id == 2
    matched = route(rules, with_scores(facts, {7: 55}), [rep(1), rep(2)], NOW).trace[0]
    assert "score in model 7 ≥ 50" in matched and "Account employee count ≥ 200" in matched


def test_r4_a_rule_may_send_leads_to_the_managers_queue():
    """R4: the "unassigned" strategy is a deliberate choice, with its own reason code."""
    decision = route(
        [rule(1, UNASSIGNED), rule(2)], lead(product_line=1), [rep(1, product_line_ids={1})], NOW
    )
    assert (decision.rep_id, decision.rule_id, decision.reason) == (None, 1, RULE_UNASSIGNED)


def test_r4_the_matching_rule_decides_even_when_it_finds_nobody():
    """R4: first match wins: a matched rule whose pool is all away does not fall
    through to later rules; the lead is unassigned with no_eligible_rep."""
    rules = [rule(1, conditions=product_line_is(1)), rule(2, NAMED_USER, user_id=9)]
    reps = [rep(1, product_line_ids={1}, away_from=NOW - HOUR), rep(9)]
    decision = route(rules, lead(product_line=1), reps, NOW)
    assert (decision.rep_id, decision.rule_id, decision.reason) == (None, 1, NO_ELIGIBLE_REP)
    assert decision.pool_key == "product_line:1" and decision.pointer_at is None
    assert decision.trace[-1] == "  nobody can take it in product line 1 → managers' unassigned queue"


# --- R2: relationship owner -------------------------------------------------


def test_r2_the_contacts_owner_gets_the_lead_before_the_accounts():
    """R2: the contact's owner first, whatever product line the lead is for."""
    decision = route(
        [rule(1, OWNER)], lead(product_line=2, contact_owner=5, account_owner=6), [rep(5), rep(6)], NOW
    )
    assert (decision.rep_id, decision.strategy, decision.pool_key) == (5, OWNER, None)
    assert decision.trace[-1] == "  relationship owner → Rep5, 0/10 open"


def test_r2_the_accounts_owner_when_the_contact_has_none_or_cannot_take_it():
    """R2: the account's owner when the contact has no owner or theirs is full."""
    reps = [rep(5, open_leads=10), rep(6)]
    assert route([rule(1, OWNER)], lead(account_owner=6), reps, NOW).rep_id == 6
    decision = route([rule(1, OWNER)], lead(contact_owner=5, account_owner=6), reps, NOW)
    assert decision.rep_id == 6 and decision.skipped == {5: FULL}
    assert owner_ids(lead(contact_owner=5, account_owner=5)) == [5]


def test_r2_an_owner_rule_without_fallback_passes_leads_without_owner_to_the_next_rule():
    """R2/R4: "owners first, then product lines" is two rules with no conditions."""
    rules = [rule(1, OWNER), rule(2, ROUND_ROBIN)]
    decision = route(rules, lead(product_line=1), [rep(1, product_line_ids={1})], NOW)
    assert (decision.rep_id, decision.rule_id) == (1, 2)
    assert decision.trace[1] == "  no relationship owner on the contact or account: next rule"


def test_r2_an_owner_who_cannot_take_the_lead_leaves_it_unassigned_without_fallback():
    """R2: a known customer's lead is not handed to a stranger silently: the
    manager decides (reason no_eligible_rep)."""
    reps = [rep(5, away_from=NOW - HOUR, away_until=NOW + 24 * HOUR), rep(1, product_line_ids={1})]
    decision = route([rule(1, OWNER), rule(2)], lead(product_line=1, contact_owner=5), reps, NOW)
    assert (decision.rep_id, decision.rule_id, decision.reason) == (None, 1, NO_ELIGIBLE_REP)
    assert decision.skipped == {5: AWAY}
    assert "  Rep5 skipped: away until 2024-06-04 09:00" in decision.trace


def test_r2_relationship_owner_first_else_the_pool_is_one_rule():
    """R2+R3: with a fallback the rule hands the lead to its pool when the owner is
    away, deactivated or missing; the decision says so."""
    owner_first = rule(1, OWNER, fallback=ROUND_ROBIN, pool="product_line")
    reps = [rep(5, active=False), rep(1, product_line_ids={1})]
    decision = route([owner_first], lead(product_line=1, contact_owner=5), reps, NOW)
    assert (decision.rep_id, decision.strategy, decision.via_fallback) == (1, ROUND_ROBIN, True)
    assert decision.pool_key == "product_line:1" and decision.skipped == {5: INACTIVE}
    assert "  falling back to round robin" in decision.trace
    assert route([owner_first], lead(product_line=1), reps, NOW).rep_id == 1


def test_r2_an_owner_who_is_not_an_assignable_rep_is_skipped():
    """R2: an owner missing from the reps (a manager, a former employee) is skipped."""
    decision = route([rule(1, OWNER)], lead(contact_owner=42), [rep(1)], NOW)
    assert decision.reason == NO_ELIGIBLE_REP and decision.skipped == {42: UNKNOWN}
    assert "  user 42 skipped: not an assignable sales rep" in decision.trace


# --- R3: round robin and least loaded, capacity and availability -----------


def test_r3_round_robin_picks_who_has_waited_longest_never_assigned_first_ties_by_id():
    """R3: never-assigned reps first (by id), then the longest since their last lead."""
    key = "product_line:1"
    reps = [
        rep(1, "Ana", product_line_ids={1}, last_assigned_at={key: NOW - HOUR}),
        rep(2, "Ben", product_line_ids={1}, last_assigned_at={key: NOW - 3 * HOUR}),
        rep(3, "Cid", product_line_ids={1}),
        rep(4, "Dee", product_line_ids={1}),
    ]
    assert route([rule()], lead(product_line=1), reps, NOW).rep_id == 3
    assert route([rule()], lead(product_line=1), reps[:2], NOW).rep_id == 2
    tied = [
        rep(7, product_line_ids={1}, last_assigned_at={key: NOW}),
        rep(6, product_line_ids={1}, last_assigned_at={key: NOW}),
    ]
    assert route([rule()], lead(product_line=1), tied, NOW).rep_id == 6


def test_r3_the_round_robin_pointer_is_per_pool():
    """R3: a lead from another pool does not move a rep back in this one."""
    reps = [
        rep(1, product_line_ids={1, 2}, last_assigned_at={"product_line:2": NOW}),
        rep(2, product_line_ids={1}, last_assigned_at={"product_line:1": NOW - HOUR}),
    ]
    decision = route([rule()], lead(product_line=1), reps, NOW)
    assert decision.rep_id == 1 and decision.pool_key == "product_line:1"


def test_r3_least_loaded_picks_the_most_room_ties_by_round_robin():
    """R3: least loaded compares capacity − open leads, not open leads alone."""
    reps = [
        rep(1, capacity=10, open_leads=6),  # room 4
        rep(2, capacity=20, open_leads=12),  # room 8
        rep(3, capacity=8, open_leads=0, last_assigned_at={"all": NOW - HOUR}),  # room 8, waited less
        rep(4, capacity=9, open_leads=1, last_assigned_at={"all": NOW}),  # room 8, waited least
    ]
    reps[1] = replace(reps[1], last_assigned_at={"all": NOW - 2 * HOUR})
    decision = route([rule(1, LEAST_LOADED, pool="all")], lead(), reps, NOW)
    assert (decision.rep_id, decision.strategy, decision.pool_key) == (2, LEAST_LOADED, "all")
    assert decision.trace[-2].startswith("  eligible, most room first: Rep2 (12/20 open), Rep3 (0/8 open)")


def test_r3_deactivated_away_and_full_reps_are_skipped_each_with_its_reason():
    """R3: the trace names every rep considered, why each was skipped, and the pick."""
    reps = [
        rep(1, "Ana", product_line_ids={1}, open_leads=3),
        rep(2, "Ben", product_line_ids={1}, away_from=NOW - HOUR, away_until=NOW + 2 * HOUR),
        rep(3, "Cid", product_line_ids={1}, open_leads=10),
        rep(4, "Dee", product_line_ids={1}, active=False),
        rep(5, "Eve", product_line_ids={2}),
    ]
    decision = route([rule(2, conditions=product_line_is(1))], lead(product_line=1), reps, NOW)
    assert decision.rep_id == 1
    assert decision.skipped == {2: AWAY, 3: FULL, 4: INACTIVE}
    assert decision.trace == (
        "Rule 1 'Rule 2' matched: Lead product line id equals 1",
        "  Ben skipped: away until 2024-06-03 11:00",
        "  Cid skipped: full (10/10 open)",
        "  Dee skipped: deactivated",
        "  eligible, longest waiting first: Ana (never)",
        "  round robin in product line 1 → Ana, 3/10 open",
    )


@pytest.mark.parametrize(
    "away_from, away_until, away",
    [
        (None, None, False),
        (NOW - HOUR, NOW + HOUR, True),
        (NOW, NOW + HOUR, True),  # from is inclusive
        (NOW - HOUR, NOW, False),  # until is exclusive: back now
        (NOW + HOUR, NOW + 2 * HOUR, False),  # not yet
        (NOW - HOUR, None, True),  # away until further notice
        (None, NOW + HOUR, True),
        (None, NOW - HOUR, False),
        (dt.datetime(2024, 6, 3, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), None, True),
    ],
)
def test_r3_availability_covers_now(away_from, away_until, away):
    """R3: a rep is away when away_from ≤ now < away_until (either end open)."""
    decision = route([rule(1, pool="all")], lead(), [rep(1, away_from=away_from, away_until=away_until)], NOW)
    assert (decision.rep_id is None) is away


def test_r3_capacity_zero_or_reached_means_full():
    """R3: open ≥ capacity is full; a rep with capacity 0 takes no leads."""
    reps = [rep(1, capacity=0), rep(2, capacity=3, open_leads=4)]
    decision = route([rule(1, LEAST_LOADED, pool="all")], lead(), reps, NOW)
    assert decision.reason == NO_ELIGIBLE_REP and decision.skipped == {1: FULL, 2: FULL}


def test_r3_a_product_line_pool_needs_the_lead_to_have_a_product_line():
    """R3: a lead with no product line cannot be routed by product line."""
    decision = route([rule()], lead(), [rep(1, product_line_ids={1})], NOW)
    assert (decision.rep_id, decision.reason, decision.pool_key) == (None, NO_PRODUCT_LINE, None)


def test_r3_team_pools_and_a_product_line_narrowed_to_a_team():
    """R3: pools of a team, and of a product line within one team, have their own keys."""
    reps = [
        rep(1, team_id=1, product_line_ids={1}),
        rep(2, team_id=2, product_line_ids={1}),
        rep(3, team_id=2, product_line_ids={2}),
    ]
    by_team = route([rule(1, pool="team", team_id=2)], lead(product_line=1), reps, NOW)
    assert (by_team.rep_id, by_team.pool_key) == (2, "team:2")
    narrowed = route([rule(1, pool="product_line", team_id=2)], lead(product_line=1), reps, NOW)
    assert (narrowed.rep_id, narrowed.pool_key) == (2, "product_line:1:team:2")
    nobody = route([rule(1, pool="product_line", team_id=1)], lead(product_line=2), reps, NOW)
    assert nobody.reason == NO_ELIGIBLE_REP and nobody.trace[-1].startswith(
        "  no rep in product line 2, team 1"
    )


def test_r3_the_pointer_moves_the_pick_to_the_back_even_within_one_batch():
    """R3: leads routed with the same ``now`` (bulk arrival) or by a worker whose
    clock is behind still rotate: ``pointer_at`` is after every pointer of the pool."""
    key = "product_line:1"
    assert route([rule()], lead(product_line=1), [rep(1, product_line_ids={1})], NOW).pointer_at == NOW
    reps = [rep(1, product_line_ids={1}, last_assigned_at={key: NOW + HOUR}), rep(2, product_line_ids={1})]
    decision = route([rule()], lead(product_line=1), reps, NOW)
    assert decision.rep_id == 2 and decision.pointer_at == NOW + HOUR + dt.timedelta(microseconds=1)


# --- R5: one lead per product line ------------------------------------------


def test_r5_separate_leads_per_product_line_go_to_different_reps():
    """R5: one person, two leads (one per product line): each goes to a rep of its
    line; with a relationship owner rule both go to the owner (one lead overall)."""
    reps = [rep(1, product_line_ids={1}), rep(2, product_line_ids={2}), rep(9)]
    by_line = [rule(1, conditions=None)]
    first = route(by_line, lead(product_line=1, contact_owner=9), reps, NOW)
    second = route(by_line, lead(product_line=2, contact_owner=9), reps, NOW)
    assert (first.rep_id, second.rep_id) == (1, 2)
    assert first.pool_key != second.pool_key
    owner_first = [rule(1, OWNER), *by_line]
    assert {
        route(owner_first, lead(product_line=line, contact_owner=9), reps, NOW).rep_id for line in (1, 2)
    } == {9}


# --- R6: declined and excluded reps -----------------------------------------


def test_r6_a_rep_who_declined_the_lead_is_skipped_and_it_goes_to_the_next():
    """R6: re-routing after a decline passes the rep over (reason excluded)."""
    reps = [rep(1, product_line_ids={1}), rep(2, product_line_ids={1})]
    decision = route([rule()], lead(product_line=1), reps, NOW, excluded={1})
    assert decision.rep_id == 2 and decision.skipped == {1: EXCLUDED}
    assert "  Rep1 skipped: declined this lead" in decision.trace
    nobody = route([rule()], lead(product_line=1), reps, NOW, excluded=[1, 2])
    assert nobody.reason == NO_ELIGIBLE_REP


def test_r6_declined_owner_and_named_rep_and_reps_a_rule_excludes():
    """R6: a declining owner or named rep is skipped too; a rule may exclude reps of its own."""
    owner = route(
        [rule(1, OWNER, fallback=LEAST_LOADED, pool="all")],
        lead(contact_owner=1),
        [rep(1), rep(2)],
        NOW,
        excluded={1},
    )
    assert owner.rep_id == 2 and owner.via_fallback
    named = route([rule(1, NAMED_USER, user_id=1)], lead(), [rep(1)], NOW, excluded={1})
    assert named.reason == NO_ELIGIBLE_REP and named.skipped == {1: EXCLUDED}
    decision = route([rule(1, pool="all", exclude_user_ids=[1])], lead(), [rep(1), rep(2)], NOW)
    assert decision.rep_id == 2 and "  Rep1 skipped: excluded by the rule" in decision.trace


# --- The decision on the timeline -------------------------------------------


def test_the_decision_round_trips_json_for_the_timeline():
    """R1: the decision is stored on the lead's timeline as JSON and read back."""
    reps = [rep(5, active=False), rep(1, product_line_ids={1})]
    decision = route([rule(3, OWNER, fallback=ROUND_ROBIN)], lead(product_line=1, contact_owner=5), reps, NOW)
    stored = json.loads(json.dumps(decision.to_dict()))
    assert stored["rep_id"] == 1 and stored["rule_id"] == 3 and stored["reason"] == ASSIGNED
    assert stored["skipped"] == [{"rep_id": 5, "reason": INACTIVE}]
    assert Decision.from_dict(stored) == decision


# --- Rules: JSON and validation ---------------------------------------------


def test_rules_round_trip_json_and_drop_settings_their_strategy_does_not_use():
    """Rules go to JSON and back unchanged; a form's leftover fields are dropped."""
    data = {
        "id": 4,
        "name": " Hot FR ",
        "strategy": ROUND_ROBIN,
        "conditions": cond("lead", "score:2", "gte", "60"),
        "user_id": 7,
        "fallback": LEAST_LOADED,
        "team_id": "",
    }
    built = Rule.from_dict(data)
    assert (built.name, built.pool, built.user_id, built.fallback, built.team_id) == (
        "Hot FR",
        "product_line",
        None,
        None,
        None,
    )
    assert Rule.from_dict(json.loads(json.dumps(built.to_dict()))) == built
    rules = rules_from_dicts([built.to_dict(), rule(5, NAMED_USER, user_id="3").to_dict()])
    assert rules[1].user_id == 3


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"name": "", "strategy": ROUND_ROBIN}, [("name", "Enter a name.")]),
        ({"name": "x", "strategy": "random"}, [("strategy", "Choose a strategy.")]),
        ({"name": "x", "strategy": NAMED_USER}, [("user_id", "Choose an active sales rep.")]),
        ({"name": "x", "strategy": ROUND_ROBIN, "pool": "team"}, [("team_id", "Choose a team.")]),
        (
            {"name": "x", "strategy": ROUND_ROBIN, "pool": "region"},
            [("pool", "Choose the product line, a team or every rep.")],
        ),
        (
            {"name": "x", "strategy": OWNER, "fallback": NAMED_USER},
            [("fallback", "Fall back to round robin, least loaded or nobody.")],
        ),
        ({"name": "x", "strategy": UNASSIGNED, "active": "yes"}, [("active", "Choose yes or no.")]),
        (
            {"name": "x", "strategy": UNASSIGNED, "exclude_user_ids": "3"},
            [("exclude_user_ids", "Give a list of at most 500 sales reps.")],
        ),
        (
            {"name": "x", "strategy": UNASSIGNED, "exclude_user_ids": [3, "b"]},
            [("exclude_user_ids[1]", "Choose a sales rep.")],
        ),
        (
            {
                "name": "x",
                "strategy": UNASSIGNED,
                "conditions": {"op": "or", "items": [cond("lead", "score:", "gte", 1)]},
            },
            [("conditions.items[0].field", "Unknown lead field 'score:'.")],
        ),
        (
            {"name": "x", "strategy": UNASSIGNED, "conditions": cond("lead", "score:3", "contains", "1")},
            [
                (
                    "conditions.operator",
                    "For this field use: equals, does not equal, is one of, >, ≥, <, ≤, is empty, is not empty.",
                )
            ],
        ),
        (
            {"name": "x", "strategy": UNASSIGNED, "conditions": cond("lead", "country", "equals", "")},
            [("conditions.value", "Enter a value.")],
        ),
        ("rule", [("rule", "Expected an assignment rule.")]),
    ],
)
def test_validate_rule_reports_each_problem_by_field(data, errors):
    """The UI and API show these next to the field (FieldError(field, reason))."""
    assert validate_rule(data) == [FieldError(*error) for error in errors]


def test_validate_rule_checks_named_models_teams_and_reps_when_known():
    """Score conditions, teams and reps must exist when the caller says which do."""
    data = {
        "name": "x",
        "strategy": NAMED_USER,
        "user_id": 8,
        "fallback": ROUND_ROBIN,
        "pool": "team",
        "team_id": 4,
        "exclude_user_ids": [1],
        "conditions": cond("lead", "score:9", "gte", 10),
    }
    known = {"model_ids": [1, 2], "team_ids": {1}, "user_ids": {1, 2}}
    assert [error.field for error in validate_rule(data, **known)] == [
        "conditions.field",
        "user_id",
        "team_id",
    ]
    assert validate_rule(data, model_ids=["9"], team_ids={4}, user_ids={1, 8}) == []
    with pytest.raises(DefinitionError):
        Rule.from_dict(data, **known)


def test_validate_rules_checks_the_list_and_ids():
    """The ordered list: each rule by position, ids unique."""
    assert validate_rules({"name": "x"}) == [FieldError("rules", "Expected a list of assignment rules.")]
    good = {"id": 1, "name": "x", "strategy": UNASSIGNED}
    assert validate_rules([good, {**good, "name": ""}, good]) == [
        FieldError("rules[1].name", "Enter a name."),
        FieldError("rules[1].id", "Two rules have the same id."),
        FieldError("rules[2].id", "Two rules have the same id."),
    ]


# --- Properties -------------------------------------------------------------

REP_IDS = st.integers(1, 12)
OFFSETS = st.none() | st.integers(-48, 48).map(lambda hours: NOW + hours * HOUR)
POOL_KEYS = ["product_line:1", "product_line:2", "product_line:1:team:1", "team:1", "team:2", "all"]


@st.composite
def reps_strategy(draw):
    """Reps with every mix of state: active or not, away windows around now,
    full or not, product lines, teams and round-robin pointers."""
    ids = draw(st.lists(REP_IDS, max_size=8, unique=True))
    return [
        Rep(
            id=rep_id,
            capacity=draw(st.integers(0, 4)),
            open_leads=draw(st.integers(0, 5)),
            active=draw(st.booleans()),
            team_id=draw(st.sampled_from([None, 1, 2])),
            product_line_ids=draw(st.frozensets(st.integers(1, 2))),
            away_from=draw(OFFSETS),
            away_until=draw(OFFSETS),
            last_assigned_at=draw(st.dictionaries(st.sampled_from(POOL_KEYS), OFFSETS.filter(bool))),
        )
        for rep_id in ids
    ]


CONDITIONS = st.sampled_from(
    [None, product_line_is(1), cond("lead", "country", "equals", "FR"), cond("lead", "score:1", "gte", 50)]
)


@st.composite
def rule_dicts(draw, rule_id=1):
    """A valid rule dict of any strategy, pool and fallback."""
    strategy = draw(st.sampled_from(list(STRATEGIES)))
    pool = draw(st.sampled_from(list(POOLS)))
    return {
        "id": rule_id,
        "name": f"Rule {rule_id}",
        "strategy": strategy,
        "conditions": draw(CONDITIONS),
        "pool": pool,
        "team_id": draw(st.sampled_from([1, 2])) if pool == "team" else draw(st.sampled_from([None, 1])),
        "user_id": draw(REP_IDS),
        "fallback": draw(st.sampled_from([None, ROUND_ROBIN, LEAST_LOADED])),
        "exclude_user_ids": draw(st.lists(REP_IDS, max_size=2)),
        "active": draw(st.booleans()),
    }


@st.composite
def rule_lists(draw):
    count = draw(st.integers(0, 4))
    return [Rule.from_dict(draw(rule_dicts(index))) for index in range(1, count + 1)]


facts_strategy = st.builds(
    lambda line, country, score, contact_owner, account_owner: with_scores(
        lead(line, contact_owner, account_owner, country=country), {1: score}
    ),
    st.sampled_from([None, 1, 2]),
    st.sampled_from(["FR", "DE"]),
    st.integers(0, 100),
    st.none() | REP_IDS,
    st.none() | REP_IDS,
)


def in_pool(rule, rep_picked, facts):
    line = facts.lead.get("product_line_id")
    team_ok = rule.team_id is None or rep_picked.team_id == rule.team_id
    if rule.pool == "team":
        return team_ok
    if rule.pool == "product_line":
        return line in rep_picked.product_line_ids and team_ok
    return True


def can_take(rep_picked, rule, excluded):
    return (
        rep_picked.active
        and rep_picked.id not in excluded
        and rep_picked.id not in rule.exclude_user_ids
        and not rep_picked.is_away(NOW)
        and rep_picked.open_leads < rep_picked.capacity
    )


@settings(max_examples=100, deadline=None)
@given(rule_lists(), facts_strategy, reps_strategy(), st.frozensets(REP_IDS, max_size=3))
def test_r1_r3_r4_property_the_pick_is_eligible_and_from_the_first_matching_rule(
    rules, facts, reps, excluded
):
    """R1/R3/R4 for any rules, lead and reps: the pick is an eligible rep of the
    deciding rule's target (its pool, the owner, the named rep), and that rule is
    the first active one that matches (owner rules pass leads without an owner)."""
    decision = route(rules, facts, reps, NOW, excluded)
    owners = owner_ids(facts)
    applies = [
        r
        for r in rules
        if r.active
        and matches(r.conditions, facts)
        and not (r.strategy == OWNER and r.fallback is None and not owners)
    ]
    assert decision.rule_id == (applies[0].id if applies else None)
    assert (decision.reason == ASSIGNED) is (decision.rep_id is not None)
    if decision.rep_id is None:
        return
    deciding = applies[0]
    picked = next(r for r in reps if r.id == decision.rep_id)
    assert can_take(picked, deciding, excluded)
    if decision.strategy in (ROUND_ROBIN, LEAST_LOADED):
        assert in_pool(deciding, picked, facts)
        assert decision.pointer_at >= NOW and decision.pool_key
    elif decision.strategy == OWNER:
        assert picked.id in owners
    else:
        assert picked.id == deciding.user_id


@settings(max_examples=150, deadline=None)
@given(rule_dicts(), facts_strategy, reps_strategy(), st.frozensets(REP_IDS, max_size=3))
def test_r3_r6_property_never_a_deactivated_away_full_or_excluded_rep(data, facts, reps, excluded):
    """R3/R6: whoever the strategy looks at, a rep who is deactivated, away, full,
    declined or excluded by the rule is never picked; each one the rule looked at
    is reported with its reason."""
    decision = route(
        [Rule.from_dict({**data, "active": True, "conditions": None})], facts, reps, NOW, excluded
    )
    by_id = {r.id: r for r in reps}
    for rep_id, why in decision.skipped.items():
        assert rep_id != decision.rep_id
        if why == UNKNOWN:
            assert rep_id not in by_id
            continue
        skipped = by_id[rep_id]
        expected = (
            INACTIVE
            if not skipped.active
            else EXCLUDED
            if rep_id in excluded or rep_id in data["exclude_user_ids"]
            else AWAY
            if skipped.is_away(NOW)
            else FULL
        )
        assert why == expected
    if decision.rep_id is not None:
        picked = by_id[decision.rep_id]
        assert picked.active and not picked.is_away(NOW) and picked.open_leads < picked.capacity
        assert decision.rep_id not in excluded and decision.rep_id not in data["exclude_user_ids"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        OFFSETS.map(lambda moment: None if moment is None else min(moment, NOW)), min_size=1, max_size=8
    ),
    st.integers(1, 60),
    st.booleans(),
)
def test_r3_property_round_robin_spreads_leads_evenly(pointers, lead_count, one_batch):
    """R3: N leads through round robin, storing each decision's pointer: every rep
    gets N/reps leads, give or take one — with increasing times or all in one
    batch at the same ``now`` (bulk arrival), whatever the pointers were."""
    key = "product_line:1"
    reps = {
        index: rep(
            index,
            capacity=1000,
            product_line_ids={1},
            last_assigned_at={} if moment is None else {key: moment},
        )
        for index, moment in enumerate(pointers, 1)
    }
    counts = Counter({rep_id: 0 for rep_id in reps})
    for number in range(lead_count):
        now = NOW if one_batch else NOW + number * dt.timedelta(minutes=1)
        decision = route([rule()], lead(product_line=1), reps.values(), now)
        counts[decision.rep_id] += 1
        picked = reps[decision.rep_id]
        reps[picked.id] = replace(
            picked,
            open_leads=picked.open_leads + 1,
            last_assigned_at={**picked.last_assigned_at, key: decision.pointer_at},
        )
    assert max(counts.values()) - min(counts.values()) <= 1


@settings(max_examples=100, deadline=None)
@given(reps_strategy())
def test_r3_property_least_loaded_picks_the_most_room(reps):
    """R3: least loaded gives the lead to an eligible rep with the most room left."""
    decision = route([rule(1, LEAST_LOADED, pool="all")], lead(), reps, NOW)
    eligible = [r for r in reps if r.active and not r.is_away(NOW) and r.open_leads < r.capacity]
    if not eligible:
        assert decision.reason == NO_ELIGIBLE_REP
        return
    picked = next(r for r in reps if r.id == decision.rep_id)
    assert picked.room == max(r.room for r in eligible)


@given(rule_dicts())
def test_property_rules_round_trip_json(data):
    """Every valid rule validates again from its JSON and reads back equal."""
    built = Rule.from_dict(data)
    stored = json.loads(json.dumps(built.to_dict()))
    assert validate_rule(stored) == []
    assert Rule.from_dict(stored) == built


def test_r1_r3_the_reps_in_play_are_the_matched_rules_owners_or_pool():
    """R1/R3 (issue 16): what a routing must lock: the members of the matched
    rule's pool, the owners (and fallback pool) of an owner rule, nobody for a
    rule that sends the lead to the managers or when no rule matches."""
    reps = [
        rep(1, product_line_ids={1}),
        rep(2, product_line_ids={1}, team_id=7),
        rep(3, product_line_ids={2}),
    ]
    line_1 = [rule(1, conditions=product_line_is(1))]
    assert reps_in_play(line_1, lead(product_line=1), reps) == {1, 2}
    assert reps_in_play(line_1, lead(product_line=2), reps) == frozenset()  # no rule matched
    assert reps_in_play([rule(1, pool="team", team_id=7)], lead(product_line=2), reps) == {2}
    assert reps_in_play([rule(1, pool="all")], lead(), reps) == {1, 2, 3}
    owners_then_pool = [rule(1, OWNER), rule(2, pool="product_line")]
    assert reps_in_play(owners_then_pool, lead(product_line=2, contact_owner=1), reps) == {1}
    assert reps_in_play(owners_then_pool, lead(product_line=2), reps) == {3}  # no owner: the next rule
    with_fallback = [rule(1, OWNER, fallback=ROUND_ROBIN, pool="product_line")]
    assert reps_in_play(with_fallback, lead(product_line=2, contact_owner=1), reps) == {1, 3}
    assert reps_in_play([rule(1, UNASSIGNED)], lead(product_line=1), reps) == frozenset()
    assert reps_in_play([rule(1, NAMED_USER, user_id=99)], lead(), reps) == frozenset()  # not a rep


@settings(max_examples=100, deadline=None)
@given(rule_lists(), facts_strategy, reps_strategy(), reps_strategy(), st.frozensets(REP_IDS, max_size=3))
def test_r1_r3_property_a_decision_reads_only_the_reps_in_play(rules, facts, reps, others, excluded):
    """R1/R3 (issue 16) for any rules, lead and reps: the pick is one of the reps
    in play, and the loads and pointers of every other rep (here: those of
    another draw) do not change the decision, so locking the reps in play is
    enough for two routings to never see each other's writes half done."""
    decision = route(rules, facts, reps, NOW, excluded)
    in_play = reps_in_play(rules, facts, reps)
    assert decision.rep_id is None or decision.rep_id in in_play
    state = {other.id: other for other in others}
    scrambled = [
        r
        if r.id in in_play or r.id not in state
        else replace(r, open_leads=state[r.id].open_leads, last_assigned_at=state[r.id].last_assigned_at)
        for r in reps
    ]
    assert route(rules, facts, scrambled, NOW, excluded) == decision
