"""The lead's business process as pure rules (SPEC P1–P8): every rule by id,
its refusals with their messages, and hypothesis properties over any sequence
of actions. No database, no Flask."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core import lifecycle as lc
from leads.core import timeline
from leads.core.lifecycle import Actor, LeadState, TransitionError

ADMIN = Actor(lc.ADMIN, 1)
MARKETER = Actor(lc.MARKETER, 2)
MANAGER = Actor(lc.MANAGER, 3)
TP = Actor(lc.TELEPROSPECTOR, 4)
REP = Actor(lc.REP, 5)
OTHER_REP = Actor(lc.REP, 6)
SYSTEM = lc.SYSTEM_ACTOR


def state(**kw) -> LeadState:
    return LeadState(**kw)


def at_stage(stage: int, **kw) -> LeadState:
    """A lead that got to ``stage`` the usual way."""
    if stage == lc.SALES_ACCEPTANCE:
        kw.setdefault("sales_ready", True)
    return LeadState(stage=stage, **kw)


def refused(action: str, st_: LeadState, actor: Actor, message: str, **args) -> None:
    with pytest.raises(TransitionError) as err:
        lc.apply(st_, action, actor, **args)
    assert str(err.value) == message


# -- P1 ------------------------------------------------------------------------


def test_p1_a_score_moves_an_inquiry_to_stage_2_by_itself():
    assert lc.score_received(state()).stage == lc.AUTOMATED_QUALIFICATION


def test_p1_a_score_leaves_later_stages_and_closed_leads_alone():
    later = at_stage(lc.TP_ACCEPTANCE)
    closed = state(status=lc.DISQUALIFIED, status_reason="no_budget")
    assert lc.score_received(later) == later
    assert lc.score_received(closed) == closed


@pytest.mark.parametrize("actor", [ADMIN, MARKETER, MANAGER, SYSTEM])
@pytest.mark.parametrize("target", [1, 2, 3, 4, 5])
def test_p1_steering_roles_move_an_open_lead_to_any_other_stage(actor, target):
    start = at_stage(3 if target != 3 else 2)
    new, changes = lc.apply(start, "move", actor, stage=target)
    assert new.stage == target
    assert changes[0] == lc.Change("stage", start.stage, target)


@pytest.mark.parametrize("actor", [TP, REP])
def test_p1_refuses_a_manual_move_to_other_roles(actor):
    refused("move", at_stage(2), actor, "Your role may not move leads between stages.", stage=3)


def test_p1_refuses_a_move_to_the_same_stage_or_an_unknown_one():
    refused(
        "move", at_stage(2), MANAGER, "The lead is already in Automated marketing qualification.", stage=2
    )
    refused("move", at_stage(2), MANAGER, "Unknown stage.", stage=9)


def test_p1_a_move_into_stage_5_marks_the_lead_sales_ready():
    new, _ = lc.apply(at_stage(2), "move", MANAGER, stage=5)
    assert new.sales_ready and new.status_reason == lc.REASON_SALES_READY


def test_p1_a_move_back_out_of_stage_5_withdraws_the_hand_off_to_sales():
    accepted = at_stage(
        5, owner_id=REP.user_id, sales_accepted=True, tp_accepted=True, status_reason=lc.REASON_SALES_ACCEPTED
    )
    new, _ = lc.apply(accepted, "move", MANAGER, stage=4)
    assert (new.stage, new.owner_id, new.sales_ready, new.sales_accepted) == (4, None, False, False)
    assert new.status_reason == lc.REASON_TP_ACCEPTED
    back_to_2, _ = lc.apply(new, "move", MANAGER, stage=2)
    assert not back_to_2.tp_accepted and back_to_2.status_reason == lc.REASON_NEW


# -- P2 ------------------------------------------------------------------------


def test_p2_ready_for_teleprospecting_moves_stage_2_to_3():
    new, changes = lc.apply(at_stage(2), "ready_for_tp", MARKETER)
    assert (new.stage, new.ready_for_tp) == (3, True)
    assert [c.kind for c in changes] == ["stage", "ready_for_tp"]


@pytest.mark.parametrize("stage", [1, 3, 4, 5])
def test_p2_ready_for_teleprospecting_only_from_stage_2(stage):
    refused(
        "ready_for_tp",
        at_stage(stage),
        MARKETER,
        "Only a lead in Automated marketing qualification can be sent to teleprospecting.",
    )


def test_p2_teleprospectors_and_reps_do_not_send_leads_to_teleprospecting():
    refused("ready_for_tp", at_stage(2), TP, "Your role may not send leads to teleprospecting.")
    refused("ready_for_tp", at_stage(2), REP, "Your role may not send leads to teleprospecting.")


def test_p2_a_stage_2_lead_can_also_be_marked_sales_ready():
    assert lc.apply(at_stage(2), "sales_ready", MARKETER)[0].stage == 5


# -- P3 ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
@pytest.mark.parametrize("actor", [ADMIN, MARKETER, MANAGER, SYSTEM])
def test_p3_sales_ready_from_any_stage_goes_straight_to_stage_5(stage, actor):
    new, _ = lc.apply(at_stage(stage), "sales_ready", actor)
    assert (new.stage, new.sales_ready, new.status_reason) == (5, True, lc.REASON_SALES_READY)


def test_p3_skipped_teleprospecting_stages_show_as_skipped():
    new, _ = lc.apply(at_stage(2), "sales_ready", MARKETER)
    assert lc.stage_marks(new) == {1: "done", 2: "done", 3: "skipped", 4: "skipped", 5: "current"}


def test_p3_sales_ready_keeps_marketing_qualified_as_the_reason():
    new, _ = lc.apply(at_stage(2, status_reason=lc.REASON_MARKETING_QUALIFIED), "sales_ready", SYSTEM)
    assert new.status_reason == lc.REASON_MARKETING_QUALIFIED


def test_p3_refuses_a_lead_that_is_already_sales_ready():
    refused("sales_ready", at_stage(5), MARKETER, "The lead is already sales-ready.")


def test_p3_a_teleprospector_marks_sales_ready_only_in_their_stages():
    refused(
        "sales_ready",
        at_stage(2),
        TP,
        "Only a lead in Teleprospecting acceptance or Teleprospecting qualification can be marked "
        "sales-ready by a teleprospector.",
    )
    refused("sales_ready", at_stage(2), REP, "Your role may not mark leads sales-ready.")


# -- P4 ------------------------------------------------------------------------


def test_p4_teleprospecting_accepted_moves_stage_3_to_4_and_records_who():
    new, changes = lc.apply(at_stage(3, ready_for_tp=True), "tp_accept", TP)
    assert (new.stage, new.tp_accepted, new.teleprospector_id) == (4, True, TP.user_id)
    assert new.status_reason == lc.REASON_TP_ACCEPTED
    assert {c.kind for c in changes} >= {"stage", "teleprospector_id", "status_reason"}


def test_p4_only_stage_3_leads_and_teleprospecting_roles_are_accepted():
    refused(
        "tp_accept",
        at_stage(2),
        TP,
        "Only a lead in Teleprospecting acceptance can be accepted for teleprospecting.",
    )
    refused("tp_accept", at_stage(3), MARKETER, "Your role may not accept leads for teleprospecting.")
    refused("tp_accept", at_stage(3), REP, "Your role may not accept leads for teleprospecting.")


# -- W4: a teleprospector's claim ------------------------------------------------

OTHER_TP = Actor(lc.TELEPROSPECTOR, 7)
CLAIMED = at_stage(4, tp_accepted=True, teleprospector_id=TP.user_id)
CLAIM_ACTIONS = [
    ("qualify", {"values": {"need": "Yes"}}, "record its findings"),
    ("sales_ready", {}, "mark it sales-ready"),
    ("disqualify", {"reason": "no_budget"}, "disqualify it"),
]


@pytest.mark.parametrize(("action", "args", "what"), CLAIM_ACTIONS)
def test_w4_another_teleprospector_may_not_work_a_claimed_lead(action, args, what):
    with pytest.raises(lc.NotTheClaimer) as err:
        lc.apply(CLAIMED, action, OTHER_TP, **args)
    assert str(err.value) == (
        f"Another teleprospector has claimed this lead: only they or a sales manager can {what}."
    )
    assert isinstance(lc.refused(CLAIMED, action, OTHER_TP), lc.NotTheClaimer)
    assert action not in lc.available_actions(CLAIMED, OTHER_TP)


@pytest.mark.parametrize(("action", "args", "what"), CLAIM_ACTIONS)
@pytest.mark.parametrize("actor", [TP, MANAGER, ADMIN], ids=["claimer", "manager", "admin"])
def test_w4_the_claimer_and_managers_work_a_claimed_lead_which_stays_claimed(action, args, what, actor):
    new, _ = lc.apply(CLAIMED, action, actor, **args)
    assert new.teleprospector_id == TP.user_id and lc.refused(CLAIMED, action, actor) is None


def test_w4_accepting_claims_and_a_state_refusal_is_not_a_claim_refusal():
    new, _ = lc.apply(at_stage(3), "tp_accept", OTHER_TP)
    assert new.teleprospector_id == OTHER_TP.user_id
    error = lc.refused(CLAIMED, "tp_accept", OTHER_TP)
    assert type(error) is TransitionError  # the lead's stage, not who asks: a 409, not a 403


def test_w4_findings_on_an_unclaimed_stage_4_lead_claim_it():
    """A lead moved into stage 4 by hand has no claimer: the first teleprospector to record findings gets it."""
    new, changes = lc.apply(at_stage(4), "qualify", OTHER_TP, values={"need": "Yes"})
    assert new.teleprospector_id == OTHER_TP.user_id
    assert lc.Change("teleprospector_id", None, OTHER_TP.user_id) in changes
    assert lc.apply(at_stage(4), "qualify", MANAGER, values={"need": "Yes"})[0].teleprospector_id is None


def test_w4_moving_a_lead_back_before_stage_4_releases_its_claim():
    assert lc.move(CLAIMED, MANAGER, lc.TP_ACCEPTANCE).teleprospector_id is None
    assert lc.move(CLAIMED, MANAGER, lc.AUTOMATED_QUALIFICATION).teleprospector_id is None
    handed_on = replace(CLAIMED, stage=lc.SALES_ACCEPTANCE, sales_ready=True)
    assert lc.move(handed_on, MANAGER, lc.TP_QUALIFICATION).teleprospector_id == TP.user_id


# -- P5 ------------------------------------------------------------------------


def test_p5_findings_merge_into_the_qualification_and_list_the_changed_keys():
    start = at_stage(
        4, tp_accepted=True, teleprospector_id=TP.user_id, qualification={"budget": "10k–50k", "need": "CRM"}
    )
    new, changes = lc.apply(start, "qualify", TP, values={"need": "CRM", "timeframe": "This quarter"})
    assert new.qualification == {"budget": "10k–50k", "need": "CRM", "timeframe": "This quarter"}
    assert changes == [lc.Change("qualification", None, "timeframe")]


def test_p5_a_blank_answer_clears_a_finding_instead_of_storing_it():
    start = at_stage(4, teleprospector_id=TP.user_id, qualification={"budget": "Over 250k"})
    new, changes = lc.apply(start, "qualify", TP, values={"budget": "", "notes": ""})
    assert new.qualification == {}
    assert changes == [lc.Change("qualification", None, "budget")]


def test_p5_findings_only_in_stage_4():
    refused(
        "qualify",
        at_stage(3),
        TP,
        "Only a lead in Teleprospecting qualification can take qualification findings.",
        values={"need": "x"},
    )
    refused("qualify", at_stage(4), REP, "Your role may not record qualification findings.", values={})


def test_p5_findings_then_sales_ready_is_one_step_to_stage_5():
    start = at_stage(4, tp_accepted=True, teleprospector_id=TP.user_id)
    new, changes = lc.apply_steps(start, [("qualify", {"values": {"need": "Yes"}}), ("sales_ready", {})], TP)
    assert (new.stage, new.sales_ready, new.qualification) == (5, True, {"need": "Yes"})
    assert changes[0].kind == "stage" and changes[-1].kind == "qualification"
    assert lc.stage_marks(new)[4] == "done"


def test_p5_steps_are_all_or_nothing():
    start = at_stage(4)
    with pytest.raises(TransitionError):
        lc.apply_steps(start, [("qualify", {"values": {"need": "x"}}), ("convert", {})], TP)
    assert start.qualification == {}  # frozen: nothing half-applied


# -- P6 ------------------------------------------------------------------------


def test_p6_a_manager_assigns_a_stage_5_lead_to_a_rep():
    new, changes = lc.apply(at_stage(5), "assign", MANAGER, owner_id=REP.user_id)
    assert new.owner_id == REP.user_id
    assert changes == [lc.Change("owner_id", None, REP.user_id)]


def test_p6_assign_refusals():
    refused(
        "assign",
        at_stage(4),
        MANAGER,
        "Only a lead in Sales acceptance can be assigned to a salesperson.",
        owner_id=5,
    )
    refused("assign", at_stage(5), MARKETER, "Your role may not assign leads.", owner_id=5)
    refused("assign", at_stage(5), REP, "Your role may not assign leads.", owner_id=5)
    refused(
        "assign", at_stage(5, owner_id=5), MANAGER, "The lead is already assigned to that rep.", owner_id=5
    )


def test_p6_reassigning_withdraws_the_previous_acceptance():
    accepted = at_stage(5, owner_id=5, sales_accepted=True, status_reason=lc.REASON_SALES_ACCEPTED)
    new, _ = lc.apply(accepted, "assign", MANAGER, owner_id=6)
    assert (new.owner_id, new.sales_accepted, new.status_reason) == (6, False, lc.REASON_SALES_READY)
    again, _ = lc.apply(new, "sales_accept", OTHER_REP)
    assert again.sales_accepted


def test_p6_the_owner_accepts_then_converts():
    held = at_stage(5, owner_id=REP.user_id)
    accepted, _ = lc.apply(held, "sales_accept", REP)
    assert (accepted.sales_accepted, accepted.status_reason) == (True, lc.REASON_SALES_ACCEPTED)
    converted, _ = lc.apply(accepted, "convert", REP)
    assert (converted.status, converted.status_reason) == (lc.QUALIFIED, lc.REASON_CONVERTED)
    assert lc.display_stage(converted) == "Converted"


def test_p6_sales_refusals_name_what_is_missing():
    held = at_stage(5, owner_id=REP.user_id)
    refused("sales_accept", at_stage(5), MANAGER, "Assign the lead to a salesperson first.")
    refused("sales_accept", held, OTHER_REP, "Only the lead's owner can accept it.")
    refused("convert", held, REP, "Accept the lead for sales before converting it.")
    refused("decline", held, OTHER_REP, "Only the lead's owner can decline it.")
    accepted = replace(held, sales_accepted=True)
    refused("sales_accept", accepted, REP, "The lead is already sales-accepted.")
    refused("decline", accepted, REP, "An accepted lead cannot be declined; disqualify it instead.")
    refused("convert", accepted, OTHER_REP, "Only the lead's owner can convert it.")


def test_p6_r6_declining_returns_the_lead_to_the_unassigned_queue():
    new, _ = lc.apply(at_stage(5, owner_id=REP.user_id), "decline", REP)
    assert (new.stage, new.owner_id, new.sales_ready) == (5, None, True)


def test_p6_disqualify_needs_a_reason_and_a_role_that_may():
    new, _ = lc.apply(at_stage(2), "disqualify", MARKETER, reason="no_budget")
    assert (new.status, new.status_reason) == (lc.DISQUALIFIED, "no_budget")
    assert lc.stage_marks(new)[2] == "stopped"
    refused("disqualify", at_stage(2), MARKETER, "Choose a disqualification reason.", reason="bogus")
    refused(
        "disqualify",
        at_stage(5),
        TP,
        "Only a lead in Teleprospecting acceptance or Teleprospecting qualification can be disqualified by a teleprospector.",
        reason="other",
    )


def test_p6_a_rep_disqualifies_only_their_own_accepted_lead():
    held = at_stage(5, owner_id=REP.user_id)
    refused("disqualify", held, OTHER_REP, "Only the lead's owner can disqualify it.", reason="other")
    refused(
        "disqualify", held, REP, "Accept the lead before disqualifying it, or decline it.", reason="other"
    )
    new, _ = lc.apply(replace(held, sales_accepted=True), "disqualify", REP, reason="competitor")
    assert new.status == lc.DISQUALIFIED


@pytest.mark.parametrize("action", sorted(lc.ACTIONS))
def test_p6_closed_leads_take_no_more_actions(action):
    closed = at_stage(
        5, owner_id=5, sales_accepted=True, status=lc.QUALIFIED, status_reason=lc.REASON_CONVERTED
    )
    assert lc.refusal(closed, action, ADMIN) == "This lead is already converted."


def test_unknown_actions_are_refused():
    refused("teleport", state(), ADMIN, "Unknown action 'teleport'.")


# -- P7 ------------------------------------------------------------------------


def test_p7_changes_list_the_stage_first_with_from_and_to():
    new, changes = lc.apply(at_stage(3), "sales_ready", MARKETER)
    assert changes[0] == lc.Change("stage", 3, 5)
    assert lc.Change("sales_ready", False, True) in changes


def test_p7_timeline_reads_stage_names_owner_names_and_reason_labels():
    names, labels = {5: "Rita Rep"}, {"budget": "Budget", "need": "Need"}
    assert timeline.describe("stage", None, "1", names, labels) == "Created in Inquiry"
    assert timeline.describe("stage", "2", "3", names, labels) == (
        "Stage: Automated marketing qualification → Teleprospecting acceptance"
    )
    assert timeline.describe("owner", None, "5", names, labels) == "Assigned to Rita Rep"
    assert timeline.describe("owner", "5", None, names, labels) == "Owner removed (was Rita Rep)"
    assert timeline.describe("status_reason", "sales_ready", "no_budget", names, labels) == (
        "Status reason: Sales ready → No budget"
    )
    assert timeline.describe("qualification", None, "budget,need", names, labels) == (
        "Qualification findings updated: Budget, Need"
    )
    assert timeline.describe("sales_accepted", "0", "1", names, labels) == "Sales accepted"


def test_p7_timeline_groups_one_actions_rows_and_names_the_system():
    when = dt.datetime(2024, 5, 1, 9, 30)
    rep = SimpleNamespace(name="Rita Rep")

    def row(kind, old, new, actor=None, at=when, via="web"):
        return SimpleNamespace(
            kind=kind,
            old_value=old,
            new_value=new,
            actor=actor,
            actor_id=actor and 5,
            via=via,
            note=None,
            created_at=at,
        )

    rows = [  # newest first, as the query gives them
        row("status_reason", "sales_ready", "sales_accepted", rep),
        row("sales_accepted", "0", "1", rep),
        row("stage", "2", "5", None, when - dt.timedelta(hours=1), "assignment rules"),
    ]
    events = timeline.events(rows, {}, {})
    assert [(e.who, len(e.lines)) for e in events] == [("Rita Rep", 2), ("System", 1)]
    assert events[0].lines[0] == "Sales accepted"
    assert events[1].via == "assignment rules"


# -- P8 ------------------------------------------------------------------------


def test_p8_teleprospectors_act_only_on_their_stages():
    assert lc.available_actions(at_stage(3), TP) == {"tp_accept", "sales_ready", "disqualify"}
    assert lc.available_actions(at_stage(4), TP) == {"qualify", "sales_ready", "disqualify"}
    assert lc.available_actions(at_stage(5), TP) == set()


def test_p8_a_rep_acts_only_on_their_own_sales_ready_lead():
    held = at_stage(5, owner_id=REP.user_id)
    assert lc.available_actions(held, REP) == {"sales_accept", "decline"}
    assert lc.available_actions(replace(held, sales_accepted=True), REP) == {"convert", "disqualify"}
    assert lc.available_actions(held, OTHER_REP) == set()
    assert lc.allowed_moves(held, REP) == []


def test_p8_refusal_explains_why_an_action_is_closed():
    assert lc.refusal(at_stage(3), "move", REP) == "Your role may not move leads between stages."
    assert lc.refusal(at_stage(3), "move", MANAGER) is None
    assert lc.allowed_moves(at_stage(3), MANAGER) == [1, 2, 4, 5]


# -- properties over any sequence of actions -------------------------------------------

ACTORS = [ADMIN, MARKETER, MANAGER, TP, REP, OTHER_REP, SYSTEM, Actor(lc.TELEPROSPECTOR, 7)]


@st.composite
def steps(draw):
    action = draw(st.sampled_from(sorted(lc.ACTIONS)))
    actor = draw(st.sampled_from(ACTORS))
    if action == "move":
        args = {"stage": draw(st.integers(0, 6))}
    elif action == "assign":
        args = {"owner_id": draw(st.sampled_from([REP.user_id, OTHER_REP.user_id]))}
    elif action == "disqualify":
        args = {"reason": draw(st.sampled_from([*lc.DISQUALIFY_REASONS, "bogus"]))}
    elif action == "qualify":
        args = {"values": draw(st.dictionaries(st.sampled_from(["budget", "need"]), st.text(max_size=3)))}
    else:
        args = {}
    return action, actor, args


def run(sequence):
    """Apply every step that the rules allow; yield (before, step, after, changes or None)."""
    current = state()
    for action, actor, args in sequence:
        try:
            new, changes = lc.apply(current, action, actor, **args)
        except TransitionError as error:
            assert str(error)  # every refusal says why
            yield current, (action, actor, args), current, None
            continue
        yield current, (action, actor, args), new, changes
        current = new


@settings(max_examples=300, deadline=None)
@given(st.lists(steps(), max_size=25))
def test_property_the_stage_stays_within_1_to_5(sequence):
    for _before, _step, after, _changes in run(sequence):
        assert after.stage in lc.STAGES


@settings(max_examples=300, deadline=None)
@given(st.lists(steps(), max_size=25))
def test_property_closed_leads_never_change(sequence):
    for before, _step, after, _changes in run(sequence):
        if lc.is_terminal(before):
            assert after == before


@settings(max_examples=300, deadline=None)
@given(st.lists(steps(), max_size=25))
def test_property_sales_handoff_lives_only_in_stage_5(sequence):
    """P3/P6/P8: sales-ready, an owner and sales acceptance all imply stage 5; an
    open stage-5 lead is sales-ready; a converted lead was accepted."""
    for _before, _step, after, _changes in run(sequence):
        if after.sales_ready or after.owner_id is not None or after.sales_accepted:
            assert after.stage == lc.SALES_ACCEPTANCE
        if after.sales_accepted:
            assert after.owner_id is not None
        if after.status == lc.OPEN and after.stage == lc.SALES_ACCEPTANCE:
            assert after.sales_ready
        if after.status == lc.QUALIFIED:
            assert after.sales_accepted


@settings(max_examples=300, deadline=None)
@given(st.lists(steps(), max_size=25))
def test_property_the_page_offers_every_action_the_rules_accept(sequence):
    """What ``available_actions`` offers matches what ``apply`` accepts, and
    every accepted step's changes describe exactly the difference (P7)."""
    for before, (action, actor, _args), after, changes in run(sequence):
        if changes is None:
            continue
        assert action in lc.available_actions(before, actor)
        assert (changes == []) == (after == before)
        if after.stage != before.stage:
            assert changes[0] == lc.Change("stage", before.stage, after.stage)
