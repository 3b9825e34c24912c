"""Routing traces in names (R1, W1): what a trace says by id (product lines,
teams, reps, models, conditions on id fields, the id posted as text or a
number) reads with names; an id whose record is gone stays as it was. Pure."""

from leads.core.timeline import name_trace, trace_ids

NAMES = {
    "product_lines": {3: "Analytics Cloud", 4: "Storage"},
    "teams": {2: "West"},
    "users": {7: "Ana Lopez"},
    "models": {5: "Fit"},
}
TRACE = [
    "Rule 1 'Cloud' matched: Lead product line id equals '3'",
    "Rule 2 'Both' no match: Lead product line id is one of 3, 4",
    "Rule 3 'Hot' no match: score in model 5 ≥ 50",
    "  user 9 skipped: not an assignable sales rep",
    "  round robin in product line 3, team 2 → rep 7, 0/20 open",
]


def test_trace_ids_collects_what_the_trace_names_by_id_R1():
    assert trace_ids(TRACE) == {
        "product_lines": {3, 4},
        "teams": {2},
        "users": {7, 9},
        "models": {5},
    }


def test_name_trace_puts_names_for_ids_R1():
    named = [name_trace(line, NAMES) for line in TRACE]
    assert named == [
        "Rule 1 'Cloud' matched: Lead product line equals Analytics Cloud",
        "Rule 2 'Both' no match: Lead product line is one of Analytics Cloud, Storage",
        "Rule 3 'Hot' no match: score in Fit ≥ 50",
        "  user 9 skipped: not an assignable sales rep",
        "  round robin in product line Analytics Cloud, team West → Ana Lopez, 0/20 open",
    ]
    assert name_trace("Lead team id equals 8", NAMES) == "Lead team equals id 8"
