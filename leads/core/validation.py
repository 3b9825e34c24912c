"""The value checks every door shares: the web forms, the JSON API, the CSV
import and the public capture all call these, so one address or country code
is accepted or refused the same way wherever it comes in, with the same reason.

- ``check_email``: the syntax check of the maintained ``email-validator``
  library, without DNS (no deliverability check), internationalised addresses
  accepted (``josé@bücher.ch``, also written ``xn--bcher-kva.ch``). The value
  to store is the library's normalised form: the domain lower-cased and in
  Unicode, the local part as typed (Unicode NFC). Matching folds it further
  (``leads.core.matching.normalise_email``: trimmed and case-folded, M1).
- ``check_country``: an ISO 3166-1 alpha-2 code from ``COUNTRIES`` (pycountry's
  list, plus XK for Kosovo), upper-cased; ``uk`` reads as ``GB``.
- ``check_text`` / ``find_nul``: a NUL character (``\\x00``) is refused in any
  text: PostgreSQL cannot store one, and no person types one.

Each returns ``Checked(value, reason)``: the value to store, or ``None`` and a
reason in plain words. No framework: the edges call these and show the reason.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import NamedTuple

import email_validator
import pycountry

from leads.core import matching

EMAIL_REASON = "Enter a valid email address, like name@example.com."
COUNTRY_REASON = "Choose a country from the list: its two-letter code, e.g. FR."
NUL_REASON = "Remove the null character from this text: it cannot be stored."
NUL = "\x00"

# Kosovo has no ISO code yet; XK is the one phone metadata, the EU and most
# registries use, and imports accepted it before this list existed.
_EXTRA_COUNTRIES = {"XK": "Kosovo"}


def _country_names() -> dict[str, str]:
    names = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}
    names.update(_EXTRA_COUNTRIES)
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


def _sort_key(name: str) -> str:
    """``Åland Islands`` sorts with the A's."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Code → name, ordered by name: the one country list (forms' selects read it too).
COUNTRIES: dict[str, str] = _country_names()


class Checked(NamedTuple):
    """A value ready to store, or ``None`` with the reason it was refused."""

    value: str | None
    reason: str | None = None


def has_nul(value: object) -> bool:
    """True when ``value`` is text holding a NUL character."""
    return isinstance(value, str) and NUL in value


def check_text(value: str) -> Checked:
    """Any text field: refused when it holds a NUL character, else as given."""
    if has_nul(value):
        return Checked(None, NUL_REASON)
    return Checked(value)


def check_email(value: str) -> Checked:
    """An email address (trimmed) in its normalised form, or the reason it is not one.

    The domain needs a dot and a top-level part of two characters or more
    (``a@b.c`` is refused: no top-level domain is one letter). Addresses on
    ``.test`` are accepted: that name is reserved for tests and demos (RFC 2606),
    which use it; the other special-use names (``localhost``, ``.local``,
    ``.invalid``…) are refused."""
    if has_nul(value):
        return Checked(None, NUL_REASON)
    try:
        checked = email_validator.validate_email(
            value.strip(), check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError:
        return Checked(None, EMAIL_REASON)
    labels = checked.ascii_domain.split(".")
    if len(labels) < 2 or len(labels[-1]) < 2:
        return Checked(None, EMAIL_REASON)
    return Checked(checked.normalized)


def check_country(value: str) -> Checked:
    """An ISO 3166-1 alpha-2 code, upper-cased (``uk`` reads as ``GB``), or the reason."""
    if has_nul(value):
        return Checked(None, NUL_REASON)
    code = matching.normalise_country(value)
    if code not in COUNTRIES:
        return Checked(None, COUNTRY_REASON)
    return Checked(code)


def find_nul(data: object, path: str = "") -> str | None:
    """The dotted path (``first_name``, ``qualification.notes``, ``0.email``) of the
    first text in a JSON value (keys too) that holds a NUL; ``None`` when none does.
    A NUL in the body as a whole (a top-level string) is path ``""``."""
    if has_nul(data):
        return path
    if isinstance(data, Mapping):
        items = data.items()
    elif isinstance(data, list):
        items = ((str(i), item) for i, item in enumerate(data))
    else:
        return None
    for key, item in items:
        name = str(key).replace(NUL, "\\0")
        where = f"{path}.{name}" if path else name
        if has_nul(key):
            return where
        found = find_nul(item, where)
        if found is not None:
            return found
    return None
