"""The condition language shared by segments (S1), attribute rules (S2), property
filters, qualification terms (Q6) and routing: pure, no app fixture."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.core.conditions import (
    AND,
    OPERATORS,
    OR,
    Condition,
    DefinitionError,
    Facts,
    FieldError,
    Group,
    InteractionFact,
    as_integer,
    build_segment,
    matches,
    unique_interactions,
    validate_condition,
    validate_segment,
)


def holds(operator, actual, value=None, *, field="x"):
    """Whether ``field operator value`` holds for a record ``{field: actual}``."""
    return Condition("interaction", field, operator, value).test({field: actual})


# --- Operators --------------------------------------------------------------


@pytest.mark.parametrize(
    "actual, value, expected",
    [
        ("France", "france", True),
        ("  France ", "FRANCE", True),
        ("France", "Franc", False),
        (250, "250", True),
        (250, 250.0, True),
        ("250.0", 250, True),
        (250, "abc", False),
        (True, "yes", True),
        (True, True, True),
        (False, "true", False),
        ("true", True, True),
        (dt.date(2024, 5, 1), "2024-05-01", True),
        (dt.datetime(2024, 5, 1, 13, 0), "2024-05-01", True),
        ("2024-05-01T10:00:00", "2024-05-01", True),
        (["a", "B"], "b", True),
        (["a", "c"], "b", False),
    ],
)
def test_equals_compares_text_numbers_booleans_dates_and_lists(actual, value, expected):
    assert holds("equals", actual, value) is expected


def test_not_equals_is_the_opposite_of_equals_except_on_missing_values():
    assert holds("not_equals", "DE", "fr") is True
    assert holds("not_equals", "FR", "fr") is False
    assert holds("not_equals", None, "fr") is False
    assert holds("not_equals", "", "fr") is False
    assert Condition("lead", "country", "not_equals", "FR").test({}) is False


def test_contains_is_a_case_insensitive_substring_also_inside_list_items():
    assert holds("contains", "Head of Sales", "SALES")
    assert not holds("contains", "Head of Marketing", "sales")
    assert holds("contains", ["enterprise-plan", "trial"], "enterprise")
    assert holds("contains", 12345, "234")


def test_in_list_takes_a_list_or_comma_separated_text():
    assert holds("in_list", "fr", ["DE", "FR"])
    assert holds("in_list", "FR", "de, fr ,it")
    assert holds("in_list", 50, ["10", "50"])
    assert not holds("in_list", "ES", ["DE", "FR"])
    assert holds("in_list", ["x", "fr"], ["de", "fr"])
    assert Condition("lead", "country", "in_list", "de,\nfr").value == ("de", "fr")


@pytest.mark.parametrize(
    "operator, actual, value, expected",
    [
        ("gt", 51, 50, True),
        ("gt", 50, 50, False),
        ("gte", 50, "50", True),
        ("lt", "49.5", 50, True),
        ("lte", Decimal("50"), 50, True),
        ("lte", 51, 50, False),
        ("gt", "1e3", "999", True),
        ("gt", dt.datetime(2024, 5, 2, 0, 0), "2024-05-01", True),
        ("gt", dt.datetime(2024, 5, 1, 23, 0), "2024-05-01", False),
        ("gte", dt.datetime(2024, 5, 1, 23, 0), "2024-05-01", True),
        ("lt", "2024-04-30", dt.date(2024, 5, 1), True),
        ("gt", dt.datetime(2024, 5, 1, 10, 0), "2024-05-01T09:00:00", True),
        ("gt", dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC), "2024-05-01T11:00:00+02:00", True),
        ("gt", "abc", 5, False),
        ("gt", True, 0, False),
        ("lt", "2024-04-30", 5, False),
        ("gt", [1, 100], 50, True),
    ],
)
def test_comparisons_work_on_numbers_numeric_strings_and_dates(operator, actual, value, expected):
    assert holds(operator, actual, value) is expected


@pytest.mark.parametrize("empty", [None, "", "   ", [], {}, ()])
def test_missing_is_empty_and_every_comparison_with_it_is_false(empty):
    assert holds("is_empty", empty)
    assert not holds("is_not_empty", empty)
    for operator in ("equals", "not_equals", "contains", "in_list", "gt", "gte", "lt", "lte"):
        assert holds(operator, empty, ["1"] if operator == "in_list" else "1") is False, operator


def test_zero_and_false_are_values_not_empty():
    assert holds("is_not_empty", 0)
    assert holds("is_not_empty", False)
    assert holds("equals", 0, "0")


def test_a_missing_record_is_a_record_with_nothing_in_it():
    """E1: a lead without contact or account: their fields are all empty."""
    facts = Facts(lead={"country": "FR"})
    assert Condition("contact", "job_title", "is_empty").matches(facts)
    assert not Condition("account", "industry", "equals", "software").matches(facts)
    assert not Condition("account", "industry", "not_equals", "software").matches(facts)


def test_unary_operators_drop_any_value():
    assert Condition("lead", "email", "is_empty", "ignored").value is None


def test_every_operator_has_a_test():
    for operator in OPERATORS:
        Condition("lead", "x", operator, "1").test({"x": "1"})


# --- Groups and segments ----------------------------------------------------


def test_groups_nest_and_or():
    """S1: a segment is AND/OR groups of conditions over lead, contact and account."""
    segment = build_segment(
        {
            "op": "and",
            "items": [
                {"entity": "contact", "field": "country", "operator": "in_list", "value": ["FR", "BE"]},
                {
                    "op": "or",
                    "items": [
                        {"entity": "account", "field": "employee_count", "operator": "gte", "value": "500"},
                        {"entity": "account", "field": "industry", "operator": "equals", "value": "Banking"},
                    ],
                },
            ],
        }
    )
    big_french = Facts({}, {"country": "fr"}, {"employee_count": 800, "industry": "retail"})
    french_bank = Facts({}, {"country": "FR"}, {"employee_count": 20, "industry": "banking"})
    small_french = Facts({}, {"country": "FR"}, {"employee_count": 20})
    big_german = Facts({}, {"country": "DE"}, {"employee_count": 800})
    assert matches(segment, big_french) and matches(segment, french_bank)
    assert not matches(segment, small_french) and not matches(segment, big_german)
    assert matches(None, small_french)
    assert len(list(segment.leaves())) == 3


def test_empty_groups_follow_logic():
    assert Group(AND, ()).holds(bool) is True
    assert Group(OR, ()).holds(bool) is False


def test_segment_round_trips_through_json():
    data = {
        "op": "or",
        "items": [
            {"entity": "lead", "field": "country", "operator": "in_list", "value": ["FR", "DE"]},
            {
                "op": "and",
                "items": [{"entity": "lead", "field": "email", "operator": "is_not_empty", "value": None}],
            },
        ],
    }
    segment = Group.from_dict(data)
    assert segment.to_dict() == data
    assert Group.from_dict(segment.to_dict()) == segment


def test_a_lone_condition_is_a_group_of_one():
    segment = build_segment({"entity": "lead", "field": "country", "operator": "equals", "value": "FR"})
    assert isinstance(segment, Group) and len(segment.items) == 1


# --- Validation -------------------------------------------------------------


def errors_of(data, **kw):
    return {error.field: error.reason for error in validate_condition(data, "c", **kw)}


def test_a_valid_condition_has_no_errors():
    assert (
        validate_condition({"entity": "account", "field": "industry", "operator": "equals", "value": "x"})
        == []
    )
    assert (
        Condition.from_dict({"entity": "lead", "field": "email", "operator": "is_empty"}).operator
        == "is_empty"
    )


def test_validation_names_the_field_and_says_why():
    errors = errors_of({"entity": "opportunity", "field": "", "operator": "about"})
    assert set(errors) == {"c.entity", "c.field", "c.operator"}
    assert "Choose one of" in errors["c.entity"] and "about" in errors["c.operator"]
    assert all(isinstance(error, FieldError) for error in validate_condition({}))
    assert validate_condition("nope", "x") == [FieldError("x", "Expected a condition.")]


def test_unknown_field_of_a_known_entity_is_refused_unless_fields_are_open():
    data = {"entity": "lead", "field": "shoe_size", "operator": "equals", "value": "42"}
    assert "Unknown lead field" in errors_of(data)["c.field"]
    assert errors_of(data, fields=None) == {}


@pytest.mark.parametrize("operator", ["equals", "not_equals", "contains", "gt", "gte", "lt", "lte"])
def test_operators_that_need_a_value_say_so(operator):
    data = {"entity": "lead", "field": "company", "operator": operator, "value": "  "}
    assert errors_of(data) == {"c.value": "Enter a value."}


def test_comparisons_need_a_number_or_a_date():
    text_gt = {"entity": "lead", "field": "company", "operator": "gt", "value": "big"}
    assert "number or a date" in errors_of(text_gt)["c.value"]
    number_gt = {"entity": "account", "field": "employee_count", "operator": "gt", "value": "many"}
    assert errors_of(number_gt) == {"c.value": "Enter a number."}
    date_lt = {"entity": "lead", "field": "created_at", "operator": "lt", "value": "yesterday"}
    assert errors_of(date_lt) == {"c.value": "Enter a date (YYYY-MM-DD)."}
    ok = {"entity": "lead", "field": "created_at", "operator": "lt", "value": "2024-01-31"}
    assert errors_of(ok) == {}


def test_operators_must_fit_the_field_kind():
    contains_number = {"entity": "account", "field": "employee_count", "operator": "contains", "value": "5"}
    assert "For this field use" in errors_of(contains_number)["c.operator"]
    bool_gt = {"entity": "lead", "field": "sales_ready", "operator": "gt", "value": "1"}
    assert "c.operator" in errors_of(bool_gt)
    bool_maybe = {"entity": "lead", "field": "sales_ready", "operator": "equals", "value": "maybe"}
    assert errors_of(bool_maybe) == {"c.value": "Choose yes or no."}


def test_in_list_values_are_checked_one_by_one():
    assert errors_of({"entity": "lead", "field": "country", "operator": "in_list", "value": []}) == {
        "c.value": "Give at least one value."
    }
    assert errors_of({"entity": "lead", "field": "country", "operator": "in_list", "value": 5}) == {
        "c.value": "Give a list of values."
    }
    numbers = {"entity": "account", "field": "employee_count", "operator": "in_list", "value": ["5", "x"]}
    assert errors_of(numbers) == {"c.value[1]": "Enter a number."}


def test_values_must_be_single_and_not_huge():
    assert errors_of({"entity": "lead", "field": "company", "operator": "equals", "value": {"a": 1}}) == {
        "c.value": "Enter a single value."
    }
    assert (
        "at most"
        in errors_of({"entity": "lead", "field": "company", "operator": "equals", "value": "x" * 501})[
            "c.value"
        ]
    )
    assert errors_of({"entity": "lead", "field": "stage", "operator": "gt", "value": float("nan")}) == {
        "c.value": "Enter a finite number."
    }


def test_segment_validation_paths_point_into_nested_groups():
    data = {
        "op": "xor",
        "items": [
            {"entity": "lead", "field": "country", "operator": "equals", "value": "FR"},
            {"op": "or", "items": [{"entity": "lead", "field": "stage", "operator": "gt", "value": "x"}]},
            {"op": "and", "items": []},
        ],
    }
    fields = [error.field for error in validate_segment(data, "audience")]
    assert fields == ["audience.op", "audience.items[1].items[0].value", "audience.items[2].items"]
    with pytest.raises(DefinitionError) as raised:
        Group.from_dict(data)
    assert len(raised.value.errors) == 3


def test_groups_nest_at_most_five_deep():
    data = {"entity": "lead", "field": "country", "operator": "equals", "value": "FR"}
    for _ in range(6):
        data = {"op": "and", "items": [data]}
    assert any("nest at most" in error.reason for error in validate_segment(data))


def test_field_errors_serialise_like_the_api():
    assert FieldError("name", "Enter a name.").to_dict() == {"field": "name", "reason": "Enter a name."}


def test_as_integer_reads_json_and_form_values():
    assert [as_integer(v) for v in (5, "-5", " +7 ", 3.0, 3.5, True, "x", None)] == [
        5,
        -5,
        7,
        3,
        None,
        None,
        None,
        None,
    ]


# --- Facts ------------------------------------------------------------------


def test_the_same_event_given_twice_is_one_fact():
    """E3: interactions are told apart by (source, external_id)."""
    at = dt.datetime(2024, 5, 1, 12)
    a = InteractionFact("email_opened", at, {"c": 1}, "api", "e1")
    other_source = InteractionFact("email_opened", at, {"c": 1}, "import", "e1")
    assert unique_interactions([a, other_source, a]) == (a, other_source)


def test_events_without_external_id_are_told_apart_by_content():
    at = dt.datetime(2024, 5, 1, 12)
    one = InteractionFact("email_opened", at, {"c": [1, 2]})
    same = InteractionFact("email_opened", at, {"c": [1, 2]})
    later = InteractionFact("email_opened", at + dt.timedelta(seconds=1), {"c": [1, 2]})
    assert len(unique_interactions([one, same, later])) == 2


def test_aware_times_become_naive_utc():
    aware = InteractionFact(
        "x", dt.datetime(2024, 5, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2))), external_id="1"
    )
    assert unique_interactions([aware])[0].occurred_at == dt.datetime(2024, 5, 1, 12)


moments = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1))
facts_strategy = st.lists(
    st.builds(
        InteractionFact,
        st.sampled_from(["a", "b"]),
        moments,
        st.fixed_dictionaries({"p": st.integers(0, 2)}),
        st.sampled_from(["api", "import"]),
        st.sampled_from(["", "1", "2", "3"]),
    ),
    max_size=12,
)


@given(facts_strategy, st.randoms())
def test_unique_interactions_does_not_depend_on_order(facts, rng):
    """E3: whichever copy of a duplicate comes first, the same fact is kept."""
    shuffled = list(facts)
    rng.shuffle(shuffled)
    assert unique_interactions(facts) == unique_interactions(shuffled)
    assert unique_interactions(facts + facts) == unique_interactions(facts)


@given(
    st.sampled_from(sorted(OPERATORS)),
    st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans(), st.dates()),
    st.one_of(st.integers(-5, 5), st.text(min_size=1, max_size=3), st.dates().map(str)),
)
def test_operators_never_raise_and_empty_only_matches_is_empty(operator, actual, value):
    """Any value against any operator: an answer, never an exception."""
    result = holds(operator, actual, [value] if operator == "in_list" else value)
    assert isinstance(result, bool)
    if actual is None and operator != "is_empty":
        assert result is False
