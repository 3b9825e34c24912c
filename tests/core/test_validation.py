"""The checks every door shares (leads.core.validation; SPEC C1–C5, M1): email
addresses, country codes and NUL characters, pure and alone."""

from __future__ import annotations

import re

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.core import matching
from leads.core.validation import (
    COUNTRIES,
    COUNTRY_REASON,
    EMAIL_REASON,
    NUL_REASON,
    check_country,
    check_email,
    check_text,
    find_nul,
)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace+news@Example.COM ", "Ada.Lovelace+news@example.com"),
        ("ada@example.test", "ada@example.test"),  # reserved for tests and demos: kept
        ("José@Bücher.CH", "José@bücher.ch"),
        ("jose@xn--bcher-kva.ch", "jose@bücher.ch"),  # punycode read as the same domain
        ("用户@例子.广告", "用户@例子.广告"),
        ("o'neil@sub.example.co.uk", "o'neil@sub.example.co.uk"),
    ],
)
def test_good_addresses_are_stored_normalised_M1(typed, stored):
    assert check_email(typed) == (stored, None)


@pytest.mark.parametrize(
    "typed",
    [
        "a@b.c",  # no top-level domain is one letter
        "a@b",
        "ada@localhost",
        "ada@printer.local",
        "ada@example.invalid",
        "ada@",
        "@example.com",
        "ada example.com",
        "ada @example.com",
        "ada@exa mple.com",
        "ada@@example.com",
        "ada@example.com.",
        "ada@example..com",
        "<ada@example.com>",
        "Ada <ada@example.com>",
        "ada@[127.0.0.1]",
        "ada@" + "b" * 250 + ".com",
    ],
)
def test_bad_addresses_get_one_plain_reason(typed):
    assert check_email(typed) == (None, EMAIL_REASON)


def test_a_nul_is_refused_before_anything_else():
    assert check_email("ada\x00@example.com") == (None, NUL_REASON)
    assert check_country("F\x00") == (None, NUL_REASON)
    assert check_text("Ad\x00a") == (None, NUL_REASON)
    assert check_text("Ada") == ("Ada", None)


@given(st.emails())
def test_every_address_matches_as_typed_once_stored_M1(address):
    """Property: the stored form is a fixed point of the check, and matching
    (trimmed, case-folded, M1) reads it as the address typed, case aside."""
    stored, reason = check_email(address)
    if reason:
        return
    assert check_email(stored) == (stored, None)
    if "xn--" not in address.casefold():
        assert matching.normalise_email(stored) == matching.normalise_email(address)


@given(st.text(max_size=30))
def test_the_check_never_raises_and_never_keeps_a_nul(text):
    stored, reason = check_email(text)
    assert (stored is None) != (reason is None)
    assert stored is None or "\x00" not in stored


def test_one_country_list_iso_3166_alpha_2_by_name():
    """Every ISO 3166-1 alpha-2 code (pycountry's list), plus XK; ordered by name."""
    assert set(COUNTRIES) == {c.alpha_2 for c in pycountry.countries} | {"XK"}
    assert all(len(code) == 2 and code.isupper() for code in COUNTRIES)
    assert COUNTRIES["FR"] == "France" and COUNTRIES["TW"] == "Taiwan"
    names = list(COUNTRIES.values())
    assert names.index("Åland Islands") < names.index("Albania")


@pytest.mark.parametrize(
    "typed, stored",
    [("FR", "FR"), ("fr", "FR"), (" de ", "DE"), ("uk", "GB"), ("XK", "XK")],
)
def test_country_codes_are_upper_cased(typed, stored):
    assert check_country(typed) == (stored, None)


@pytest.mark.parametrize("typed", ["ZZ", "France", "FRA", "F", "1X", "EU", "  "])
def test_unknown_countries_get_one_plain_reason(typed):
    assert check_country(typed) == (None, COUNTRY_REASON)


def test_find_nul_names_the_path_of_the_first_nul():
    assert find_nul({"first_name": "Ada", "email": "a@b.co"}) is None
    assert find_nul({"first_name": "Ad\x00a"}) == "first_name"
    assert find_nul({"qualification": {"notes": ["ok", "b\x00d"]}}) == "qualification.notes.1"
    assert find_nul([{"email": "x"}, {"email": "\x00"}]) == "1.email"
    assert find_nul({"ke\x00y": 1}) == "ke\\0y"
    assert find_nul({"n": 1, "b": True, "x": None}) is None
    assert find_nul("\x00") == ""


def test_reasons_are_plain_words_without_rule_ids():
    for reason in (EMAIL_REASON, COUNTRY_REASON, NUL_REASON):
        assert not re.search(r"\b[A-Z]\d\b", reason), reason
        assert reason[0].isupper() and reason.endswith(".")
