"""The field catalogue: every field of a lead, a contact and an account, said once.

Each record kind lists its fields in the order the pages, the import's mapping
selects and the condition builder show them. A ``Field`` says what the value
is (the condition language's kind, a label, a length or a largest number, a
format), who may write it by hand, and which doors use it: the CSV import
(C2: its header spellings), public capture forms (C3–C5), matching strategies
(M1), the JSON API, and the condition language of segments, scoring rules,
criteria and assignment rules (S1, S2, Q6, R4).

``leads.core.conditions`` (``FIELDS``), ``leads.core.csv_io`` (the mapping,
labels, lengths and checks), ``leads.core.matching`` (``MATCH_FIELDS``, the
normalisers), ``leads.intake.match_or_create`` (what intake writes),
``leads.intake.capture`` (capture fields), ``leads.imports.writers`` (the
columns an import writes), ``leads.api`` (``resources``: writable fields per
role; ``openapi``: the request and response schemas; ``serialise``),
``leads.records.forms`` (labels, lengths, stored values) and the code that
makes a lead from a contact (``shared``) read this table instead of keeping
their own lists. Adding a field is its model column, its entry here and a
migration; ``tests/core/test_fields.py`` keeps the three in step. (A field
shown on a page is also a line in its form class and template: they place
each input and fact by hand.)

Plain data: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from leads.core import lifecycle
from leads.core.lifecycle import ADMIN, INTEGRATION, MANAGER, MARKETER, REP

LEAD, CONTACT, ACCOUNT = "lead", "contact", "account"
RECORDS = (LEAD, CONTACT, ACCOUNT)

# The condition language's kinds of value (``leads.core.conditions`` uses them).
TEXT, NUMBER, DATE, BOOL = "text", "number", "date", "bool"
KINDS = (TEXT, NUMBER, DATE, BOOL)

# Formats: how a value is checked and compared beyond its kind.
EMAIL = "email"  # an email address (compared trimmed and case-folded, M1)
PHONE = "phone"  # a phone number (E.164 once read with the country)
COUNTRY = "country"  # an ISO 3166-1 alpha-2 code, upper-case
DOMAIN = "domain"  # a web domain, bare (no scheme, www. or path)
KEY = "key"  # an identifier, compared as typed (a lead's source, M2)
REF = "ref"  # the id of another record (``<attr>_id``)
OWNER = "owner"  # the id of the owning user, who must be an active sales rep
FORMATS = (EMAIL, PHONE, COUNTRY, DOMAIN, KEY, REF, OWNER)

# Who edits records: marketers, managers and admins on the pages, and
# integrations through the API.
EDITORS = frozenset({ADMIN, MARKETER, MANAGER, INTEGRATION})
# A sales rep may also change the person fields of their own leads (W2).
PERSON_WRITERS = EDITORS | {REP}


@dataclass(frozen=True)
class Field:
    """One field of a record kind: what it holds, who writes it, which doors use it.

    ``name`` is the key everywhere (records as dicts, facts, CSV mappings, JSON):
    ``<attr>_id`` for a reference. ``writers`` are the roles that may set it by
    hand (pages, API); none: only the lead's process changes it. ``csv`` are the
    header spellings the import recognises, folded (no case, accents, spaces or
    punctuation); none: the import cannot fill it. ``via`` marks a field that is
    no column of the record and says what its value becomes instead."""

    name: str
    type: str  # TEXT, NUMBER, DATE or BOOL
    label: str
    max_length: int | None = None  # text: the column's length
    maximum: int | None = None  # whole numbers: the largest the column holds
    format: str | None = None  # one of FORMATS
    required: bool = False  # a new record needs it (pages, API)
    writers: frozenset[str] = frozenset()
    csv: tuple[str, ...] = ()
    capture: bool = False  # a public capture form may set it (C3–C5)
    match: bool = False  # a matching strategy may compare it (M1)
    api: bool = False  # the JSON API shows it
    condition: bool = False  # segments, rules and criteria may test it
    via: str | None = None  # e.g. "account.name": a contact's company names its account
    help: str = ""  # one sentence on what it holds (the API document shows it)
    csv_label: str | None = None  # the import's wording, when it is not the label
    input_max: int | None = None  # the longest raw text a capture reads before normalising
    choices: tuple = ()  # the only values it takes

    @property
    def stored(self) -> bool:
        """True when the field is a column of its record."""
        return self.via is None

    @property
    def is_ref(self) -> bool:
        """True for the id of another record (a foreign key)."""
        return self.format in (REF, OWNER)

    @property
    def attr(self) -> str:
        """The model attribute: ``account`` for ``account_id``, else the name."""
        return self.name.removesuffix("_id") if self.is_ref else self.name

    @property
    def import_label(self) -> str:
        """How the import's mapping and error report name it."""
        return self.csv_label or self.label

    @property
    def capture_max(self) -> int | None:
        """The longest value a capture form may send for it."""
        return self.input_max or self.max_length


