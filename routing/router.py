"""Who gets a sales-ready lead (SPEC R1–R6): assignment rules and the router.

``route(rules, facts, reps, now, excluded)`` is a pure function: the caller
loads the lead's facts, the assignable reps (their product lines, team,
capacity, open leads, time away and when each last got a lead from each pool)
and the rules, and stores the ``Decision`` it gets back. No database, no Flask,
no Redis.

How the SPEC reads here:

- R4: rules are tried in order; the first whose conditions match decides, even
  when it then finds no one (the lead goes to the managers' unassigned queue
  with a reason code). No rule matched → unassigned, ``no_rule_matched``.
  Conditions are the shared language of ``leads.core.conditions`` over lead,
  contact and account fields; the lead's scores are lead fields named
  ``score:<model id>`` (``with_scores``), so a rule can say "score in model 3 ≥ 50".
- R2: a relationship-owner rule gives the lead to the contact's owner, else the
  account's. With a ``fallback`` (round robin or least loaded) it falls back to
  its pool when neither owner can take it: "relationship owner first, else the
  pool" is one rule. Without one it only applies to leads that have an owner,
  so "owners first, then product lines" is two rules with no conditions to
  write; an owner who cannot take the lead (away, full…) leaves it unassigned
  rather than silently handing a known customer to someone else.
- R3: pools are the reps of the lead's product line (optionally of one team),
  of a team, or every rep. Round robin gives the lead to the eligible rep who
  has waited longest since their last lead from this pool (never first, then by
  id); the pointer is each rep's ``last_assigned_at[pool_key]``, stored by the
  caller, so the order survives restarts, bulk arrivals and several workers.
  Least loaded picks the most free room (capacity − open leads), ties by round
  robin order.
- Deactivated, excluded, away (``away_from`` ≤ now < ``away_until``, either end
  open) and full (open ≥ capacity) reps are skipped, each with its reason.
- R6: ``excluded`` holds the reps who declined the lead; a rule may also
  exclude reps of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from leads.core.conditions import (
    ACCOUNT,
    CONTACT,
    FIELDS,
    LEAD,
    NUMBER,
    OPERATORS,
    UNARY,
    Condition,
    DefinitionError,
    Facts,
    FieldError,
    Group,
    as_integer,
    as_utc,
    build_segment,
    is_empty,
    matches,
    validate_segment,
)
from leads.core.implication import implies

# Strategies.
OWNER = "relationship_owner"
ROUND_ROBIN = "round_robin"
LEAST_LOADED = "least_loaded"
NAMED_USER = "named_user"
UNASSIGNED = "unassigned"
STRATEGIES = {
    OWNER: "Relationship owner",
    ROUND_ROBIN: "Round robin",
    LEAST_LOADED: "Least loaded",
    NAMED_USER: "A named sales rep",
    UNASSIGNED: "Managers' unassigned queue",
}
POOL_STRATEGIES = (ROUND_ROBIN, LEAST_LOADED)
# Strategies that pick one known rep and may fall back to a pool.
SINGLE_STRATEGIES = (OWNER, NAMED_USER)

# Pools.
PRODUCT_LINE, TEAM, EVERYONE = "product_line", "team", "all"
POOLS = {PRODUCT_LINE: "Reps of the lead's product line", TEAM: "Reps of a team", EVERYONE: "Every rep"}

# Reason codes of a decision.
ASSIGNED = "assigned"
NO_RULE_MATCHED = "no_rule_matched"
NO_ELIGIBLE_REP = "no_eligible_rep"
NO_PRODUCT_LINE = "no_product_line"
RULE_UNASSIGNED = "rule_unassigned"
REASONS = {
    ASSIGNED: "Assigned",
    NO_RULE_MATCHED: "No assignment rule matched",
    NO_ELIGIBLE_REP: "No rep could take the lead",
    NO_PRODUCT_LINE: "The lead has no product line",
    RULE_UNASSIGNED: "The rule sends it to the managers' queue",
}

# Why a rep was skipped.
INACTIVE, EXCLUDED, AWAY, FULL, UNKNOWN = "inactive", "excluded", "away", "full", "unknown"

SCORE_PREFIX = "score:"
MAX_RULES = 100
MAX_NAME = 200
MAX_EXCLUDED = 500


def score_field(model_id: Any) -> str:
    """The lead field that holds the lead's score in ``model_id``: ``score:<id>``."""
    return f"{SCORE_PREFIX}{model_id}"


