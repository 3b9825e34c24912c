"""R4: a rule that can never fire because earlier rules take every lead it
matches is found (``router.shadowed``, over ``leads.core.implication``), and
a rule that can fire is never flagged. Pure: no app, no database."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core.conditions import Facts, build_segment
from leads.core.implication import implies
from routing.router import LEAST_LOADED, OWNER, ROUND_ROBIN, UNASSIGNED, Rep, Rule, route, shadowed

NOW = dt.datetime(2024, 6, 3, 9, 0)


def cond(field, operator, value=None, entity="lead"):
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def both(*items):
    return {"op": "and", "items": list(items)}


def either(*items):
    return {"op": "or", "items": list(items)}


def rule(rule_id, conditions=None, strategy=ROUND_ROBIN, **more):
    return Rule.from_dict(
        {"id": rule_id, "name": f"Rule {rule_id}", "strategy": strategy, "conditions": conditions, **more}
    )


LINE_3 = cond("product_line_id", "equals", 3)
FRANCE = cond("country", "equals", "FR", entity="contact")


def seg(data):
    return build_segment(data)


def test_a_rule_after_every_lead_is_shadowed_R4():
    rules = [rule(1, LINE_3), rule(2), rule(3, FRANCE)]
    assert shadowed(rules) == {2: (2,)}
    # The first earlier rule that takes every lead is named.
    rules[2] = rule(3, both(LINE_3, FRANCE))
    assert shadowed(rules) == {2: (1,)}


def test_a_narrower_rule_after_a_broader_one_is_shadowed_and_not_the_reverse_R4():
    broad, narrow = rule(1, LINE_3), rule(2, both(LINE_3, FRANCE))
    assert shadowed([broad, narrow]) == {1: (1,)}
    assert shadowed([narrow, broad]) == {}


def test_the_same_conditions_twice_shadow_the_second_R4():
    assert shadowed([rule(1, LINE_3), rule(2, LINE_3)]) == {1: (1,)}
    assert shadowed(
        [rule(1, cond("country", "equals", "fr")), rule(2, cond("country", "equals", " FR"))]
    ) == {1: (1,)}


def test_score_ranges_R4():
    at_least_50 = cond("score:1", "gte", 50)
    over_60 = cond("score:1", "gt", 60)
    assert shadowed([rule(1, at_least_50), rule(2, over_60)]) == {1: (1,)}
    assert shadowed([rule(1, over_60), rule(2, at_least_50)]) == {}
    # Another model's score is another field.
    assert shadowed([rule(1, at_least_50), rule(2, cond("score:2", "gt", 60))]) == {}
    band = both(cond("score:1", "gte", 55), cond("score:1", "lt", 70))
    assert shadowed([rule(1, at_least_50), rule(2, band)]) == {1: (1,)}
    # ≥ 50 does not hold for every lead > 49.5.
    assert shadowed([rule(1, at_least_50), rule(2, cond("score:1", "gt", 49.5))]) == {}
    assert shadowed([rule(1, cond("score:1", "gt", 50)), rule(2, cond("score:1", "gte", 50))]) == {}
    assert shadowed([rule(1, cond("score:1", "lte", 10)), rule(2, cond("score:1", "lt", 10))]) == {1: (1,)}


def test_lists_of_values_and_territories_R4():
    europe = cond("country", "in_list", "FR, DE, ES", entity="contact")
    assert shadowed([rule(1, europe), rule(2, FRANCE)]) == {1: (1,)}
    assert shadowed([rule(1, FRANCE), rule(2, europe)]) == {}
    assert shadowed([rule(1, europe), rule(2, cond("country", "in_list", "de,fr", entity="contact"))]) == {
        1: (1,)
    }
    # The lead's country is not the contact's.
    assert shadowed([rule(1, europe), rule(2, cond("country", "equals", "FR"))]) == {}


def test_or_branches_may_be_taken_by_different_earlier_rules_R4():
    rules = [
        rule(1, FRANCE),
        rule(2, cond("source", "equals", "webinar")),
        rule(3, either(FRANCE, cond("source", "equals", "webinar"))),
    ]
    assert shadowed(rules) == {2: (1, 2)}
    rules[1] = rule(2, cond("source", "equals", "fair"))
    assert shadowed(rules) == {}


def test_earlier_or_and_is_not_empty_R4():
    source_set = cond("source", "is_not_empty")
    assert shadowed([rule(1, source_set), rule(2, cond("source", "contains", "web"))]) == {1: (1,)}
    assert shadowed([rule(1, source_set), rule(2, cond("source", "is_empty"))]) == {}
    broad = either(cond("source", "equals", "web"), FRANCE)
    assert shadowed([rule(1, broad), rule(2, both(FRANCE, LINE_3))]) == {1: (1,)}
    assert shadowed(
        [rule(1, cond("source", "contains", "web")), rule(2, cond("source", "contains", "webinar"))]
    ) == {1: (1,)}


def test_rules_that_are_off_neither_shadow_nor_are_flagged_R4():
    assert shadowed([rule(1, active=False), rule(2, LINE_3)]) == {}
    assert shadowed([rule(1), rule(2, LINE_3, active=False)]) == {}


def test_an_owner_rule_without_fallback_passes_leads_on_so_it_shadows_nothing_but_its_kind_R4():
    owners = rule(1, strategy=OWNER)
    assert shadowed([owners, rule(2, LINE_3)]) == {}
    assert shadowed([owners, rule(2, LINE_3, strategy=OWNER)]) == {1: (1,)}
    with_fallback = rule(1, strategy=OWNER, fallback=LEAST_LOADED)
    assert shadowed([with_fallback, rule(2, LINE_3)]) == {1: (1,)}


def test_unprovable_cases_are_not_flagged_R4():
    assert (
        shadowed([rule(1, cond("country", "not_equals", "DE")), rule(2, cond("country", "equals", "FR"))])
        == {}
    )
    assert (
        shadowed(
            [
                rule(1, cond("created_at", "gte", "2024-01-01")),
                rule(2, cond("created_at", "gte", "2024-02-01")),
            ]
        )
        == {}
    )
    assert shadowed([rule(1, LINE_3), rule(2)]) == {}
    assert not implies(None, seg(LINE_3))
    assert implies(seg(LINE_3), None)


# --- The invariant: a flagged rule never decides ------------------------------------

COUNTRIES = ("FR", "DE", "ES")
LEAF = st.one_of(
    st.builds(lambda c: cond("country", "equals", c), st.sampled_from(COUNTRIES)),
    st.builds(
        lambda cs: cond("country", "in_list", ",".join(cs)),
        st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda op, n: cond("score:1", op, n),
        st.sampled_from(("gt", "gte", "lt", "lte", "equals")),
        st.integers(0, 6),
    ),
    st.builds(lambda op: cond("source", op), st.sampled_from(("is_empty", "is_not_empty"))),
    st.builds(lambda s: cond("source", "contains", s), st.sampled_from(("w", "we", "web"))),
)
CONDITIONS = st.one_of(
    st.none(),
    LEAF,
    st.builds(lambda items: both(*items), st.lists(LEAF, min_size=1, max_size=3)),
    st.builds(lambda items: either(*items), st.lists(LEAF, min_size=1, max_size=3)),
)
LEADS = st.builds(
    lambda country, score, source: {"country": country, "score:1": score, "source": source},
    st.sampled_from((*COUNTRIES, None)),
    st.one_of(st.none(), st.integers(0, 6)),
    st.sampled_from((None, "", "web", "webinar", "we", "fair")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CONDITIONS, min_size=2, max_size=4), st.lists(LEADS, min_size=1, max_size=15))
def test_a_flagged_rule_never_decides_R4(conditions, leads):
    rules = [rule(index + 1, data, strategy=UNASSIGNED) for index, data in enumerate(conditions)]
    flagged = {rules[index].id for index in shadowed(rules)}
    for lead in leads:
        decision = route(rules, Facts(lead=lead), [Rep(id=1, capacity=5)], NOW)
        assert decision.rule_id not in flagged
