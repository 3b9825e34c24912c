"""What the lead and contact pages show of a lead's activity: its interactions
(the ones that count for its score, S3), its scores and their history (S6),
and a fingerprint of both so the open page re-renders only when they change.

The interactions of a lead follow the rule of ``leads.scoring.facts``: the lead's own,
its contact's, and for an account-based lead (an account and no contact) those
of every contact of its account.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from leads.records.models import Contact, Interaction, Lead
from leads.scoring import scorer

SHOWN = 50  # interactions per page, newest first
SHOWN_CHANGES = 20  # score changes in the lead's score history
MAX_PROPERTIES = 8
MAX_VALUE = 120
# Properties people look for first (issue 3: page, event, campaign…), then the rest by name.
FIRST_KEYS = ("page_id", "event_id", "campaign_id", "url", "subject", "form_id")


@dataclass(frozen=True)
class InteractionRow:
    """One interaction as a timeline shows it (property values as short text)."""

    id: int
    type: str
    occurred_at: dt.datetime
    source: str
    external_id: str
    lead_id: int | None
    contact_id: int | None
    properties: list[tuple[str, str]]
    more_properties: int


def lead_interactions(lead: Lead):
    """The interactions that count for ``lead`` (S3), newest first (a query)."""
    counts = Interaction.lead == lead.id
    if lead.contact_id is not None:
        counts |= Interaction.contact == lead.contact_id
    elif lead.account_id is not None:
        members = Contact.select(Contact.id).where(Contact.account == lead.account_id)
        counts |= Interaction.contact.in_(members)
    return _newest_first(Interaction.select().where(counts))


def contact_interactions(contact_id: int):
    """The contact's own interactions, newest first (a query)."""
    return _newest_first(Interaction.select().where(Interaction.contact == contact_id))


def _newest_first(query):
    return query.order_by(Interaction.occurred_at.desc(), Interaction.id.desc())


_ROW_COLUMNS = (
    Interaction.id,
    Interaction.type,
    Interaction.occurred_at,
    Interaction.source,
    Interaction.external_id,
    Interaction.lead,
    Interaction.contact,
    Interaction.properties,
)


def shown(query, limit: int = SHOWN) -> list[InteractionRow]:
    """The first ``limit`` interactions of ``query`` (over interactions), ready
    to show (read as plain rows: no model object per interaction)."""
    return [_row(*values) for values in query.select(*_ROW_COLUMNS).limit(limit).tuples()]


def _row(id, type, occurred_at, source, external_id, lead_id, contact_id, properties) -> InteractionRow:  # noqa: A002
    properties, more = key_properties(properties)
    return InteractionRow(
        id=id,
        type=type,
        occurred_at=occurred_at,
        source=source,
        external_id=external_id,
        lead_id=lead_id,
        contact_id=contact_id,
        properties=properties,
        more_properties=more,
    )


def key_properties(properties, limit: int = MAX_PROPERTIES) -> tuple[list[tuple[str, str]], int]:
    """The first ``limit`` properties as ``(name, short text)`` pairs, the usual
    keys first, and how many more were left out. Values are plain text: the
    template escapes them."""
    if not isinstance(properties, Mapping):
        return [], 0
    names = sorted(properties, key=lambda name: (name not in FIRST_KEYS, _rank(name), str(name)))
    pairs = [(str(name)[:MAX_VALUE], _text(properties[name])) for name in names[:limit]]
    return pairs, max(0, len(names) - limit)


def _rank(name) -> int:
    return FIRST_KEYS.index(name) if name in FIRST_KEYS else 0


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


@dataclass(frozen=True)
class LeadActivity:
    """The lead page's live part: scores with their why, score history and
    interactions, with the fingerprints the poller compares."""

    scores: list[dict]
    changes: list
    interactions: list[InteractionRow]
    state_version: str
    scores_version: str

    @property
    def limit(self) -> int:
        """How many interactions are shown at most."""
        return SHOWN

    @property
    def version(self) -> str:
        """Both fingerprints, as the poller sends them back (``?v=``)."""
        return f"{self.state_version}.{self.scores_version}"


def lead_activity(lead: Lead) -> LeadActivity:
    """Scores, score history and interactions of ``lead`` (three queries)."""
    scores = scorer.scores_for(lead.id)
    changes = scorer.score_history(lead.id, limit=SHOWN_CHANGES)
    interactions = shown(lead_interactions(lead))
    seen = {
        "scores": [
            (s["model_id"], s["live"], s["score"], s["grade"], s["sales_ready"], s["breakdown"])
            for s in scores
        ],
        "changes": [change.id for change in changes[:1]],
        "interactions": [row.id for row in interactions],
    }
    return LeadActivity(scores, changes, interactions, state_version(lead), _digest(seen))


def state_version(lead: Lead) -> str:
    """A fingerprint of what the summary, the stage bar and the history show:
    it changes whenever an action or a rule changes the lead."""
    return _digest([dataclasses.asdict(lead.state), lead.updated_at])


def split_version(raw: str | None) -> tuple[str, str]:
    """The ``(state, scores)`` fingerprints the poller sent (empty when missing)."""
    state, _, scores = (raw or "").partition(".")
    return state[:32], scores[:32]


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
