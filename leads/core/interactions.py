"""The one vocabulary of interaction types (SPEC E3, S2, W1): what the scoring
builder offers, what the API, capture and the demo data post, what the lead
page's calls and notes are stored as.

A type is a short snake_case name (``web_visit``) with a label people read
("Website visited"). The built-in types are below; an admin registers the
others (custom types, stored in the database) and ``Vocabulary`` puts both
together. An interaction of a type that is neither is refused with the list
of the known ones, so a rule built from the list counts what is posted.
Pure: no framework.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from leads.core import activities, validation

EMAIL_OPENED = "email_opened"
EMAIL_CLICKED = "email_clicked"
FORM_SUBMITTED = "form_submitted"
WEB_VISIT = "web_visit"
EVENT_REGISTERED = "event_registered"
EVENT_ATTENDED = "event_attended"
EMAIL_SENT = "email_sent"
EMAIL_REPLIED = "email_replied"
CALL_LOGGED = activities.INTERACTION_TYPES[activities.CALL]
NOTE_ADDED = activities.INTERACTION_TYPES[activities.NOTE]

BUILT_IN: dict[str, str] = {
    EMAIL_OPENED: "Email opened",
    EMAIL_CLICKED: "Email clicked",
    FORM_SUBMITTED: "Landing page (form) submitted",
    WEB_VISIT: "Website visited",
    EVENT_REGISTERED: "Event registered",
    EVENT_ATTENDED: "Event attended",
    EMAIL_SENT: "Email sent (by a campaign)",
    EMAIL_REPLIED: "Email replied (to a campaign)",
    CALL_LOGGED: "Call logged (on the lead page)",
    NOTE_ADDED: "Note added (on the lead page)",
}
# Interactions a user logs on the lead page (W1), not something the person did.
LOGGED = frozenset({CALL_LOGGED, NOTE_ADDED})
# Old names of built-in types; migration 013 renamed what was stored under them.
RENAMED = {"website_visited": WEB_VISIT}

MAX_NAME = 50
MAX_LABEL = 80
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def normalise(name: str) -> str:
    """How a type is compared and stored: trimmed and case-folded."""
    return name.strip().casefold()


@dataclass(frozen=True)
class Vocabulary:
    """The built-in types and the custom ones an admin registered (name → label)."""

    custom: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def _labels(self) -> dict[str, str]:
        extra = sorted(
            ((name, label) for name, label in self.custom.items() if name not in BUILT_IN),
            key=lambda item: item[1].casefold(),
        )
        return {**BUILT_IN, **dict(extra)}

    def labels(self) -> dict[str, str]:
        """Every known type, name → label: the built-in ones first, then the custom ones by label."""
        return dict(self._labels)

    def names(self) -> list[str]:
        """The known types' names, in the order ``labels`` gives them."""
        return list(self._labels)

    def known(self, name: str) -> bool:
        """Whether ``name`` (in any case) is a built-in or registered type."""
        return normalise(name) in self._labels

    def label(self, name: str) -> str:
        """The label people read for ``name``; an unknown one reads as its words."""
        return self._labels.get(normalise(name)) or name.replace("_", " ")

    def unknown_reason(self, name: str) -> str:
        """Why ``name`` is refused, with every known type."""
        return (
            f"Unknown interaction type {name!r}: use one of {', '.join(self.names())}, "
            "or ask an admin to register it as a custom type."
        )


BUILT_IN_VOCABULARY = Vocabulary()


def check_custom(name: str, label: str, taken: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """A new custom type's normalised name, and the ``(field, reason)`` errors
    that refuse it (``taken``: the custom types already registered)."""
    errors = []
    clean = normalise(name or "")
    if validation.has_nul(clean):
        errors.append(("name", validation.NUL_REASON))
    elif not clean:
        errors.append(("name", "Enter a name, e.g. demo_requested."))
    elif len(clean) > MAX_NAME:
        errors.append(("name", f"At most {MAX_NAME} characters."))
    elif not _NAME.fullmatch(clean):
        errors.append(("name", "Use lower-case letters, digits and _ only, starting with a letter."))
    elif clean in BUILT_IN or clean in RENAMED:
        errors.append(("name", "This is a built-in type already."))
    elif clean in taken:
        errors.append(("name", "This type is registered already."))
    label = (label or "").strip()
    if not label:
        errors.append(("label", "Enter the label people read, e.g. Demo requested."))
    elif validation.has_nul(label):
        errors.append(("label", validation.NUL_REASON))
    elif len(label) > MAX_LABEL:
        errors.append(("label", f"At most {MAX_LABEL} characters."))
    return clean, errors
