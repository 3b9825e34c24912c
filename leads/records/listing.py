"""The lead list: validate list parameters, then load one page of leads.

Shared by the web list (``leads.records.list_views.lead_list``) and the JSON API, so both
search, filter, sort and paginate the same way. Record-level access comes from
``leads.records.queries.visible_leads``: a rep's page, count and search only ever see
their own leads (G1).

Search is a case-insensitive *prefix* match per word, as CRM quick-finds do:
``mar`` finds Martin, marie@…, Marlow Inc (not Omar). Every word must match
the first name, last name, email or company. Unlike a substring match, a
prefix can be answered from an index (``migrations/003_lead_search_indexes.py``); the
figures are in ``bench/README.md``. SQLite folds ASCII case only (``élodie``
does not find ``Élodie`` there); PostgreSQL folds every letter.

Scores (R7, S6): each row carries its score in one model, the chosen
``score_model`` or else the first live one; ``min_score`` keeps the leads whose
score in it is at least that ("score above X"), and ``sort=-score`` puts the
best first (unscored leads last). The filter joins ``lead_score`` on
``(model, score)``, which its index answers.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import reduce

import peewee as pw

from auth.models import REP, Team, User
from leads.base.db import is_sqlite
from leads.core import lifecycle, validation
from leads.core.scoring import LIVE
from leads.lists import columns as list_columns
from leads.records.models import Campaign, Lead, ProductLine
from leads.records.queries import assignable_reps, visible_leads, with_related
from leads.scoring.models import LeadScore, ScoringModel

MAX_QUERY_LENGTH = 100
MAX_QUERY_WORDS = 5
MAX_PAGE = 1_000_000
MAX_ID = 2**31 - 1
MAX_SCORE = 1_000_000
UNASSIGNED = "none"

# Stage filter values: an open lead's stage, or a terminal outcome (P1–P8).
STAGE_FILTERS = {
    **{str(number): f"{number} · {name}" for number, name in lifecycle.STAGES.items()},
    "converted": "Converted",
    "disqualified": "Disqualified",
}
STATUS_FILTERS = dict(lifecycle.STATUSES)

# The columns a search word is matched against (as a prefix, ignoring case).
SEARCHED = (Lead.first_name, Lead.last_name, Lead.email, Lead.company)
# The work queues also search the topic, where a word may start anywhere in it.
QUEUE_SEARCHED = (*SEARCHED, Lead.topic)

Owner = User.alias("owner")
# The row's score in the list's scoring model (joined on lead and model).
ListScore = LeadScore.alias("list_score")

# Where the stage column sorts a lead: open stages 1–5, then converted, then
# disqualified (the order the stage bar reads in).
_STAGE_ORDER = pw.Case(
    None,
    (
        (Lead.status == lifecycle.QUALIFIED, len(lifecycle.STAGES) + 1),
        (Lead.status == lifecycle.DISQUALIFIED, len(lifecycle.STAGES) + 2),
    ),
    Lead.stage,
)

# The only sorts offered; each ends with the id so pages never overlap.
SORTS = {
    "created_at": (Lead.created_at.asc(), Lead.id.asc()),
    "-created_at": (Lead.created_at.desc(), Lead.id.desc()),
    "name": (Lead.last_name.asc(), Lead.first_name.asc(), Lead.id.asc()),
    "-name": (Lead.last_name.desc(), Lead.first_name.desc(), Lead.id.desc()),
    "company": (Lead.company.asc(), Lead.id.asc()),
    "-company": (Lead.company.desc(), Lead.id.desc()),
    "stage": (_STAGE_ORDER.asc(), Lead.id.asc()),
    "-stage": (_STAGE_ORDER.desc(), Lead.id.desc()),
    "updated_at": (Lead.updated_at.asc(), Lead.id.asc()),
    "-updated_at": (Lead.updated_at.desc(), Lead.id.desc()),
    "score": (ListScore.score.asc(nulls="LAST"), Lead.id.asc()),
    "-score": (ListScore.score.desc(nulls="LAST"), Lead.id.desc()),
}
SCORE_SORTS = ("score", "-score")


@dataclass(frozen=True)
class ListParams:
    """What the list shows: search, filters, sort and page. Defaults mean "no filter"."""

    q: str = ""
    stage: str = ""
    status: str = ""
    owner: str = ""
    product_line: int | None = None
    team: int | None = None
    score_model: int | None = None
    min_score: int | None = None
    sort: str = "-created_at"
    page: int = 1
    per_page: int = 50
    columns: tuple[str, ...] = ()  # none chosen: the default columns (W5)

    def to_query_args(self) -> dict:
        """The values that differ from the defaults, for links and ``hx-push-url``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    def replace(self, **changes) -> ListParams:
        """A copy with ``changes`` (e.g. another page or sort)."""
        return replace(self, **changes)

    @property
    def filtered(self) -> bool:
        """True when a search or a filter narrows the list."""
        narrowing = ("q", "stage", "status", "owner", "product_line", "team", "min_score")
        return any(getattr(self, name) not in ("", None) for name in narrowing)


