"""Activities on a lead, a contact or an account (W1): the one function per
action every door calls (the lead, contact and account pages and the API), the
named queries, and the lead's timeline. An activity belongs to exactly one of
them (its parent record).

A note or a call is also stored as an interaction of its own type
(``note_added``, ``call_logged``) through ``leads.intake.interactions``, in the
same transaction (of the contact for one on a contact; one on an account is
not an interaction: interactions belong to people), so the lead is re-scored by the same follow-up as any other
new interaction (``interactions_stored``). Editing a call or deleting a note or
call changes or removes that interaction and re-scores the lead
(``records_changed``).
"""

from __future__ import annotations

import peewee as pw

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR, User
from leads.activities.models import Activity
from leads.base import signals
from leads.base.db import Shape, transaction, utcnow
from leads.core import activities as rules
from leads.core import timeline as history
from leads.intake import interactions
from leads.records import activity as lead_activity
from leads.records.models import Account, Contact, Interaction, Lead
from leads.records.queries import (
    SEE_ALL,
    history_for,
    qualification_labels,
    trace_names,
    user_names,
    visible_accounts,
    visible_contacts,
    visible_leads,
)

SOURCE = "activity"  # the interactions' source; external id: activity-<id>
SHOWN = 50  # timeline entries per page, newest first; "Show older" loads the next ones
ROLES_SEEING_BY_ROLE = (ADMIN, MARKETER, MANAGER, TELEPROSPECTOR)


class NotAllowed(Exception):
    """The user may see the activity but not change it (not its author, nor a manager or admin)."""


Author = User.alias("author_user")
Assignee = User.alias("assignee_user")
Editor = User.alias("editor_user")


def lead_activities(lead_id: int):
    """The lead's activities not deleted, newest first, with their author,
    assignee and last editor (a query)."""
    return _activities_where(Activity.lead == lead_id)


def newest_lead_activities(lead_id: int, limit: int) -> list[Activity]:
    """The first ``limit`` of ``lead_activities(lead_id)`` (its SQL text built
    once per limit: the lead page reads them on every view)."""
    return list(_NEWEST.run(lead_id, variant=limit))


_NEWEST = Shape(lambda limit, lead_id: lead_activities(lead_id).limit(limit))


def record_activities(record):
    """The activities not deleted of ``record`` (a lead, contact or account),
    newest first, with their author, assignee and last editor (a query)."""
    return _activities_where(_parent_column(record) == record.id)


def _activities_where(condition):
    return _with_people(Activity.select(Activity, *_PEOPLE)).where(condition & Activity.deleted_at.is_null())


def _parent_column(record):
    """The activity's column naming ``record`` as its parent."""
    for model, column in ((Lead, Activity.lead), (Contact, Activity.contact), (Account, Activity.account)):
        if isinstance(record, model):
            return column
    raise TypeError(f"an activity belongs to a lead, a contact or an account, not {record!r}")


def parent_of(activity: Activity):
    """The lead, contact or account ``activity`` belongs to."""
    if activity.lead_id is not None:
        return Lead.get_by_id(activity.lead_id)
    if activity.contact_id is not None:
        return Contact.get_by_id(activity.contact_id)
    return Account.get_by_id(activity.account_id)


_PEOPLE = (Author.id, Author.name, Assignee.id, Assignee.name, Editor.id, Editor.name)


def _with_people(query):
    """``query`` over activities with their author, assignee and last editor, newest first."""
    outer = pw.JOIN.LEFT_OUTER
    return (
        query.join_from(Activity, Author, outer, on=(Activity.author == Author.id), attr="author")
        .join_from(Activity, Assignee, outer, on=(Activity.assignee == Assignee.id), attr="assignee")
        .join_from(Activity, Editor, outer, on=(Activity.edited_by == Editor.id), attr="edited_by")
        .order_by(Activity.created_at.desc(), Activity.id.desc())
    )