def _spellings(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_COUNTRY_HEADERS = _spellings("country countrycode pays land pais")
_COMPANY_HEADERS = _spellings(
    "company companyname organisation organization org societe entreprise firma "
    "unternehmen empresa account accountname employer raisonsociale"
)
_PERSON = dict(writers=EDITORS, capture=True, match=True, api=True, condition=True)

FIRST_NAME = Field(
    "first_name",
    TEXT,
    "First name",
    max_length=100,
    csv=_spellings("firstname first givenname forename prenom vorname nombre"),
    **_PERSON,
)
LAST_NAME = Field(
    "last_name",
    TEXT,
    "Last name",
    max_length=100,
    csv=_spellings("lastname last surname familyname nom nomdefamille nachname apellido apellidos"),
    **_PERSON,
)
FULL_NAME = Field(
    "full_name",
    TEXT,
    "Full name",
    csv=_spellings("fullname name contactname nomcomplet contact person"),
    via="first_name last_name",  # split by the import
    csv_label="Full name (split)",
)
EMAIL_ADDRESS = Field(
    "email",
    TEXT,
    "Email",
    max_length=254,
    format=EMAIL,
    csv=_spellings(
        "email emailaddress mail email1 emailadresse courriel adressecourriel adresseemail "
        "adressemail mel correo correoelectronico workemail businessemail"
    ),
    **_PERSON,
)
PHONE_NUMBER = Field(
    "phone",
    TEXT,
    "Phone",
    max_length=40,
    format=PHONE,
    csv=_spellings(
        "phone phonenumber phone1 tel telephone telefon telefono telephonenumber mobile "
        "mobilephone mobilenumber cell cellphone portable gsm businessphone workphone numerodetelephone"
    ),
    **_PERSON,
)
JOB_TITLE = Field(
    "job_title",
    TEXT,
    "Job title",
    max_length=150,
    csv=_spellings("jobtitle title position role fonction poste jobrole"),
    **_PERSON,
)
COMPANY = Field("company", TEXT, "Company", max_length=200, csv=_COMPANY_HEADERS, **_PERSON)
PERSON_COUNTRY = Field(
    "country",
    TEXT,
    "Country",
    max_length=2,
    format=COUNTRY,
    csv=_COUNTRY_HEADERS,
    csv_label="Country (ISO-2)",
    input_max=60,  # a capture checks for the two-letter code afterwards
    **_PERSON,
)


def _ref(name: str, label: str, fmt: str = REF, **flags) -> Field:
    return Field(name, NUMBER, label, format=fmt, **flags)


def _created() -> tuple[Field, Field]:
    return (
        Field("created_at", DATE, "Created", api=True, condition=True),
        Field("updated_at", DATE, "Updated", api=True),
    )


_LEAD_PERSON = dict(writers=PERSON_WRITERS)
LEAD_FIELDS = (
    Field(
        "topic",
        TEXT,
        "Topic",
        max_length=200,
        required=True,
        writers=EDITORS,
        csv=_spellings("topic subject interest sujet"),
        match=True,
        api=True,
        condition=True,
        help="What the person is interested in.",
    ),
    replace(FIRST_NAME, **_LEAD_PERSON),
    replace(LAST_NAME, **_LEAD_PERSON),
    FULL_NAME,
    replace(EMAIL_ADDRESS, **_LEAD_PERSON),
    replace(PHONE_NUMBER, **_LEAD_PERSON),
    replace(COMPANY, **_LEAD_PERSON),
    replace(JOB_TITLE, match=False, **_LEAD_PERSON),
    replace(PERSON_COUNTRY, **_LEAD_PERSON),
    Field(
        "source",
        TEXT,
        "Source",
        max_length=50,
        format=KEY,
        writers=EDITORS,
        match=True,
        api=True,
        condition=True,
        help="Where the lead came from (default: api).",
    ),
    _ref("contact_id", "Contact", writers=EDITORS, api=True, help="Parent contact (optional, E1)."),
    _ref(
        "account_id",
        "Account",
        writers=EDITORS,
        api=True,
        help="Parent account (optional, E1); defaults to the contact's account.",
    ),
    Field(
        "status",
        TEXT,
        "Status",
        max_length=20,
        api=True,
        condition=True,
        choices=tuple(sorted(lifecycle.STATUSES)),
    ),
    Field(
        "status_reason",
        TEXT,
        "Status reason",
        max_length=30,
        api=True,
        condition=True,
        choices=tuple(sorted(lifecycle.STATUS_REASONS)),
    ),
    Field("stage", NUMBER, "Stage", api=True, condition=True, choices=tuple(sorted(lifecycle.STAGES))),
    Field("sales_ready", BOOL, "Sales-ready", api=True, condition=True),
    Field("ready_for_tp", BOOL, "Ready for teleprospecting", api=True),
    Field("tp_accepted", BOOL, "Teleprospecting accepted", api=True),
    Field("sales_accepted", BOOL, "Sales accepted", api=True),
    _ref("campaign_id", "Campaign", writers=EDITORS, match=True, api=True, condition=True),
    _ref("product_line_id", "Product line", writers=EDITORS, match=True, api=True, condition=True),
    _ref("team_id", "Team", writers=EDITORS, api=True, condition=True),
    _ref("owner_id", "Owner", api=True, condition=True),  # set by assignment (P6, R)
    _ref("teleprospector_id", "Teleprospector", api=True),
    Field("assigned_at", DATE, "Assigned", api=True),
    *_created(),
)

_OWNER = _ref(
    "owner_id",
    "Owner (sales rep)",
    OWNER,
    writers=EDITORS,
    api=True,
    condition=True,
    help="Owner: an active sales rep.",
)
CONTACT_FIELDS = (
    FIRST_NAME,
    LAST_NAME,
    FULL_NAME,
    EMAIL_ADDRESS,
    PHONE_NUMBER,
    JOB_TITLE,
    # A contact's company names its account (the import finds or creates it).
    Field("company", TEXT, "Company", max_length=200, csv=_COMPANY_HEADERS, match=True, via="account.name"),
    PERSON_COUNTRY,
    _ref("account_id", "Account", writers=EDITORS, api=True, condition=True),
    _OWNER,
    *_created(),
)

_ACCOUNT = dict(writers=EDITORS, api=True, condition=True)
ACCOUNT_FIELDS = (
    Field(
        "name",
        TEXT,
        "Name",
        max_length=200,
        required=True,
        csv=_spellings(
            "name company companyname accountname organisation organization org societe "
            "entreprise raisonsociale firma unternehmen empresa"
        ),
        match=True,
        help="Company name.",
        **_ACCOUNT,
    ),
    Field(
        "domain",
        TEXT,
        "Web domain",
        max_length=200,
        format=DOMAIN,
        csv=_spellings("domain website web url site siteweb homepage domaine webdomain"),
        match=True,
        help="Web domain, e.g. example.com.",
        **_ACCOUNT,
    ),
    Field(
        "industry",
        TEXT,
        "Industry",
        max_length=100,
        csv=_spellings("industry sector secteur branche industrie"),
        **_ACCOUNT,
    ),
    Field(
        "employee_count",
        NUMBER,
        "Employees",
        maximum=2**31 - 1,
        csv=_spellings(
            "employees employeecount numberofemployees headcount staff effectif "
            "nbemployes nombredemployes mitarbeiter"
        ),
        **_ACCOUNT,
    ),
    Field(
        "annual_revenue",
        NUMBER,
        "Annual revenue",
        maximum=2**63 - 1,
        csv=_spellings("revenue annualrevenue turnover chiffredaffaires ca umsatz"),
        help="Annual revenue in the account's currency units.",
        **_ACCOUNT,
    ),
    replace(PERSON_COUNTRY, capture=False),
    _OWNER,
    *_created(),
)

# The catalogue itself. Consumers read it when they are imported; a test (or
# a plugin) that extends it does so before importing them.
CATALOGUE: dict[str, tuple[Field, ...]] = {
    LEAD: LEAD_FIELDS,
    CONTACT: CONTACT_FIELDS,
    ACCOUNT: ACCOUNT_FIELDS,
}


# --------------------------------------------------------------------------- reading it


def of(record: str) -> tuple[Field, ...]:
    """The fields of ``record`` (lead, contact or account), in display order."""
    return CATALOGUE[record]


def get(record: str, name: str) -> Field | None:
    """The field ``name`` of ``record``, or None."""
    return next((f for f in of(record) if f.name == name), None)


def where(record: str, test: Callable[[Field], bool]) -> tuple[Field, ...]:
    """The fields of ``record`` that pass ``test``, in order."""
    return tuple(f for f in of(record) if test(f))


def names(specs: Iterable[Field]) -> tuple[str, ...]:
    """The names of ``specs``, in order."""
    return tuple(f.name for f in specs)


def writable(record: str) -> tuple[Field, ...]:
    """The columns of ``record`` that someone may write by hand (pages, API, intake)."""
    return where(record, lambda f: f.stored and bool(f.writers))


def writable_by(record: str, role: str) -> frozenset[str]:
    """Names of the fields of ``record`` that ``role`` may write."""
    return frozenset(f.name for f in writable(record) if role in f.writers)


def importable(record: str) -> tuple[Field, ...]:
    """The fields a CSV import of ``record`` can fill (C2)."""
    return where(record, lambda f: bool(f.csv))


def matchable(record: str) -> tuple[Field, ...]:
    """The fields a matching strategy over ``record`` may compare (M1)."""
    return where(record, lambda f: f.match)


def exposed(record: str) -> tuple[Field, ...]:
    """The columns of ``record`` the JSON API shows."""
    return where(record, lambda f: f.api and f.stored)


def testable(record: str) -> tuple[Field, ...]:
    """The fields of ``record`` the condition language may test."""
    return where(record, lambda f: f.condition and f.stored)


def shared(source: str, target: str) -> tuple[str, ...]:
    """Names of the writable values of ``target`` that ``source`` holds too (not
    references): what a lead made from a contact takes from it (C6, E2)."""
    own = {f.name for f in writable(source) if not f.is_ref}
    return names(f for f in writable(target) if f.name in own and not f.is_ref)


def capturable() -> dict[str, Field]:
    """The fields a public capture form may set, by name (a contact's and a lead's
    share their names: a submission's ``email`` is both)."""
    return {f.name: f for record in RECORDS for f in where(record, lambda f: f.capture)}