@dataclass
class ListPage:
    """One page of the list, and how many leads match in all."""

    rows: list[Lead]
    total: int
    page: int
    per_page: int
    score_model: ScoringModel | None = None  # whose score the rows show (id and name)
    columns: list = field(default_factory=list)  # the ``list_columns.Column``s shown after the name
    values: dict = field(default_factory=dict)  # column key -> lead id -> value, for columns not on the row

    @property
    def pages(self) -> int:
        """How many pages the matching leads fill (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def number(self) -> int:
        """The page number (what the shared pager macro reads)."""
        return self.page

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """The 1-based position of the first row shown (0 when none)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        """The 1-based position of the last row shown (0 when none)."""
        return self.first_index + len(self.rows) - 1 if self.rows else 0


@dataclass(frozen=True)
class FilterOptions:
    """The choices of the filter form's selects, as (value, label) pairs."""

    stages: list[tuple[str, str]]
    statuses: list[tuple[str, str]]
    owners: list[tuple[str, str]]
    product_lines: list[tuple[int, str]]
    teams: list[tuple[int, str]]
    score_models: list[tuple[int, str]] = ()
    columns: list[tuple[str, str]] = ()  # the column chooser's choices (W5)


def parse_list_args(
    args: Mapping[str, str], max_per_page: int = 200
) -> tuple[ListParams, list[tuple[str, str]]]:
    """Read list parameters from a query string.

    Returns the parameters and a list of ``(field, reason)`` errors. An invalid
    value is left out of the parameters (the list still renders) and reported.
    """
    values: dict = {}
    errors: list[tuple[str, str]] = []

    def check(name: str, parse) -> None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return
        try:
            values[name] = parse(raw)
        except ValueError as error:
            errors.append((name, str(error)))

    check("q", _parse_query)
    check("stage", lambda raw: _choice(raw.lower(), STAGE_FILTERS, "Stage"))
    check("status", lambda raw: _choice(raw.lower(), STATUS_FILTERS, "Status"))
    check("owner", _parse_owner)
    check("product_line", lambda raw: _whole_number(raw, "Product line", 1, MAX_ID))
    check("team", lambda raw: _whole_number(raw, "Team", 1, MAX_ID))
    check("score_model", lambda raw: _whole_number(raw, "Scoring model", 1, MAX_ID))
    check("min_score", _parse_score)
    check("sort", lambda raw: _choice(raw, SORTS, "Sort"))
    check("page", lambda raw: _whole_number(raw, "Page", 1, MAX_PAGE))
    check("per_page", lambda raw: _whole_number(raw, "Rows per page", 1, max_per_page))
    chosen = args.getlist("columns") if hasattr(args, "getlist") else [args.get("columns") or ""]
    try:
        if any(value.strip() for value in chosen):
            parsed = list_columns.parse(chosen)
            if parsed != list_columns.DEFAULT:  # the default columns keep the address tidy
                values["columns"] = parsed
    except ValueError as error:
        errors.append(("columns", str(error)))
    return ListParams(**values), errors


def _parse_query(raw: str) -> str:
    if validation.has_nul(raw):
        raise ValueError(validation.NUL_REASON)
    query = " ".join(raw.split())
    if len(query) > MAX_QUERY_LENGTH:
        raise ValueError(f"Search text must be at most {MAX_QUERY_LENGTH} characters.")
    if len(query.split()) > MAX_QUERY_WORDS:
        raise ValueError(f"Search with at most {MAX_QUERY_WORDS} words.")
    return query


def _choice(raw: str, choices: Mapping, label: str) -> str:
    if raw not in choices:
        raise ValueError(f"{label} must be one of: {', '.join(choices)}.")
    return raw