RELATED_SHOWN = 50  # activities on a contact's or an account's page


def activities_of_leads(lead_ids, kind: str | None = None, limit: int = RELATED_SHOWN) -> list[Activity]:
    """The latest ``limit`` activities not deleted of the leads ``lead_ids`` (a
    contact's or an account's leads the user may see, W1), newest first (only
    ``kind``'s if given), each with its author, assignee and lead
    (``activity.about``): one query."""
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    lead = (Lead.id, Lead.first_name, Lead.last_name, Lead.email, Lead.topic)
    query = _with_people(Activity.select(Activity, *_PEOPLE, *lead)).join_from(
        Activity, Lead, on=(Activity.lead == Lead.id), attr="about"
    )
    query = query.where(Activity.lead.in_(ids) & Activity.deleted_at.is_null())
    if kind is not None:
        query = query.where(Activity.kind == kind)
    return list(query.limit(limit))


def activity_for(lead_id: int, activity_id: int) -> Activity | None:
    """The lead's activity ``activity_id`` if it is not deleted, else None."""
    return lead_activities(lead_id).where(Activity.id == activity_id).first()


def activity_on(record, activity_id: int) -> Activity | None:
    """``record``'s activity ``activity_id`` if it is not deleted, else None."""
    return record_activities(record).where(Activity.id == activity_id).first()


_VISIBLE = ((Lead, visible_leads), (Contact, visible_contacts), (Account, visible_accounts))


def assignable_users(record):
    """The active users a task on ``record`` (a lead, contact or account) may
    be given to: those who may see it (G1), by name (one query). Every role but
    a rep's sees by role: the roles that see every record without a look, the
    others (teleprospectors) when their visible records hold it; of the reps
    only its owner (a rep sees only their own leads; a contact or account also
    through their leads, left out here: the owner is the one sure to see it)."""
    model, visible = next((model, visible) for model, visible in _VISIBLE if isinstance(record, model))
    who = User.role.in_([role for role in ROLES_SEEING_BY_ROLE if role in SEE_ALL])  # they see every record
    for role in ROLES_SEEING_BY_ROLE:
        if role not in SEE_ALL:
            seeing = visible(User(role=role)).select(pw.Value(role)).where(model.id == record.id)
            who |= (User.role == role) & pw.fn.EXISTS(seeing)
    if record.owner_id is not None:
        who |= (User.role == REP) & (User.id == record.owner_id)
    return (
        User.select()
        .where((User.is_active == True) & who)  # noqa: E712
        .order_by(User.name, User.id)
    )


def assignees(record) -> list[User]:
    """``assignable_users(record)``'s users (its SQL text built once per kind of record)."""
    owner = () if record.owner_id is None else (record.owner_id,)
    return list(_ASSIGNEES.run(record.id, *owner, variant=type(record)))


def _assignees(model, record_id: int, owner_id: int | None = None):
    return assignable_users(model(id=record_id, owner=owner_id))


_ASSIGNEES = Shape(_assignees)


def _check_assignee(record, values: dict, errors: rules.Errors) -> None:
    if (
        "assignee_id" in values
        and not assignable_users(record).where(User.id == values["assignee_id"]).exists()
    ):
        what = "lead" if isinstance(record, Lead) else "contact" if isinstance(record, Contact) else "account"
        errors.append(("assignee_id", f"Choose an active user who may see this {what}."))
        del values["assignee_id"]


