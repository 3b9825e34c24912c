"""The one vocabulary of interaction types, pure (E3, S2, W1)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leads.core import activities, interactions
from leads.core.interactions import BUILT_IN, Vocabulary, check_custom
from leads.core.scoring import BehaviourRule


def test_e3_w1_the_built_in_types_are_the_spec_s_and_the_lead_page_s_calls_and_notes():
    assert list(BUILT_IN) == [
        "email_opened",
        "email_clicked",
        "form_submitted",
        "web_visit",
        "event_registered",
        "event_attended",
        "email_sent",
        "email_replied",
        "call_logged",
        "note_added",
    ]
    assert set(activities.INTERACTION_TYPES.values()) == interactions.LOGGED <= set(BUILT_IN)
    assert BUILT_IN["web_visit"] == "Website visited" and "website_visited" not in BUILT_IN
    assert interactions.RENAMED == {"website_visited": "web_visit"}


def test_e3_custom_types_join_the_built_in_ones_after_them_by_label():
    vocabulary = Vocabulary({"webinar_watched": "Webinar watched", "demo_requested": "Demo requested"})
    assert vocabulary.names()[: len(BUILT_IN)] == list(BUILT_IN)
    assert vocabulary.names()[len(BUILT_IN) :] == ["demo_requested", "webinar_watched"]
    assert vocabulary.known("Demo_Requested ") and not vocabulary.known("website_visited")
    assert vocabulary.label("demo_requested") == "Demo requested"
    assert vocabulary.label("odd_thing") == "odd thing"
    reason = vocabulary.unknown_reason("website_visited")
    assert "'website_visited'" in reason and "web_visit" in reason and "demo_requested" in reason


def test_s2_a_rule_reads_with_the_type_s_label():
    assert BehaviourRule("r", "web_visit", 5, window_days=7).title == "Website visited in the last 7 days"


def test_e3_a_custom_type_is_a_new_snake_case_name_with_a_label():
    assert check_custom(" Demo_Requested ", " Demo requested ", {}) == ("demo_requested", [])
    refusals = {
        ("", "X"): "name",
        ("web_visit", "X"): "built-in",
        ("website_visited", "X"): "built-in",
        ("demo_requested", "X"): "registered already",
        ("two words", "X"): "lower-case",
        ("9lives", "X"): "starting with a letter",
        ("a" * 51, "X"): "At most 50",
        ("ok_name", ""): "label",
        ("ok_name", "x" * 81): "At most 80",
        ("ok_name", "bad\x00"): "null character",
    }
    for (name, label), reason in refusals.items():
        _clean, errors = check_custom(name, label, {"demo_requested": "Demo requested"})
        assert errors and reason in errors[0][1], (name, label, errors)


@given(
    st.text(max_size=30), st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), st.text())
)
def test_e3_known_means_built_in_or_registered_whatever_the_case_and_spaces(name, custom):
    vocabulary = Vocabulary(custom)
    expected = name.strip().casefold() in BUILT_IN or name.strip().casefold() in custom
    assert vocabulary.known(name) == expected
    assert set(vocabulary.names()) == set(BUILT_IN) | set(custom)