def _whole_number(raw: str, label: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not low <= int(raw) <= high:
        raise ValueError(f"{label} must be a whole number from {low} to {high}.")
    return int(raw)


def _parse_score(raw: str) -> int:
    negative = raw.startswith("-")
    try:
        value = _whole_number(raw[1:] if negative else raw, "Minimum score", 0, MAX_SCORE)
    except ValueError:
        raise ValueError(f"Minimum score must be a whole number from {-MAX_SCORE} to {MAX_SCORE}.") from None
    return -value if negative else value


def _parse_owner(raw: str) -> str:
    if raw.lower() == UNASSIGNED:
        return UNASSIGNED
    try:
        return str(_whole_number(raw, "Owner", 1, MAX_ID))
    except ValueError:
        raise ValueError(f'Owner must be a user id or "{UNASSIGNED}" (unassigned).') from None


def matching_leads(user: User, params: ListParams, score_model_id: int | None = None):
    """Leads ``user`` may see that match the search and filters of ``params``
    (a query of ``Lead`` rows, unordered). With a minimum score or a score
    sort, the leads' score in ``score_model_id`` is joined as ``ListScore``
    (a minimum score without a model matches nothing: no lead has a score)."""
    query = visible_leads(user)
    for condition in _conditions(params):
        query = query.where(condition)
    if params.min_score is not None:
        if score_model_id is None:
            return query.where(False)
        query = _join_score(query, score_model_id, pw.JOIN.INNER).where(ListScore.score >= params.min_score)
    elif params.sort in SCORE_SORTS and score_model_id is not None:
        query = _join_score(query, score_model_id, pw.JOIN.LEFT_OUTER)
    return query


def _join_score(query, model_id: int, how):
    # ``ListScore.model`` would be the aliased class itself: spell the column ``model_id``.
    on = (ListScore.lead == Lead.id) & (ListScore.model_id == model_id)
    return query.join_from(Lead, ListScore, how, on=on, attr="list_score")


def list_score_model(params: ListParams) -> ScoringModel | None:
    """The model whose score the list shows and filters on: the chosen one if it
    exists, else (none chosen) the first live model; None when there is none."""
    columns = (ScoringModel.id, ScoringModel.name)
    if params.score_model is not None:
        return ScoringModel.select(*columns).where(ScoringModel.id == params.score_model).first()
    live = ScoringModel.select(*columns).where(ScoringModel.status == LIVE)
    return live.order_by(ScoringModel.id).first()


def _conditions(params: ListParams) -> list:
    conditions = search_conditions(params.q)
    if params.stage.isdigit():
        conditions.append((Lead.status == lifecycle.OPEN) & (Lead.stage == int(params.stage)))
    elif params.stage == "converted":
        conditions.append(Lead.status == lifecycle.QUALIFIED)
    elif params.stage == "disqualified":
        conditions.append(Lead.status == lifecycle.DISQUALIFIED)
    if params.status:
        conditions.append(Lead.status == params.status)
    if params.owner == UNASSIGNED:
        conditions.append(Lead.owner.is_null())
    elif params.owner:
        conditions.append(Lead.owner == int(params.owner))
    if params.product_line is not None:
        conditions.append(Lead.product_line == params.product_line)
    if params.team is not None:
        conditions.append(Lead.team == params.team)
    return conditions


def search_conditions(q: str, columns=SEARCHED) -> list:
    """One condition per word of the search ``q``: each word must be a
    case-insensitive prefix of one of ``columns`` (the topic: of a word in it)."""
    return [_word_matches(word, columns) for word in q.split()]


def _word_matches(word: str, columns=SEARCHED):
    """One search word: a case-insensitive prefix of one of ``columns``, or of any
    word of the topic when it is one of them."""
    pattern = _like_prefix(word.lower())
    matches = [_like(column, pattern) for column in columns]
    if any(column is Lead.topic for column in columns):  # ``in`` would compare with SQL's ==
        matches.append(_like(Lead.topic, _like_prefix(word.lower(), after=" ")))
    return reduce(operator.or_, matches)


def _like(column, pattern):
    if is_sqlite():
        # SQLite's LIKE ignores ASCII case and can use a NOCASE index (peewee
        # spells SQLite's LIKE as ILIKE: its LIKE becomes a case-sensitive GLOB).
        return pw.Expression(column, pw.OP.ILIKE, pattern)
    # PostgreSQL: LIKE on lower(column) can use a lower(column) text_pattern_ops index.
    return pw.Expression(pw.fn.LOWER(column), pw.OP.LIKE, pattern)


def _like_prefix(text: str, after: str = "") -> pw.NodeList:
    """``LIKE`` operand matching values that start with ``text`` (its % and _ taken
    literally), or with ``after`` it anywhere after that separator. The escape
    character is a literal, not a parameter: SQLite only uses an index for a
    LIKE whose ESCAPE is a constant."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    start = f"%{after}" if after else ""
    return pw.NodeList((pw.Value(start + escaped + "%", converter=False), pw.SQL("ESCAPE '\\'")))


def page_of_leads(query, params: ListParams) -> ListPage:
    """Page ``params.page`` of the ordered lead ``query`` (``params.per_page``
    rows, each with its related records) and how many leads it holds in all:
    two queries whatever the page size, as the lead list."""
    total = query.order_by().select(pw.fn.COUNT(pw.SQL("*"))).scalar() or 0
    rows = list(with_related(query).paginate(params.page, params.per_page))
    return ListPage(rows=rows, total=total, page=params.page, per_page=params.per_page)


def list_leads(user: User, params: ListParams) -> ListPage:
    """One page of the leads ``user`` may see, matching ``params``, with the
    total count.

    Two queries whatever the page size: the count, and the page's rows joined
    with their owner, product line and team (no N+1). The page's ids are picked
    first in a subquery that touches only the sort and filter columns (often an
    index alone), so a deep page or a sort does not read and join every
    skipped row."""
    model = list_score_model(params)
    model_id = model.id if model is not None else None
    matching = matching_leads(user, params, model_id)
    order = SORTS[params.sort if model_id is not None or params.sort not in SCORE_SORTS else "-created_at"]
    total = matching.select(pw.fn.COUNT(pw.SQL("*"))).scalar() or 0
    page_ids = matching.select(Lead.id).order_by(*order).paginate(params.page, params.per_page)
    query = (
        Lead.select(
            Lead,
            Owner.id,
            Owner.name,
            ProductLine.id,
            ProductLine.name,
            Team.id,
            Team.name,
            Campaign.id,
            Campaign.name,
        )
        .join_from(Lead, Owner, pw.JOIN.LEFT_OUTER, on=(Lead.owner == Owner.id), attr="owner")
        .join_from(Lead, ProductLine, pw.JOIN.LEFT_OUTER, on=(Lead.product_line == ProductLine.id))
        .join_from(Lead, Team, pw.JOIN.LEFT_OUTER, on=(Lead.team == Team.id))
        .join_from(Lead, Campaign, pw.JOIN.LEFT_OUTER, on=(Lead.campaign == Campaign.id))
    )
    if model_id is not None:
        query = _join_score(
            query.select_extend(ListScore.id, ListScore.score, ListScore.grade), model_id, pw.JOIN.LEFT_OUTER
        )
    rows = list(query.where(Lead.id.in_(page_ids)).order_by(*order))
    shown = list_columns.resolve(
        params.columns,
        _live_model_names(list_columns.model_ids(params.columns)),
        model.name if model else None,
    )
    return ListPage(
        rows=rows,
        total=total,
        page=params.page,
        per_page=params.per_page,
        score_model=model,
        columns=shown,
        values=list_columns.load_values(shown, [row.id for row in rows]),
    )


def _live_model_names(model_ids: set[int]) -> dict[int, str]:
    """The names of the live models among ``model_ids`` (no query when there is none)."""
    if not model_ids:
        return {}
    query = ScoringModel.select(ScoringModel.id, ScoringModel.name).where(
        ScoringModel.id.in_(sorted(model_ids)) & (ScoringModel.status == LIVE)
    )
    return dict(query.tuples())


def filter_options(user: User) -> FilterOptions:
    """The choices for the filter form. Reps get no owner choice: they only see their own leads."""
    owners = []
    live = dict(
        ScoringModel.select(ScoringModel.id, ScoringModel.name)
        .where(ScoringModel.status == LIVE)
        .order_by(ScoringModel.name)
        .tuples()
    )
    if user.role != REP:
        owners = [(UNASSIGNED, "Unassigned")] + [(str(rep.id), rep.name) for rep in assignable_reps()]
    return FilterOptions(
        stages=list(STAGE_FILTERS.items()),
        statuses=list(STATUS_FILTERS.items()),
        owners=owners,
        product_lines=[(line.id, line.name) for line in ProductLine.select().order_by(ProductLine.name)],
        teams=[(team.id, team.name) for team in Team.select().order_by(Team.name)],
        score_models=list(live.items()),
        columns=list_columns.choices(live),
    )