def add_activity(record, user: User, kind: str, raw) -> tuple[Activity | None, rules.Errors]:
    """Store a ``kind`` activity on ``record`` (a lead, contact or account:
    its one parent) written by ``user`` (who may see it); a note or call on a
    lead or contact also as its interaction, re-scoring the lead (the
    contact's leads). Returns the activity, or None and the ``(field, reason)``
    errors."""
    column = _parent_column(record)
    values, errors = rules.clean(kind, raw)
    if kind == rules.TASK:
        _check_assignee(record, values, errors)
    if errors:
        return None, errors
    with transaction():
        activity = Activity.create(
            **{column.name: record.id},
            kind=kind,
            author=user.id,
            body=values.get("body") or "",
            outcome=values.get("outcome"),
            duration_minutes=values.get("duration_minutes"),
            title=values.get("title"),
            due_at=values.get("due_at"),
            assignee=values.get("assignee_id"),
            done=bool(values.get("done")),
            created_at=utcnow(),
        )
        if kind in rules.INTERACTION_TYPES and activity.account_id is None:
            activity.interaction = _record_interaction(activity, user)
            activity.save(only=[Activity.interaction])
    return activity_on(record, activity.id), []


def _properties(activity: Activity) -> dict:
    """What scoring rules may filter a note's or call's interaction on (S2)."""
    properties = {"activity_id": activity.id}
    if activity.kind == rules.CALL:
        properties["outcome"] = activity.outcome
        if activity.duration_minutes is not None:
            properties["duration_minutes"] = activity.duration_minutes
    return properties


def _record_interaction(activity: Activity, user: User) -> int:
    """The activity stored as an interaction by the one interactions service
    (E3: once per activity; ``interactions_stored`` re-scores the lead)."""
    item = {
        "type": rules.INTERACTION_TYPES[activity.kind],
        "external_id": f"activity-{activity.id}",
        "source": SOURCE,
        "occurred_at": activity.created_at.isoformat(),
        "properties": _properties(activity),
    }
    if activity.contact_id is not None:
        item["contact_id"] = activity.contact_id
    else:
        item["lead_id"] = activity.lead_id
    (result,) = interactions.record_interactions([item], user, default_source=SOURCE)
    if result.status == interactions.REJECTED:  # the caller checked the lead is visible: a bug
        raise ValueError(f"the activity's interaction was refused: {result.errors}")
    return result.id


def edit_activity(activity: Activity, user: User, raw) -> tuple[Activity | None, rules.Errors]:
    """Change the fields sent of ``activity`` (its author, a manager or an admin
    only: ``NotAllowed`` otherwise), recording who and when; a call's changed
    outcome or duration changes its interaction and re-scores the lead."""
    _check_may_change(activity, user)
    values, errors = rules.clean(activity.kind, raw, partial=True)
    if activity.kind == rules.TASK:
        _check_assignee(parent_of(activity), values, errors)
    if errors:
        return None, errors
    if not values:
        return None, [(None, "Nothing to change.")]
    columns = {("assignee" if name == "assignee_id" else name): value for name, value in values.items()}
    with transaction():
        Activity.update(**columns, edited_at=utcnow(), edited_by=user.id).where(
            Activity.id == activity.id
        ).execute()
        fresh = Activity.get_by_id(activity.id)
        if fresh.interaction_id is not None and {"outcome", "duration_minutes"} & set(values):
            Interaction.update(properties=_properties(fresh)).where(
                Interaction.id == fresh.interaction_id
            ).execute()
            signals.records_changed.send(__name__, cause="call edited", **_rescored(fresh))
    return _activities_where(Activity.id == activity.id).first(), []


def delete_activity(activity: Activity, user: User) -> bool:
    """Take ``activity`` out of the timeline (its author, a manager or an admin
    only: ``NotAllowed`` otherwise), recording who and when; a note's or call's
    interaction goes with it and the lead is re-scored. False when it was
    already deleted (a double click)."""
    _check_may_change(activity, user)
    with transaction():
        deleted = (
            Activity.update(deleted_at=utcnow(), deleted_by=user.id)
            .where((Activity.id == activity.id) & Activity.deleted_at.is_null())
            .execute()
        )
        if deleted and activity.interaction_id is not None:
            Interaction.delete().where(Interaction.id == activity.interaction_id).execute()
            signals.records_changed.send(__name__, cause=f"{activity.kind} deleted", **_rescored(activity))
    return bool(deleted)