def with_scores(facts: Facts, scores: Mapping[Any, int | None]) -> Facts:
    """``facts`` whose lead also carries its score in each model (``score:<id>``),
    so that rule conditions can test them."""
    lead = dict(facts.lead)
    lead.update({score_field(model_id): score for model_id, score in scores.items()})
    return replace(facts, lead=lead)


# --- Reps ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Rep:
    """A sales rep as the router sees them (ids are the users' ids). ``capacity``
    is how many open leads they can hold; ``last_assigned_at`` maps a pool key to
    when the rep last got a lead from that pool (absent: never)."""

    id: int
    capacity: int
    name: str = ""
    open_leads: int = 0
    active: bool = True
    team_id: int | None = None
    product_line_ids: frozenset[int] = frozenset()
    away_from: dt.datetime | None = None
    away_until: dt.datetime | None = None
    last_assigned_at: Mapping[str, dt.datetime] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "product_line_ids", frozenset(self.product_line_ids))

    @property
    def label(self) -> str:
        """The rep's name, or "rep <id>"."""
        return self.name or f"rep {self.id}"

    @property
    def room(self) -> int:
        """Leads the rep can still take: capacity − open leads."""
        return self.capacity - self.open_leads

    def is_away(self, now: dt.datetime) -> bool:
        """Whether ``now`` falls in the rep's time away (either end may be open)."""
        if self.away_from is None and self.away_until is None:
            return False
        starts = self.away_from is None or as_utc(self.away_from) <= now
        return starts and (self.away_until is None or now < as_utc(self.away_until))

    def waited(self, pool_key: str | None) -> tuple:
        """Round-robin order in a pool: never assigned first, then longest waiting,
        ties by id."""
        last = self.last_assigned_at.get(pool_key) if pool_key else None
        return (0, dt.datetime.min, self.id) if last is None else (1, as_utc(last), self.id)


def _load(rep: Rep) -> str:
    return f"{rep.open_leads}/{rep.capacity} open"


def _skip_reason(rep: Rep, now: dt.datetime, declined: Collection, rule: Rule) -> tuple[str, str] | None:
    """(code, words) when ``rep`` cannot take the lead now, else None."""
    if not rep.active:
        return INACTIVE, "deactivated"
    if rep.id in declined:
        return EXCLUDED, "declined this lead"
    if rep.id in rule.exclude_user_ids:
        return EXCLUDED, "excluded by the rule"
    if rep.is_away(now):
        until = f" until {_when(rep.away_until)}" if rep.away_until else ""
        return AWAY, f"away{until}"
    if rep.open_leads >= rep.capacity:
        return FULL, f"full ({_load(rep)})"
    return None


def _when(moment: dt.datetime) -> str:
    return as_utc(moment).isoformat(" ", "minutes")  # a third of strftime's cost


