"""The pure rules of activities (W1): what each kind holds and how its values
are checked (the same for the page and the API), who may change one, and the
one timeline: newest first, filtered by kind."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.core import activities as rules
from leads.core.validation import NUL_REASON


def test_w1_a_note_needs_its_text_and_a_call_its_outcome():
    assert rules.clean("note", {"body": "  Keen  "}) == ({"body": "Keen"}, [])
    assert rules.clean("note", {"body": " "}) == ({}, [("body", "Write the note.")])
    assert rules.clean("note", {"body": "a\x00b"})[1] == [("body", NUL_REASON)]
    assert rules.clean("note", {"body": "x" * (rules.MAX_BODY + 1)})[1] == [
        ("body", "At most 5000 characters.")
    ]
    values, errors = rules.clean("call", {"outcome": "connected", "duration_minutes": "12"})
    assert errors == [] and values == {"outcome": "connected", "duration_minutes": 12, "body": ""}
    assert rules.clean("call", {"outcome": "connected", "duration_minutes": 7})[0]["duration_minutes"] == 7
    _, errors = rules.clean("call", {"outcome": "hung up", "duration_minutes": "1.5"})
    assert [name for name, _ in errors] == ["outcome", "duration_minutes"]
    assert (
        rules.clean("call", {"outcome": "no_answer", "duration_minutes": True})[1][0][0] == "duration_minutes"
    )
    assert rules.clean("call", {})[1] == [("outcome", "Choose the call's outcome.")]


def test_w1_a_task_needs_a_title_a_due_time_and_an_assignee():
    values, errors = rules.clean(
        "task", {"title": "Quote", "due_at": "2026-12-24T09:30:45+01:00", "assignee_id": "4", "done": "y"}
    )
    assert errors == []
    assert values == {
        "title": "Quote",
        "due_at": dt.datetime(2026, 12, 24, 8, 30),
        "assignee_id": 4,
        "done": True,
    }
    assert (
        rules.clean("task", {"title": "Q", "due_at": "2026-05-01T09:30", "assignee_id": 4})[0]["done"]
        is False
    )
    _, errors = rules.clean(
        "task", {"title": "", "due_at": "tomorrow", "assignee_id": "someone", "done": "perhaps"}
    )
    assert dict(errors) == {
        "title": "Give the task a title.",
        "due_at": rules.DATE_TIME_HINT,
        "assignee_id": "Choose who does the task.",
        "done": "Yes or no.",
    }
    for due in ("0001-01-01T00:00+05:00", "1999-12-31T23:00", "2100-01-01T00:00"):
        assert rules.clean("task", {"title": "Q", "due_at": due, "assignee_id": 4})[1][0][0] == "due_at", due
    assert rules.clean("task", {"title": "Q", "due_at": "2026-05-01T09:30", "assignee_id": 2**31})[1] == [
        ("assignee_id", "Choose who does the task.")
    ]


def test_w1_an_edit_checks_only_the_fields_sent():
    assert rules.clean("task", {"done": True}, partial=True) == ({"done": True}, [])
    assert rules.clean("call", {"duration_minutes": "abc"}, partial=True)[1][0][0] == "duration_minutes"


# The machine's CPUs are shared: a slow first draw is not the strategy's fault.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(sorted(rules._CHECKS)),
        st.one_of(
            st.none(),
            st.text(),
            st.integers(),
            st.booleans(),
            st.floats(allow_nan=True),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_clean_never_raises_and_every_field_is_either_valid_or_refused(raw):
    for kind in rules.KINDS:
        values, errors = rules.clean(kind, raw)
        assert set(values).isdisjoint(name for name, _ in errors)
        assert set(values) | {name for name, _ in errors} == set(rules.FIELDS[kind])


def test_w1_only_the_author_a_manager_or_an_admin_may_change_an_activity():
    assert rules.may_change("rep", 3, 3)
    assert rules.may_change("teleprospector", 5, 5)
    assert rules.may_change("manager", 1, 3) and rules.may_change("admin", 1, 3)
    assert not rules.may_change("teleprospector", 5, 3)
    assert not rules.may_change("rep", 4, 3) and not rules.may_change("marketer", 4, 3)
    assert not rules.may_change("rep", 4, None)


_KINDS = ["note", "call", "task", "history", "interaction"]
_entries = st.lists(
    st.builds(
        rules.Entry,
        kind=st.sampled_from(_KINDS),
        when=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
        rank=st.integers(0, 1000),
        item=st.none(),
    ),
    max_size=30,
)


# The machine's CPUs are shared: a slow first draw is not the strategy's fault.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entries, st.sampled_from(list(rules.FILTERS)))
def test_w1_the_timeline_is_newest_first_and_keeps_only_the_kind_asked_for(entries, shown):
    kept = rules.merged(entries, shown)
    assert [(e.when, e.rank) for e in kept] == sorted(((e.when, e.rank) for e in kept), reverse=True)
    if shown == "all":
        assert len(kept) == len(entries)
    else:
        wanted = {"notes": "note", "calls": "call", "tasks": "task", "stages": "history"}.get(
            shown, "interaction"
        )
        assert {e.kind for e in kept} <= {wanted}
        assert len(kept) == sum(1 for e in entries if e.kind == wanted)
    assert rules.merged(entries, shown, limit=3) == kept[:3]


def test_an_unknown_filter_shows_everything():
    assert rules.parse_filter("calls") == "calls"
    assert rules.parse_filter("<script>") == "all" and rules.parse_filter(None) == "all"