def _rescored(activity: Activity) -> dict:
    """Whom ``records_changed`` re-scores for a change of the activity's interaction."""
    if activity.contact_id is not None:
        return {"contact_ids": [activity.contact_id]}
    return {"lead_ids": [activity.lead_id]}


def _check_may_change(activity: Activity, user: User) -> None:
    if not rules.may_change(user.role, user.id, activity.author_id):
        raise NotAllowed("Only its author, a manager or an admin may change this activity.")


def lead_timeline(
    lead: Lead, shown: str = "all", events=None, interactions=None, activities=None, offset: int = 0
) -> tuple[list[rules.Entry], bool]:
    """A page of the lead's one timeline (W1): its activities, its history
    events (P7; ``events``: already loaded) and the interactions that count for
    it (S3), newest first, as the filter ``shown`` keeps them: the ``SHOWN``
    entries after the newest ``offset``, and whether older ones are left. The
    interactions of its own notes and calls are left out: the activity itself
    is shown. ``activities`` (the newest ``SHOWN + 1``) and ``interactions``
    (the lead page's newest rows) are what the lead page already loaded; they
    serve the first page of the whole timeline, else the page is queried with
    the filter (only the kinds it keeps, at most ``offset + SHOWN + 1`` of each)."""
    wanted = rules.kept_kind(shown)
    first = offset == 0 and wanted is None
    limit = offset + SHOWN + 1
    entries = []
    if wanted is None or wanted in rules.KINDS:
        if activities is None or not first:
            query = lead_activities(lead.id)
            activities = query.where(Activity.kind == wanted) if wanted else query
            activities = activities.limit(limit)
        entries += [
            rules.Entry(activity.kind, activity.created_at, activity.id, activity) for activity in activities
        ]
    if wanted in (None, rules.HISTORY):
        if events is None:
            rows = list(history_for(lead.id))
            traced = trace_names(row.note for row in rows if row.kind == "routing")
            events = history.events(
                rows, user_names(history.person_ids(rows)), qualification_labels(), traced
            )
        entries += [rules.Entry(rules.HISTORY, event.when, 0, event) for event in events]
    cut_short = False  # the lead page's interactions stop at its page, older ones may be left
    if wanted in (None, rules.INTERACTION):
        if interactions is None or not first:
            query = lead_activity.lead_interactions(lead).where(Interaction.source != SOURCE)
            interactions = lead_activity.shown(query, limit)
        else:
            cut_short = len(interactions) >= lead_activity.SHOWN
        entries += [
            rules.Entry(rules.INTERACTION, row.occurred_at, row.id, row)
            for row in interactions
            if row.source != SOURCE
        ]
    kept = rules.merged(entries, shown)
    return kept[offset : offset + SHOWN], len(kept) > offset + SHOWN or cut_short


def record_timeline(
    record, shown: str = "all", offset: int = 0, lead_ids=()
) -> tuple[list[rules.Entry], bool]:
    """A page of a contact's or an account's one timeline as the filter
    ``shown`` keeps it, newest first: its own activities and those of its leads
    ``lead_ids`` (the ones the user may see; each such activity has its lead in
    ``activity.about``): the ``SHOWN`` after the newest ``offset``, and whether
    older ones are left."""
    wanted = rules.kept_kind(shown)
    if wanted is not None and wanted not in rules.KINDS:
        return [], False
    limit = offset + SHOWN + 1
    query = record_activities(record)
    if wanted is not None:
        query = query.where(Activity.kind == wanted)
    activities = [*query.limit(limit), *activities_of_leads(lead_ids, wanted, limit)]
    entries = [
        rules.Entry(activity.kind, activity.created_at, activity.id, activity) for activity in activities
    ]
    kept = rules.merged(entries, shown)
    return kept[offset : offset + SHOWN], len(kept) > offset + SHOWN