# --- Rules -----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One assignment rule: when ``conditions`` hold (None: every lead), hand the
    lead over by ``strategy``. ``pool`` (with ``team_id``) is where round robin and
    least loaded look, and where ``fallback`` looks for the single strategies."""

    id: Any
    name: str
    strategy: str
    conditions: Group | None = None
    pool: str | None = None
    team_id: int | None = None
    user_id: int | None = None
    fallback: str | None = None
    exclude_user_ids: frozenset[int] = frozenset()
    active: bool = True

    def __post_init__(self):
        object.__setattr__(self, "exclude_user_ids", frozenset(self.exclude_user_ids))

    @cached_property
    def title(self) -> str:
        """The rule's conditions in words."""
        return "every lead" if self.conditions is None else describe(self.conditions)

    def to_dict(self) -> dict:
        """The JSON form, read back by ``from_dict``."""
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "conditions": None if self.conditions is None else self.conditions.to_dict(),
            "strategy": self.strategy,
            "pool": self.pool,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "fallback": self.fallback,
            "exclude_user_ids": sorted(self.exclude_user_ids),
        }

    @classmethod
    def from_dict(cls, data: Any, **known) -> Rule:
        """Check and build a rule (``known`` as for ``validate_rule``); raises
        ``DefinitionError`` when invalid. Settings the strategy does not use are
        dropped, so a form may send every field."""
        errors = validate_rule(data, **known)
        if errors:
            raise DefinitionError(errors)
        strategy = data["strategy"]
        fallback = (data.get("fallback") or None) if strategy in SINGLE_STRATEGIES else None
        uses_pool = strategy in POOL_STRATEGIES or fallback is not None
        pool = (data.get("pool") or PRODUCT_LINE) if uses_pool else None
        conditions = data.get("conditions")
        return cls(
            id=data.get("id"),
            name=data["name"].strip(),
            strategy=strategy,
            conditions=None if is_empty(conditions) else build_segment(conditions),
            pool=pool,
            team_id=_optional_id(data.get("team_id")) if pool in (PRODUCT_LINE, TEAM) else None,
            user_id=_optional_id(data.get("user_id")) if strategy == NAMED_USER else None,
            fallback=fallback,
            exclude_user_ids=frozenset(as_integer(i) for i in data.get("exclude_user_ids") or ()),
            active=data.get("active", True),
        )


def rules_from_dicts(data: Any, **known) -> list[Rule]:
    """Check and build an ordered list of rules; raises ``DefinitionError``."""
    errors = validate_rules(data, **known)
    if errors:
        raise DefinitionError(errors)
    return [Rule.from_dict(item, **known) for item in data]


def _optional_id(value: Any) -> int | None:
    return None if is_empty(value) else as_integer(value)


def describe(node: Group | Condition, words: Callable[[Condition], str | None] | None = None) -> str:
    """Conditions in words, a score as "score in model 3 ≥ 50". ``words``, when
    given, may put a condition its own way (names for ids); None keeps these."""
    if isinstance(node, Group):
        text = f" {node.op.upper()} ".join(describe(item, words) for item in node.items)
        return f"({text})" if len(node.items) > 1 else text
    own = words(node) if words is not None else None
    if own:
        return own
    if node.entity != LEAD or not node.field.startswith(SCORE_PREFIX):
        return node.describe()
    subject = f"score in model {node.field[len(SCORE_PREFIX) :]} {OPERATORS[node.operator]}"
    if node.operator in UNARY:
        return subject
    if node.operator == "in_list":
        return f"{subject} {', '.join(str(item) for item in node.value)}"
    return f"{subject} {node.value}"


# --- Rules that can never fire ---------------------------------------------


def shadowed(rules: Sequence[Rule]) -> dict[int, tuple[int, ...]]:
    """R4: the rules that can never decide because earlier ones take every lead
    they match: index in ``rules`` → the positions (1-based) of those earlier
    rules. Conservative: a rule is listed only when that is proved
    (``leads.core.implication``), so a rule that can fire is never listed.
    Rules that are off are neither listed nor shadow others."""
    found: dict[int, tuple[int, ...]] = {}
    for index, rule in enumerate(rules):
        if not rule.active:
            continue
        earlier = [
            (position, other)
            for position, other in enumerate(rules[:index], 1)
            if other.active and _takes_every_match(other, rule)
        ]
        by = []
        for part in _alternatives(rule.conditions):
            position = next((pos for pos, other in earlier if implies(part, other.conditions)), None)
            if position is None:
                break
            by.append(position)
        else:
            if by:
                found[index] = tuple(sorted(set(by)))
    return found


def _takes_every_match(earlier: Rule, later: Rule) -> bool:
    """Whether ``earlier`` decides every lead it matches that ``later`` could
    decide: all strategies do, but a relationship-owner rule without a fallback
    passes leads without an owner on, which only such a rule ignores as well."""
    if earlier.strategy != OWNER or earlier.fallback is not None:
        return True
    return later.strategy == OWNER and later.fallback is None


