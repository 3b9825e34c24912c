"""Matching strategies (M1–M5) and normalisation, pure: no database, no app."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core import matching
from leads.core.matching import (
    ACCOUNT_BY_DOMAIN,
    ACCOUNT_BY_NAME,
    CONTACT_BY_EMAIL,
    FILL_EMPTY,
    KEEP,
    LEAD_BY_EMAIL_AND_SOURCE,
    OVERWRITE,
    InMemoryIndex,
    MatchingStrategy,
    find_match,
    match_key,
    merge,
    normalise_phone,
)

CONTACT_BY_PHONE = MatchingStrategy("contact-phone", "Contact by phone", "contact", ("phone",))
CONTACT_BY_NAME = MatchingStrategy(
    "contact-name", "Contact by name and company", "contact", ("first_name", "last_name", "company")
)


def index_of(strategies, *records, default_region=None):
    """An InMemoryIndex holding ``(id, record)`` pairs."""
    index = InMemoryIndex(default_region)
    for record_id, record in records:
        index.add(strategies, record, record_id)
    return index


# --------------------------------------------------------------------------- normalisers


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("", None),
        ("   ", None),
        (None, None),
        ("ÉLO@X.FR", "élo@x.fr"),
    ],
)
def test_email_is_trimmed_and_case_folded_M1(raw, expected):
    assert matching.normalise_email(raw) == expected


def test_names_collapse_whitespace_and_fold_case():
    assert matching.normalise_text("  Jean   Pierre\tDUPONT ") == "jean pierre dupont"
    assert matching.normalise_text("Straße") == matching.normalise_text("STRASSE")
    assert matching.normalise_text("\n \t") is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("ACME.com.", "acme.com"),
        ("http://shop.acme.co.uk:8080?x=1", "shop.acme.co.uk"),
        ("sales@acme.io", "acme.io"),
        ("  ", None),
    ],
)
def test_domain_is_bare_and_case_folded(raw, expected):
    assert matching.normalise_domain(raw) == expected


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("06.12.34.56.78", "fr", "+33612345678"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("0033 6 12 34 56 78", "FR", "+33612345678"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+1 650-253-0000", "GB", "+16502530000"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 (0)20 7946 0018", None, "+442079460018"),
    ],
)
def test_phone_becomes_e164(raw, region, expected):
    """Phones compare in E.164, written with spaces, dots, +, 00 or a national 0."""
    assert normalise_phone(raw, region) == (expected, None)


@pytest.mark.parametrize(
    "raw, region, reason",
    [
        ("0612345678", None, "no valid country code"),
        ("not a phone", "FR", "not a phone number"),
        ("12", "FR", "not a valid phone number for FR"),
        ("+33 1 23", None, "not a valid phone number for FR"),
        ("+1 555 0100 99999999999", None, "too long"),
        ("", "FR", "blank"),
        ("9" * 100, "FR", "too long"),
    ],
)
def test_invalid_phone_gives_none_and_a_reason(raw, region, reason):
    value, why = normalise_phone(raw, region)
    assert value is None and reason in why


@settings(deadline=None)
@given(st.text())
def test_normalisers_are_idempotent(text):
    """Property: normalising a normalised value changes nothing."""
    for normalise in (
        matching.normalise_email,
        matching.normalise_text,
        matching.normalise_domain,
        matching.normalise_key,
        matching.normalise_country,
    ):
        once = normalise(text)
        assert once is None or normalise(once) == once


@settings(deadline=None)
@given(st.from_regex(r"\+?[0-9 ().-]{4,20}", fullmatch=True), st.sampled_from(["FR", "US", "GB", None]))
def test_phone_normalisation_is_idempotent(text, region):
    value, _reason = normalise_phone(text, region)
    if value is not None:
        assert normalise_phone(value, None) == (value, None)
        assert normalise_phone(value, "US").value == value


# --------------------------------------------------------------------------- keys (M1)


def test_match_key_is_the_normalised_fields_M1():
    record = {"email": " Ada@Example.com", "source": "spring-webinar "}
    assert match_key(LEAD_BY_EMAIL_AND_SOURCE, record) == ("ada@example.com", "spring-webinar")


@pytest.mark.parametrize("email", [None, "", "   "])
def test_a_blank_field_gives_no_key_so_it_never_matches_M1(email):
    """M1: two records without an email are not "equal on email"."""
    assert match_key(CONTACT_BY_EMAIL, {"email": email}) is None
    assert match_key(LEAD_BY_EMAIL_AND_SOURCE, {"email": "a@b.co", "source": email}) is None
    index = index_of([CONTACT_BY_EMAIL], (1, {"email": ""}), (2, {}))
    result = find_match([CONTACT_BY_EMAIL], {"email": email}, index)
    assert result.existing_id is None and "skipped" in result.reason


def test_an_invalid_phone_never_matches_M1():
    index = index_of([CONTACT_BY_PHONE], (1, {"phone": "12"}), default_region="FR")
    assert find_match([CONTACT_BY_PHONE], {"phone": "12"}, index, "FR").existing_id is None


def test_phone_key_uses_the_record_country_then_the_default_region():
    assert match_key(CONTACT_BY_PHONE, {"phone": "020 7946 0018", "country": "gb"}, "FR") == (
        "+442079460018",
    )
    assert match_key(CONTACT_BY_PHONE, {"phone": "01 23 45 67 89"}, "FR") == ("+33123456789",)
    assert match_key(CONTACT_BY_PHONE, {"phone": "01 23 45 67 89"}) is None


_CASEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèçàöüÉÈÇÀÖÜ0123456789-'"
words = st.lists(st.text(alphabet=_CASEY, min_size=1, max_size=8), min_size=1, max_size=3)


def respell(data, value: str) -> str:
    """The same value with case flipped here and there and whitespace padded."""
    flips = data.draw(st.lists(st.booleans(), min_size=len(value), max_size=len(value)))
    flipped = "".join(c.swapcase() if flip else c for c, flip in zip(value, flips, strict=True))
    gap = data.draw(st.sampled_from([" ", "  ", "\t", " \n "]))
    pad = data.draw(st.sampled_from(["", " ", "\t ", "\n"]))
    return pad + gap.join(flipped.split(" ")) + pad


@settings(deadline=None)
@given(st.data(), words, words, words, st.text(alphabet=_CASEY, min_size=1, max_size=10))
def test_records_differing_in_case_and_whitespace_share_a_key_M1(data, first, last, company, local):
    """Property (M1): case and whitespace never tell two records apart."""
    record = {
        "first_name": " ".join(first),
        "last_name": " ".join(last),
        "company": " ".join(company),
        "email": f"{local}@example.com",
    }
    other = {name: respell(data, value) for name, value in record.items()}
    for strategy in (CONTACT_BY_NAME, CONTACT_BY_EMAIL):
        key = match_key(strategy, record)
        assert key is not None and key == match_key(strategy, other)


def test_encode_key_is_deterministic():
    assert matching.encode_key(("ada@example.com", "form-1")) == '["ada@example.com","form-1"]'


# --------------------------------------------------------------------------- strategies (M2, M3)


def test_defaults_contacts_on_email_leads_on_email_and_source_form_M2():
    builtin = matching.BUILTIN_STRATEGIES
    assert matching.strategies_for(builtin, "contact") == (CONTACT_BY_EMAIL,)
    assert matching.strategies_for(builtin, "lead") == (LEAD_BY_EMAIL_AND_SOURCE,)
    assert CONTACT_BY_EMAIL.fields == ("email",)
    assert LEAD_BY_EMAIL_AND_SOURCE.fields == ("email", "source")
    assert matching.strategies_for(builtin, "account") == (ACCOUNT_BY_DOMAIN,)
    assert matching.defaults_errors(builtin) == []


def test_each_source_may_choose_its_own_strategies_in_order_M3():
    """M3 (C3–C5): a form, event or lead-gen source lists its own strategies, in order."""
    pool = [*matching.BUILTIN_STRATEGIES, CONTACT_BY_PHONE, CONTACT_BY_NAME]
    chosen = matching.strategies_for(pool, "contact", ["contact-phone", "contact-email"])
    assert chosen == (CONTACT_BY_PHONE, CONTACT_BY_EMAIL)
    with pytest.raises(ValueError, match="No contact matching strategy 'lead-email-source'"):
        matching.strategies_for(pool, "contact", ["lead-email-source"])
    with pytest.raises(ValueError):
        matching.strategies_for(pool, "contact", ["nope"])


def test_one_default_per_entity_type_M3():
    second = MatchingStrategy("c2", "Also default", "contact", ("phone",), True)
    assert matching.defaults_errors([CONTACT_BY_EMAIL, second]) == [
        "Contact strategies need exactly one default (found 2)."
    ]
    assert matching.defaults_errors([CONTACT_BY_PHONE]) == [
        "Contact strategies need exactly one default (found 0)."
    ]
    assert matching.defaults_errors([]) == []


@pytest.mark.parametrize(
    "strategy, error",
    [
        (MatchingStrategy(1, "x", "contact", ()), ("fields", "Choose at least one field.")),
        (MatchingStrategy(1, "x", "contact", ("source",)), ("fields", "Not a contact field: source.")),
        (MatchingStrategy(1, "x", "lead", ("email", "email")), ("fields", "A field appears twice.")),
        (MatchingStrategy(1, " ", "lead", ("email",)), ("name", "Give the strategy a name.")),
        (MatchingStrategy(1, "x", "deal", ("email",)), ("entity", "Choose contact, lead or account.")),
    ],
)
def test_a_strategy_is_an_entity_type_and_a_list_of_fields_M1(strategy, error):
    assert error in matching.strategy_errors(strategy)


def test_builtin_strategies_are_valid():
    assert all(matching.strategy_errors(s) == [] for s in matching.BUILTIN_STRATEGIES)


# --------------------------------------------------------------------------- find_match (M1, M3–M5)


def test_a_contact_matches_on_email_whatever_the_case_M1_M4():
    index = index_of([CONTACT_BY_EMAIL], (7, {"email": "ada@example.com"}))
    result = find_match([CONTACT_BY_EMAIL], {"email": "  ADA@example.COM "}, index)
    assert result.matched and result.existing_id == 7 and result.strategy_id == "contact-email"
    assert result.reason == "Matched contact #7 on email (Contact by email)."


def test_nothing_matches_so_a_new_record_is_created_M5():
    index = index_of([CONTACT_BY_EMAIL], (7, {"email": "ada@example.com"}))
    result = find_match([CONTACT_BY_EMAIL], {"email": "grace@example.com"}, index)
    assert not result.matched and result.strategy_id is None
    assert result.reason == "New record: Contact by email: no contact with this email."


def test_same_form_matches_the_lead_a_different_form_adds_one_M2_E2():
    """M2/E2: the same person on a second form gets a second lead; on the same form, no duplicate."""
    chain = [LEAD_BY_EMAIL_AND_SOURCE]
    index = index_of(chain, (3, {"email": "ada@example.com", "source": "webinar-form"}))
    again = find_match(chain, {"email": "Ada@Example.com", "source": "webinar-form"}, index)
    elsewhere = find_match(chain, {"email": "ada@example.com", "source": "trial-form"}, index)
    assert again.existing_id == 3
    assert elsewhere.existing_id is None


def test_the_first_strategy_that_finds_something_decides_M3():
    chain = [CONTACT_BY_EMAIL, CONTACT_BY_PHONE]
    index = index_of(
        chain,
        (1, {"email": "ada@example.com", "phone": "+33 1 23 45 67 89"}),
        (2, {"email": "other@example.com", "phone": "+33 6 12 34 56 78"}),
    )
    by_email = find_match(chain, {"email": "ada@example.com", "phone": "+33612345678"}, index)
    assert (by_email.existing_id, by_email.strategy_id) == (1, "contact-email")
    by_phone = find_match(chain, {"email": "", "phone": "06 12 34 56 78"}, index, "FR")
    assert (by_phone.existing_id, by_phone.strategy_id) == (2, "contact-phone")
    assert "Matched contact #2 on phone" in by_phone.reason


def test_account_falls_back_from_domain_to_name_in_the_import_chain():
    chain = matching.IMPORT_CHAINS["account"]
    assert chain == (ACCOUNT_BY_DOMAIN, ACCOUNT_BY_NAME)
    index = index_of(chain, (4, {"name": "Acme  Corp", "domain": "acme.com"}), (5, {"name": "Globex"}))
    assert find_match(chain, {"name": "ACME corp", "domain": "www.acme.com"}, index).existing_id == 4
    assert find_match(chain, {"name": " globex "}, index).existing_id == 5


def test_several_records_match_the_oldest_wins_and_the_reason_says_so_M4():
    """Ambiguity is decided, not an error: the lowest id (created first) is updated."""
    index = index_of([CONTACT_BY_EMAIL], *((i, {"email": "dup@example.com"}) for i in (42, 9, 17)))
    result = find_match([CONTACT_BY_EMAIL], {"email": "dup@example.com"}, index)
    assert result.existing_id == 9
    assert result.candidates == (9, 17, 42)
    assert "3 records match, the oldest wins (also #17, #42)" in result.reason


def test_an_index_may_return_ids_in_any_order_with_repeats():
    class ListIndex:
        def lookup(self, strategy, key):
            return [30, 12, 30]

    result = find_match([CONTACT_BY_EMAIL], {"email": "a@b.co"}, ListIndex())
    assert result.existing_id == 12 and result.candidates == (12, 30)


# --------------------------------------------------------------------------- merge (M4)

EXISTING = {"first_name": "Ada", "last_name": "", "phone": None, "company": "Analytical Engines"}
INCOMING = {"first_name": "Augusta", "last_name": "Lovelace", "phone": "+441234", "company": "  "}


def test_fill_empty_only_fills_blank_fields_M4():
    changes, reasons = merge(EXISTING, INCOMING, FILL_EMPTY)
    assert changes == {"last_name": "Lovelace", "phone": "+441234"}
    assert "first_name: kept existing value (policy fill_empty)" in reasons
    assert "last_name: filled (was blank)" in reasons


def test_overwrite_takes_every_non_blank_submitted_value_M4():
    changes, reasons = merge(EXISTING, INCOMING, OVERWRITE)
    assert changes == {"first_name": "Augusta", "last_name": "Lovelace", "phone": "+441234"}
    assert "first_name: overwritten (policy overwrite)" in reasons


def test_keep_changes_nothing_M4():
    changes, reasons = merge(EXISTING, INCOMING, KEEP)
    assert changes == {} and "last_name: kept (policy keep)" in reasons


def test_merge_of_the_same_values_changes_nothing():
    """A re-run (the same submission again) is a no-op."""
    record = {"first_name": "Ada", "email": "ada@example.com", "employee_count": 0}
    for policy in matching.UPDATE_POLICIES:
        assert merge(record, {**record, "email": " ada@example.com "}, policy) == ({}, [])


def test_merge_can_be_limited_to_allowed_fields_and_rejects_unknown_policies():
    assert merge({}, {"email": "a@b.co", "owner_id": 3}, OVERWRITE, fields=["email"])[0] == {
        "email": "a@b.co"
    }
    with pytest.raises(ValueError):
        merge({}, {}, "replace_all")


values = st.one_of(st.none(), st.sampled_from(["", " ", "\t"]), st.text(max_size=5), st.integers(-2, 2))
records = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values)


@settings(deadline=None)
@given(records, records, st.sampled_from(sorted(matching.UPDATE_POLICIES)))
def test_merge_never_blanks_a_field_M4(existing, incoming, policy):
    """Property: whatever the policy, no change is blank and no filled field empties."""
    changes, _reasons = merge(existing, incoming, policy)
    assert not any(matching.is_blank(v) for v in changes.values())
    after = {**existing, **changes}
    assert all(not matching.is_blank(after[k]) for k, v in existing.items() if not matching.is_blank(v))
    if policy == KEEP:
        assert changes == {}


def test_fields_stored_as_a_list_come_back_as_a_tuple():
    strategy = MatchingStrategy(9, "From JSON", "lead", ["email", "source"])
    assert strategy.fields == ("email", "source") and hash(strategy)