def _alternatives(node: Group | None) -> list:
    """The top-level OR branches of a rule's conditions (None: every lead)."""
    if isinstance(node, Group) and node.op == "or":
        return [part for item in node.items for part in _alternatives(item)]
    return [node]


# --- The decision ----------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Who gets the lead: ``rep_id`` (None: the managers' unassigned queue), the rule
    that decided, the strategy that picked, a ``reason`` code (``REASONS``), the
    reps skipped (id → why) and a readable ``trace``.

    When a pool picked, the caller stores ``pointer_at`` as the rep's
    ``last_assigned_at[pool_key]``. It is ``now``, or just after the latest
    pointer of the pool when that is not earlier: leads routed in one batch with
    the same ``now``, or by a worker whose clock is behind, still send the rep
    to the back of the line."""

    rep_id: int | None
    rule_id: Any
    strategy: str | None
    reason: str
    pool_key: str | None = None
    pointer_at: dt.datetime | None = None
    via_fallback: bool = False
    skipped: Mapping[int, str] = field(default_factory=dict)
    trace: tuple[str, ...] = ()

    @property
    def assigned(self) -> bool:
        """Whether a rep got the lead."""
        return self.rep_id is not None

    def to_dict(self) -> dict:
        """The JSON form stored on the lead's timeline; read back by ``from_dict``."""
        return {
            "rep_id": self.rep_id,
            "rule_id": self.rule_id,
            "strategy": self.strategy,
            "reason": self.reason,
            "pool_key": self.pool_key,
            "pointer_at": self.pointer_at.isoformat() if self.pointer_at else None,
            "via_fallback": self.via_fallback,
            "skipped": [{"rep_id": rep_id, "reason": why} for rep_id, why in self.skipped.items()],
            "trace": list(self.trace),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Decision:
        """A decision from ``to_dict``'s JSON."""
        return cls(
            rep_id=data.get("rep_id"),
            rule_id=data.get("rule_id"),
            strategy=data.get("strategy"),
            reason=data["reason"],
            pool_key=data.get("pool_key"),
            pointer_at=dt.datetime.fromisoformat(data["pointer_at"]) if data.get("pointer_at") else None,
            via_fallback=bool(data.get("via_fallback")),
            skipped={item["rep_id"]: item["reason"] for item in data.get("skipped") or ()},
            trace=tuple(data.get("trace") or ()),
        )


@dataclass
class _Run:
    """One routing: its inputs, and the trace and skips written as it goes."""

    facts: Facts
    reps: dict[int, Rep]
    now: dt.datetime
    declined: frozenset
    trace: list[str] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    def can_take(self, rep: Rep, rule: Rule) -> bool:
        """Whether ``rep`` is eligible; when not, note why."""
        problem = _skip_reason(rep, self.now, self.declined, rule)
        if problem is None:
            return True
        self.skip(rep.id, rep.label, *problem)
        return False

    def skip(self, rep_id: int, label: str, code: str, words: str) -> None:
        self.skipped[rep_id] = code
        self.trace.append(f"  {label} skipped: {words}")

    def decide(
        self, rule: Rule | None, rep: Rep | None, strategy: str | None, reason: str, **more
    ) -> Decision:
        return Decision(
            rep.id if rep else None,
            rule.id if rule else None,
            strategy,
            reason,
            skipped=dict(self.skipped),
            trace=tuple(self.trace),
            **more,
        )


def route(
    rules: Iterable[Rule],
    facts: Facts,
    reps: Iterable[Rep],
    now: dt.datetime,
    excluded: Collection[int] = (),
) -> Decision:
    """R1–R6: who gets the lead described by ``facts`` (scores as ``score:<id>``
    lead fields, see ``with_scores``) among ``reps``, by the first active rule
    that matches; ``excluded`` are reps who declined the lead (R6)."""
    run = _Run(
        facts, {rep.id: rep for rep in sorted(reps, key=lambda rep: rep.id)}, as_utc(now), frozenset(excluded)
    )
    for position, rule in enumerate(rules, 1):
        heading = f"Rule {position} {rule.name!r}"
        if not rule.active:
            run.trace.append(f"{heading}: off")
            continue
        if not matches(rule.conditions, facts):
            run.trace.append(f"{heading}: no match ({rule.title})")
            continue
        run.trace.append(f"{heading} matched: {rule.title}")
        decision = _apply(rule, run)
        if decision is not None:
            return decision
    run.trace.append("No rule matched → managers' unassigned queue")
    return run.decide(None, None, None, NO_RULE_MATCHED)


def reps_in_play(rules: Iterable[Rule], facts: Facts, reps: Iterable[Rep]) -> frozenset[int]:
    """The reps whose open leads or round-robin pointers ``route`` may read for
    the lead described by ``facts``, whatever those loads and pointers are: the
    matched rule's relationship owners or named rep and the members of its pool.
    Which rule matches depends only on the facts, and who is in a pool only on
    the reps' teams and product lines, so two routings whose sets do not meet
    cannot change each other's decisions (the caller locks these reps)."""
    run = _Run(facts, {rep.id: rep for rep in reps}, dt.datetime.min, frozenset())
    for rule in rules:
        if not rule.active or not matches(rule.conditions, facts):
            continue
        if rule.strategy == UNASSIGNED:
            return frozenset()
        named: list[int] = []
        if rule.strategy in SINGLE_STRATEGIES:
            named = [rule.user_id] if rule.strategy == NAMED_USER else owner_ids(facts)
            if not named and rule.strategy == OWNER and rule.fallback is None:
                continue  # the next rule decides (as in ``_apply``)
            if rule.fallback is None:
                return frozenset(rep_id for rep_id in named if rep_id in run.reps)
        key, members, _where = _pool(rule, run)
        pool = {rep.id for rep in members} if key is not None else set()
        return frozenset(pool | {rep_id for rep_id in named if rep_id in run.reps})
    return frozenset()


def _apply(rule: Rule, run: _Run) -> Decision | None:
    """The rule's decision, or None when a relationship-owner rule without a
    fallback meets a lead with no owner (the next rule then tries)."""
    if rule.strategy == UNASSIGNED:
        run.trace.append("  → managers' unassigned queue")
        return run.decide(rule, None, UNASSIGNED, RULE_UNASSIGNED)
    if rule.strategy in POOL_STRATEGIES:
        return _from_pool(rule, run, rule.strategy)
    if rule.strategy == NAMED_USER:
        return _single(rule, run, [rule.user_id])
    owners = owner_ids(run.facts)
    if not owners and rule.fallback is None:
        run.trace.append("  no relationship owner on the contact or account: next rule")
        return None
    if not owners:
        run.trace.append("  no relationship owner on the contact or account")
    return _single(rule, run, owners)


def owner_ids(facts: Facts) -> list[int]:
    """R2: the relationship owners to try, the contact's before the account's."""
    found = []
    for record in (facts.contact, facts.account):
        owner = as_integer(record.get("owner_id")) if record else None
        if owner is not None and owner not in found:
            found.append(owner)
    return found


def _single(rule: Rule, run: _Run, rep_ids: list[int]) -> Decision:
    """The first of ``rep_ids`` who can take the lead, else the rule's fallback."""
    for rep_id in rep_ids:
        rep = run.reps.get(rep_id)
        if rep is None:
            run.skip(rep_id, f"user {rep_id}", UNKNOWN, "not an assignable sales rep")
        elif run.can_take(rep, rule):
            run.trace.append(f"  {STRATEGIES[rule.strategy].lower()} → {rep.label}, {_load(rep)}")
            return run.decide(rule, rep, rule.strategy, ASSIGNED)
    if rule.fallback is not None:
        run.trace.append(f"  falling back to {STRATEGIES[rule.fallback].lower()}")
        return _from_pool(rule, run, rule.fallback, via_fallback=True)
    run.trace.append("  nobody can take it → managers' unassigned queue")
    return run.decide(rule, None, rule.strategy, NO_ELIGIBLE_REP)


def _from_pool(rule: Rule, run: _Run, strategy: str, via_fallback: bool = False) -> Decision:
    """Round robin or least loaded among the eligible reps of the rule's pool."""
    key, members, where = _pool(rule, run)
    if key is None:
        run.trace.append("  the lead has no product line → managers' unassigned queue")
        return run.decide(rule, None, strategy, NO_PRODUCT_LINE, via_fallback=via_fallback)
    eligible = [rep for rep in members if run.can_take(rep, rule)]
    if not eligible:
        nobody = "nobody can take it" if members else "no rep"
        run.trace.append(f"  {nobody} in {where} → managers' unassigned queue")
        return run.decide(rule, None, strategy, NO_ELIGIBLE_REP, pool_key=key, via_fallback=via_fallback)
    if strategy == ROUND_ROBIN:
        eligible.sort(key=lambda rep: rep.waited(key))
        run.trace.append(
            "  eligible, longest waiting first: " + ", ".join(_waiting(rep, key) for rep in eligible)
        )
    else:
        eligible.sort(key=lambda rep: (-rep.room, rep.waited(key)))
        run.trace.append(
            "  eligible, most room first: " + ", ".join(f"{rep.label} ({_load(rep)})" for rep in eligible)
        )
    pick = eligible[0]
    run.trace.append(f"  {STRATEGIES[strategy].lower()} in {where} → {pick.label}, {_load(pick)}")
    pointer = _next_pointer(members, key, run.now)
    return run.decide(
        rule, pick, strategy, ASSIGNED, pool_key=key, pointer_at=pointer, via_fallback=via_fallback
    )


def _next_pointer(members: list[Rep], key: str, now: dt.datetime) -> dt.datetime:
    """``now``, or 1 µs after the pool's latest pointer when that is not earlier."""
    pointers = [rep.last_assigned_at.get(key) for rep in members]
    latest = max((as_utc(moment) for moment in pointers if moment is not None), default=None)
    return now if latest is None or latest < now else latest + dt.timedelta(microseconds=1)


def _waiting(rep: Rep, key: str) -> str:
    last = rep.last_assigned_at.get(key)
    return f"{rep.label} ({'never' if last is None else 'last ' + _when(last)})"


def _pool(rule: Rule, run: _Run) -> tuple[str | None, list[Rep], str]:
    """(pool key, members by id, the pool in words); the key is None when the pool
    is the lead's product line and the lead has none."""
    team = rule.team_id
    if rule.pool == TEAM:
        return f"team:{team}", [rep for rep in run.reps.values() if rep.team_id == team], f"team {team}"
    if rule.pool == EVERYONE:
        return EVERYONE, list(run.reps.values()), "every rep"
    line = as_integer(run.facts.lead.get("product_line_id"))
    if line is None:
        return None, [], ""
    members = [
        rep
        for rep in run.reps.values()
        if line in rep.product_line_ids and (team is None or rep.team_id == team)
    ]
    if team is None:
        return f"product_line:{line}", members, f"product line {line}"
    return f"product_line:{line}:team:{team}", members, f"product line {line}, team {team}"


# --- Checking definitions --------------------------------------------------


class _LeadFields(Mapping):
    """The lead fields a rule may test: ``FIELDS[lead]`` and ``score:<model id>``
    (any id, or only those of ``model_ids``)."""

    def __init__(self, model_ids: Collection | None = None):
        self._models = None if model_ids is None else {str(model_id) for model_id in model_ids}

    def __getitem__(self, name: str) -> str:
        if name in FIELDS[LEAD]:
            return FIELDS[LEAD][name]
        model = name[len(SCORE_PREFIX) :].strip() if name.startswith(SCORE_PREFIX) else ""
        if model and (self._models is None or model in self._models):
            return NUMBER
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from FIELDS[LEAD]
        yield from (score_field(model_id) for model_id in sorted(self._models or ()))

    def __len__(self) -> int:
        return len(FIELDS[LEAD]) + len(self._models or ())


def routing_fields(model_ids: Collection | None = None) -> dict[str, Mapping[str, str]]:
    """Field kinds per entity that rule conditions may test (``model_ids``: the
    scoring models a score condition may name; None: any)."""
    return {LEAD: _LeadFields(model_ids), CONTACT: FIELDS[CONTACT], ACCOUNT: FIELDS[ACCOUNT]}


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate_rule(
    data: Any,
    path: str = "",
    *,
    model_ids: Collection | None = None,
    team_ids: Collection | None = None,
    user_ids: Collection | None = None,
) -> list[FieldError]:
    """Errors in a rule dict as ``FieldError(path, reason)``. The known ids, when
    given, are the scoring models, teams and assignable reps a rule may name."""
    if not isinstance(data, Mapping):
        return [FieldError(path or "rule", "Expected an assignment rule.")]
    errors = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError(_at(path, "name"), "Enter a name."))
    elif len(name) > MAX_NAME:
        errors.append(FieldError(_at(path, "name"), f"The name is at most {MAX_NAME} characters."))
    if not isinstance(data.get("active", True), bool):
        errors.append(FieldError(_at(path, "active"), "Choose yes or no."))
    conditions = data.get("conditions")
    if not is_empty(conditions):
        errors += validate_segment(conditions, _at(path, "conditions"), fields=routing_fields(model_ids))
    strategy = data.get("strategy")
    if strategy not in STRATEGIES:
        return [*errors, FieldError(_at(path, "strategy"), "Choose a strategy.")]
    errors += _validate_target(data, path, strategy, team_ids, user_ids)
    return errors + _validate_excluded(data.get("exclude_user_ids"), _at(path, "exclude_user_ids"), user_ids)


def _validate_target(data: Mapping, path: str, strategy: str, team_ids, user_ids) -> list[FieldError]:
    """Errors in who the strategy hands the lead to: the named rep, the fallback, the pool."""
    errors = []
    if strategy == NAMED_USER:
        errors += _validate_id(
            data.get("user_id"), _at(path, "user_id"), user_ids, "Choose an active sales rep."
        )
    fallback = data.get("fallback") or None
    if strategy in SINGLE_STRATEGIES and fallback not in (None, *POOL_STRATEGIES):
        errors.append(FieldError(_at(path, "fallback"), "Fall back to round robin, least loaded or nobody."))
    if strategy not in POOL_STRATEGIES and (strategy not in SINGLE_STRATEGIES or fallback is None):
        return errors
    pool = data.get("pool") or PRODUCT_LINE
    if pool not in POOLS:
        return [*errors, FieldError(_at(path, "pool"), "Choose the product line, a team or every rep.")]
    team = data.get("team_id")
    if pool == TEAM or (pool == PRODUCT_LINE and not is_empty(team)):
        errors += _validate_id(team, _at(path, "team_id"), team_ids, "Choose a team.")
    return errors


def _validate_id(value: Any, path: str, known: Collection | None, reason: str) -> list[FieldError]:
    number = None if is_empty(value) else as_integer(value)
    if number is None or (known is not None and number not in known):
        return [FieldError(path, reason)]
    return []


def _validate_excluded(value: Any, path: str, user_ids: Collection | None) -> list[FieldError]:
    if is_empty(value):
        return []
    if not isinstance(value, list | tuple) or len(value) > MAX_EXCLUDED:
        return [FieldError(path, f"Give a list of at most {MAX_EXCLUDED} sales reps.")]
    for index, item in enumerate(value):
        errors = _validate_id(item, f"{path}[{index}]", user_ids, "Choose a sales rep.")
        if errors:
            return errors
    return []


def validate_rules(data: Any, **known) -> list[FieldError]:
    """Errors in an ordered list of rules (paths ``rules[i]…``); ``known`` as for
    ``validate_rule``."""
    if not isinstance(data, list | tuple):
        return [FieldError("rules", "Expected a list of assignment rules.")]
    if len(data) > MAX_RULES:
        return [FieldError("rules", f"At most {MAX_RULES} rules.")]
    errors, seen = [], set()
    for index, item in enumerate(data):
        errors += validate_rule(item, f"rules[{index}]", **known)
        rule_id = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(rule_id, int | str):
            continue
        if rule_id in seen:
            errors.append(FieldError(f"rules[{index}].id", "Two rules have the same id."))
        seen.add(rule_id)
    return errors
