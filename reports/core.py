"""The sales figures (SPEC D1) as pure functions over plain values: a lead's
history, assignments and activities in, one ``LeadFact`` out (what the daily
rollup stores), and the dashboard's figures from those facts: the funnel, time
in stage, speed to lead, SLA breaches and rep load. No database, no Flask.

Times are whole seconds since the epoch (UTC) throughout: the rollup stores
them so, and the dashboard reads tens of thousands of them per page, which
integers make cheap where parsed datetimes would not be.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from leads.core import lifecycle

STAGES = tuple(sorted(lifecycle.STAGES))  # 1..5
CONVERTED, DISQUALIFIED = "converted", "disqualified"
# What ended an assignment, as the rollup counts it (R6).
OVERDUE, DECLINED, REASSIGNED = "overdue", "declined", "reassigned"
DAY = 86_400


def epoch(moment: dt.datetime) -> int:
    """Whole seconds since the epoch of a naive UTC (or aware) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def day_start(day: dt.date) -> int:
    """The epoch second at which ``day`` (UTC) begins."""
    return epoch(dt.datetime(day.year, day.month, day.day))


EPOCH_DAY = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """``day`` as days since 1970-01-01, how the rollup stores it."""
    return (day - EPOCH_DAY).days


def from_day_number(number: int) -> dt.date:
    return EPOCH_DAY + dt.timedelta(days=number)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0–1) of ``values`` by linear interpolation between
    the closest ranks (the spreadsheet and numpy default): the median of
    1, 2, 3, 4 is 2.5, its 90th percentile 3.7. None for no values."""
    if not values:
        return None
    return _interpolate(sorted(values), q)


def _interpolate(ordered: Sequence[float], q: float) -> float | None:
    """``percentile`` of values already in order."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- One lead's fact ------------------------------------------------------------


@dataclass(frozen=True)
class LeadNow:
    """The lead's row as it is now."""

    lead_id: int
    stage: int
    status: str
    status_reason: str
    created: int
    product_line_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True)
class Step:
    """One row of the lead's history (P7): what changed, from, to, when."""

    kind: str
    old: str | None
    new: str | None
    at: int


@dataclass(frozen=True)
class Handling:
    """One assignment of the lead to a rep (R1–R6)."""

    rep_id: int | None
    created: int
    accepted: int | None = None
    ended: int | None = None


@dataclass(frozen=True)
class LeadFact:
    """What the dashboard needs of one lead: when it first entered and then
    first left each stage, its outcome, and the hand-off's moments."""

    lead_id: int
    stage: int
    status: str
    created: int
    entered: tuple[int | None, ...]  # per stage 1..5, the first entry
    left: tuple[int | None, ...]  # per stage, the first exit after that entry (or the outcome)
    stage_since: int  # when the lead last entered the stage it is in
    product_line_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    outcome: str | None = None  # converted, disqualified or None (open)
    outcome_reason: str | None = None  # the status reason of a disqualified lead
    outcome_at: int | None = None
    sales_ready_at: int | None = None
    assigned_at: int | None = None
    accepted_at: int | None = None
    first_activity_at: int | None = None

    @property
    def active_until(self) -> int:
        """The last moment anything the dashboard counts happened to the lead."""
        moments = [self.created, self.stage_since, *self.entered, *self.left]
        moments += [self.outcome_at, self.sales_ready_at, self.assigned_at, self.accepted_at]
        moments.append(self.first_activity_at)
        return max(moment for moment in moments if moment is not None)


def build_fact(
    lead: LeadNow, steps: Iterable[Step], handlings: Iterable[Handling], activity_times: Iterable[int]
) -> LeadFact:
    """The lead's fact from its history, assignments and activity times.

    Stages are read from the ``stage`` rows (from → to): the first entry into
    each, and the first exit after it; a lead converted or disqualified leaves
    the stage it was in at its outcome. Sales-ready is the first time the flag
    was set (else the first entry into stage 5); assigned, accepted and the
    first activity are the first of each at or after it."""
    ordered = sorted(steps, key=lambda step: step.at)
    entered: dict[int, int] = {}
    left: dict[int, int] = {}
    stage_since = lead.created
    current = None
    for step in ordered:
        if step.kind != "stage" or not _is_stage(step.new):
            continue
        new = int(step.new)
        old = int(step.old) if _is_stage(step.old) else current
        if old is not None and old != new and old in entered:
            left.setdefault(old, step.at)
        entered.setdefault(new, step.at)
        current, stage_since = new, step.at
    if not entered:  # no stage history at all (a row loaded by hand): it entered its stage when created
        entered[lead.stage] = lead.created
        current, stage_since = lead.stage, lead.created
    outcome, reason = _outcome(lead)
    outcome_at = None
    if outcome:
        moments = [step.at for step in ordered if step.kind == "status" and step.new == lead.status]
        outcome_at = moments[-1] if moments else (ordered[-1].at if ordered else lead.created)
        if lead.stage in entered:
            left.setdefault(lead.stage, max(outcome_at, entered[lead.stage]))
    ready = [step.at for step in ordered if step.kind == "sales_ready" and step.new == "1"]
    sales_ready_at = ready[0] if ready else entered.get(lifecycle.SALES_ACCEPTANCE)
    assigned_at = accepted_at = first_activity_at = None
    if sales_ready_at is not None:
        after = sorted(
            (handling for handling in handlings if handling.rep_id and handling.created >= sales_ready_at),
            key=lambda handling: handling.created,
        )
        assigned_at = after[0].created if after else None
        accepted = [handling.accepted for handling in after if handling.accepted is not None]
        accepted_at = min(accepted) if accepted else None
        later = [moment for moment in activity_times if moment >= sales_ready_at]
        first_activity_at = min(later) if later else None
    return LeadFact(
        lead_id=lead.lead_id,
        stage=lead.stage,
        status=lead.status,
        created=lead.created,
        entered=tuple(entered.get(stage) for stage in STAGES),
        left=tuple(left.get(stage) for stage in STAGES),
        stage_since=stage_since,
        product_line_id=lead.product_line_id,
        team_id=lead.team_id,
        owner_id=lead.owner_id,
        outcome=outcome,
        outcome_reason=reason,
        outcome_at=outcome_at,
        sales_ready_at=sales_ready_at,
        assigned_at=assigned_at,
        accepted_at=accepted_at,
        first_activity_at=first_activity_at,
    )


def _is_stage(value: str | None) -> bool:
    return value is not None and value.isdigit() and int(value) in lifecycle.STAGES


def _outcome(lead: LeadNow) -> tuple[str | None, str | None]:
    if lead.status == lifecycle.QUALIFIED and lead.status_reason == lifecycle.REASON_CONVERTED:
        return CONVERTED, None
    if lead.status == lifecycle.DISQUALIFIED:
        return DISQUALIFIED, lead.status_reason
    return None, None


# --- The funnel ----------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    """Leads that first entered ``stage`` in the range, and how many of them
    went on (to a later stage; from stage 5, to a conversion)."""

    stage: int
    label: str
    entered: int
    advanced: int

    @property
    def rate(self) -> float | None:
        return self.advanced / self.entered if self.entered else None


@dataclass(frozen=True)
class Outcomes:
    """Leads whose outcome was recorded in the range: converted, and
    disqualified per reason (every reason listed, in the product's order)."""

    converted: int
    disqualified: tuple[tuple[str, str, int], ...]  # (reason code, label, count)

    @property
    def disqualified_total(self) -> int:
        return sum(count for _code, _label, count in self.disqualified)


def _within(moment: int | None, start: int, end: int) -> bool:
    return moment is not None and start <= moment < end


def funnel(facts: Iterable[LeadFact], start: int, end: int) -> list[FunnelStep]:
    """D1: per stage, the leads entering it in [start, end) and how many advanced."""
    entered = dict.fromkeys(STAGES, 0)
    advanced = dict.fromkeys(STAGES, 0)
    for fact in facts:
        for index, stage in enumerate(STAGES):
            if not _within(fact.entered[index], start, end):
                continue
            entered[stage] += 1
            later = any(moment is not None for moment in fact.entered[index + 1 :])
            if later or (stage == STAGES[-1] and fact.outcome == CONVERTED):
                advanced[stage] += 1
    return funnel_of({stage: (entered[stage], advanced[stage]) for stage in STAGES})


def funnel_of(counts: dict[int, tuple[int, int]]) -> list[FunnelStep]:
    """D1: the funnel from (entered, advanced) per stage, as a database counts them."""
    return [FunnelStep(stage, lifecycle.STAGES[stage], *counts.get(stage, (0, 0))) for stage in STAGES]


def outcomes(facts: Iterable[LeadFact], start: int, end: int) -> Outcomes:
    """D1: the outcomes recorded in [start, end)."""
    return outcomes_of(
        (fact.outcome, fact.outcome_reason, 1) for fact in facts if _within(fact.outcome_at, start, end)
    )


def outcomes_of(counts: Iterable[tuple[str | None, str | None, int]]) -> Outcomes:
    """D1: the outcomes from (outcome, reason, leads) counts of the range, as
    a database groups them (``outcomes`` counts each fact as one)."""
    converted = 0
    reasons: dict[str, int] = defaultdict(int)
    for outcome, reason, count in counts:
        if outcome == CONVERTED:
            converted += count
        elif outcome == DISQUALIFIED:
            reasons[reason or "other"] += count
    known = list(lifecycle.DISQUALIFY_REASONS)
    codes = known + sorted(set(reasons) - set(known))
    labels = lifecycle.STATUS_REASONS
    return Outcomes(converted, tuple((code, labels.get(code, code), reasons[code]) for code in codes))


# --- Time in stage and speed to lead -------------------------------------------


@dataclass(frozen=True)
class Spread:
    """How many durations (seconds), their median and 90th percentile."""

    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        ordered = sorted(values)  # once: percentile's own sort of a sorted list is then linear
        return cls(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


@dataclass(frozen=True)
class StageTime:
    stage: int
    label: str
    spread: Spread


def time_in_stage(facts: Iterable[LeadFact], start: int, end: int) -> list[StageTime]:
    """D1: per stage, the stays that ended in [start, end) (first entry to first
    exit), as median and 90th percentile."""
    durations: dict[int, list[int]] = {stage: [] for stage in STAGES}
    for fact in facts:
        for index, stage in enumerate(STAGES):
            came, went = fact.entered[index], fact.left[index]
            if came is not None and _within(went, start, end):
                durations[stage].append(went - came)
    return stage_times(durations)


def stage_times(durations: dict[int, list[int]]) -> list[StageTime]:
    """D1: per stage, the median and 90th percentile of the stays (seconds)."""
    return [
        StageTime(stage, lifecycle.STAGES[stage], Spread.of(durations.get(stage, []))) for stage in STAGES
    ]


@dataclass(frozen=True)
class Speed:
    """D1 speed to lead for one rep or team (``key``; None: nobody), over the
    leads that became sales-ready in the range: from sales-ready to assigned,
    to accepted and to the first logged activity."""

    key: int | None
    leads: int
    assigned: Spread
    accepted: Spread
    first_activity: Spread


def speed_to_lead(
    facts: Iterable[LeadFact], start: int, end: int, key: Callable[[LeadFact], int | None]
) -> tuple[list[Speed], Speed]:
    """D1: speed to lead per ``key`` (sorted by key, nobody last) and for all."""
    groups: dict[int | None, list[LeadFact]] = defaultdict(list)
    every: list[LeadFact] = []
    for fact in facts:
        if _within(fact.sales_ready_at, start, end):
            groups[key(fact)].append(fact)
            every.append(fact)
    order = sorted(groups, key=lambda group: (group is None, group or 0))
    return [_speed(group, groups[group]) for group in order], _speed(None, every)


def _speed(key: int | None, facts: list[LeadFact]) -> Speed:
    def since_ready(name: str) -> list[int]:
        return [getattr(f, name) - f.sales_ready_at for f in facts if getattr(f, name) is not None]

    return Speed(
        key,
        len(facts),
        Spread.of(since_ready("assigned_at")),
        Spread.of(since_ready("accepted_at")),
        Spread.of(since_ready("first_activity_at")),
    )


def speeds(rows: Sequence[tuple], key: int = 0) -> tuple[list[Speed], Speed]:
    """D1: ``speed_to_lead`` from rows read already narrowed to the leads that
    became sales-ready in the range, each ending with its seconds to assigned,
    to accepted and to first activity (None where it did not happen), grouped
    by its column ``key``. Same figures, no facts."""
    groups: dict[int | None, list[tuple]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    order = sorted(groups, key=lambda group: (group is None, group or 0))

    def speed(group: int | None, members: Sequence[tuple]) -> Speed:
        spans = [
            Spread.of([row[index] for row in members if row[index] is not None]) for index in (-3, -2, -1)
        ]
        return Speed(group, len(members), *spans)

    return [speed(group, groups[group]) for group in order], speed(None, rows)


def speeds_by_rep_and_team(rows: Iterable[tuple]) -> tuple[list[Speed], list[Speed], Speed]:
    """D1: ``speeds`` per rep (column 0), per team (column 1) and for all at
    once, from rows ``(rep, team, to assigned, to accepted, to first activity)``:
    one pass groups them per (rep, team), each group's spans sorted once, and
    a rep's, a team's and everyone's sorted lists are merges of those (sorting
    sorted runs is nearly linear). Same figures as ``speeds``."""
    cells: dict[tuple, list] = {}
    for rep, team, assigned, accepted, first_activity in rows:
        cell = cells.get((rep, team))
        if cell is None:
            cell = cells[(rep, team)] = [0, [], [], []]
        cell[0] += 1
        if assigned is not None:
            cell[1].append(assigned)
        if accepted is not None:
            cell[2].append(accepted)
        if first_activity is not None:
            cell[3].append(first_activity)
    for cell in cells.values():
        for index in (1, 2, 3):
            cell[index].sort()

    def merged(key: int | None, parts: list[list]) -> Speed:
        spans = []
        for index in (1, 2, 3):
            values = parts[0][index] if len(parts) == 1 else sorted(v for part in parts for v in part[index])
            spans.append(Spread(len(values), _interpolate(values, 0.5), _interpolate(values, 0.9)))
        return Speed(key, sum(part[0] for part in parts), *spans)

    def grouped(position: int) -> list[Speed]:
        groups: dict[int | None, list[list]] = defaultdict(list)
        for key, cell in cells.items():
            groups[key[position]].append(cell)
        order = sorted(groups, key=lambda group: (group is None, group or 0))
        return [merged(group, groups[group]) for group in order]

    return grouped(0), grouped(1), merged(None, list(cells.values()) or [[0, [], [], []]])


# --- Durations as histograms (time in stage read from the rollup) ---------------
#
# A stay's length (whole seconds) is kept as the number of its bucket on a log
# scale: bucket 0 holds 0 (and anything shorter), bucket ``b`` >= 1 the lengths
# from ``RATIO ** (b - 1)`` up to ``RATIO ** b`` (2% wide). A bucket reads back as
# its geometric middle (the one whole second it holds, when it holds one), at
# most 1% off any length in it; a percentile interpolated between the ranks of
# those values is then within 1% of the exact one (its weights are those of the
# exact one, and no value moves by more than 1%), and the count is exact.

RATIO = 1.02
PRECISION = RATIO**0.5 - 1  # the worst relative error of a bucket's value: 0.995%
_LOG_RATIO = math.log(RATIO)


def bucket_of(seconds: int) -> int:
    """The bucket of a length of ``seconds`` (0 for none or less)."""
    if seconds < 1:
        return 0
    bucket = 1 + int(math.log(seconds) / _LOG_RATIO)
    # Guard the float rounding at a bucket's edge: its own bounds decide.
    if seconds < RATIO ** (bucket - 1):
        bucket -= 1
    elif seconds >= RATIO**bucket:
        bucket += 1
    return bucket


def bucket_value(bucket: int) -> float:
    """What a bucket reads back as: 0, the one whole second it holds, or its geometric middle."""
    if bucket <= 0:
        return 0
    low, high = RATIO ** (bucket - 1), RATIO**bucket
    first, last = math.ceil(low), math.ceil(high) - 1
    if first == last:
        return first
    return RATIO ** (bucket - 0.5)


def histogram_percentile(counts: dict[int, int], q: float) -> float | None:
    """``percentile`` of the values a histogram (``{bucket: count}``) stands for,
    each read as its bucket's value: the same ranks, the same interpolation."""
    total = sum(counts.values())
    if not total:
        return None
    position = (total - 1) * q
    low, high = math.floor(position), math.ceil(position)
    found: dict[int, float] = {}
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count <= 0:
            continue
        for rank in (low, high):
            if rank not in found and seen <= rank < seen + count:
                found[rank] = bucket_value(bucket)
        seen += count
        if high in found:
            break
    return found[low] + (found[high] - found[low]) * (position - low)


def spread_of_histogram(counts: dict[int, int]) -> Spread:
    """The ``Spread`` of the lengths a histogram counts (within ``PRECISION``)."""
    return Spread(sum(counts.values()), histogram_percentile(counts, 0.5), histogram_percentile(counts, 0.9))


def stage_times_of_histograms(counts: dict[int, dict[int, int]]) -> list[StageTime]:
    """D1: time in stage from per-stage histograms (``{stage: {bucket: count}}``)."""
    return [
        StageTime(stage, lifecycle.STAGES[stage], spread_of_histogram(counts.get(stage, {})))
        for stage in STAGES
    ]


FUNNEL = 10  # a block's kind for the entries into a stage: FUNNEL + stage


def fact_cells(
    entered: Sequence[int | None], left: Sequence[int | None], outcome: str | None
) -> list[tuple[int, int, int]]:
    """What one fact (its entries and exits per stage, its outcome) adds to the
    day blocks, as (kind, day number, bucket): per stay it ended, (stage, the
    day it ended, its length's bucket); per stage it entered, (``FUNNEL`` +
    stage, the day it first entered, 1 if it went on as ``funnel`` counts, else 0)."""
    cells = []
    for index, stage in enumerate(STAGES):
        came, went = entered[index], left[index]
        if came is None:
            continue
        if went is not None:
            cells.append((stage, went // DAY, bucket_of(went - came)))
        later = any(moment is not None for moment in entered[index + 1 :])
        went_on = later or (stage == STAGES[-1] and outcome == CONVERTED)
        cells.append((FUNNEL + stage, came // DAY, 1 if went_on else 0))
    return cells


def day_histograms(facts: Iterable[LeadFact], start: int, end: int) -> dict[int, dict[int, int]]:
    """Per kind, ``{bucket: count}`` of the cells of ``facts`` whose day falls
    in [start, end) (whole days): what summing the day blocks of the range gives."""
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    first, last = start // DAY, (end - 1) // DAY
    for fact in facts:
        for kind, day, bucket in fact_cells(fact.entered, fact.left, fact.outcome):
            if first <= day <= last:
                counts[kind][bucket] = counts[kind].get(bucket, 0) + 1
    return dict(counts)


def funnel_of_histograms(counts: dict[int, dict[int, int]]) -> list[FunnelStep]:
    """D1: the funnel from the day blocks' entries (bucket 1: went on)."""
    steps = {}
    for stage in STAGES:
        entries = counts.get(FUNNEL + stage, {})
        steps[stage] = (entries.get(0, 0) + entries.get(1, 0), entries.get(1, 0))
    return funnel_of(steps)


LEVELS = 9  # blocks of 1, 2, 4 ... 256 days


def day_blocks(first: int, last: int) -> list[tuple[int, int]]:
    """The days ``first`` to ``last`` (day numbers, both included) as the fewest
    aligned blocks (``(level, index)``: the days ``index * 2**level`` to
    ``(index + 1) * 2**level - 1``), at most two of each size. Empty when
    ``last`` comes before ``first``."""
    blocks = []
    day = first
    while day <= last:
        level = 0
        while level + 1 < LEVELS and day % (1 << (level + 1)) == 0 and day + (1 << (level + 1)) - 1 <= last:
            level += 1
        blocks.append((level, day >> level))
        day += 1 << level
    return blocks


def block_cells(cells: Iterable[tuple[int, ...]]) -> dict[tuple[int, int, int, int, int, int], int]:
    """Cells (kind, day, bucket), or (kind, day, bucket, rep, team) for speed
    to lead, counted in every block that holds their day:
    ``{(level, index, kind, bucket, rep, team): count}``, what the rollup
    stores (rep and team 0 where the cell has none)."""
    counted: dict[tuple[int, int, int, int, int, int], int] = defaultdict(int)
    for cell in cells:
        kind, day, bucket = cell[0], cell[1], cell[2]
        rep, team = (cell[3], cell[4]) if len(cell) > 3 else (0, 0)
        for level in range(LEVELS):
            counted[(level, day >> level, kind, bucket, rep, team)] += 1
    return dict(counted)


# Speed to lead in the day blocks: per rep and team (0: nobody, no team), on
# the day the lead became sales-ready, ``SPEED`` (bucket 0) counts the leads and
# ``SPEED`` + 1, 2, 3 the log bucket of the span to assigned, to accepted and to
# the first activity, as time in stage's stays are kept.
SPEED = 20
SPANS = (SPEED + 1, SPEED + 2, SPEED + 3)


def speed_cells(
    rep: int | None,
    team: int | None,
    sales_ready_at: int | None,
    assigned_at: int | None,
    accepted_at: int | None,
    first_activity_at: int | None,
) -> list[tuple[int, int, int, int, int]]:
    """What one fact adds to the day blocks for speed to lead, as (kind, day
    number, bucket, rep, team): nothing unless it became sales-ready."""
    if sales_ready_at is None:
        return []
    day, rep, team = sales_ready_at // DAY, rep or 0, team or 0
    cells = [(SPEED, day, 0, rep, team)]
    for kind, moment in zip(SPANS, (assigned_at, accepted_at, first_activity_at), strict=True):
        if moment is not None:
            cells.append((kind, day, bucket_of(moment - sales_ready_at), rep, team))
    return cells


def speed_histograms(
    facts: Iterable[LeadFact], start: int, end: int
) -> dict[tuple, dict[int, dict[int, int]]]:
    """Per (rep, team) (0: none), per kind, ``{bucket: count}`` of the speed
    cells of ``facts`` whose day falls in [start, end): what summing the day
    blocks of the range gives."""
    counts: dict[tuple, dict[int, dict[int, int]]] = {}
    first, last = start // DAY, (end - 1) // DAY
    for fact in facts:
        spans = (fact.assigned_at, fact.accepted_at, fact.first_activity_at)
        for kind, day, bucket, rep, team in speed_cells(
            fact.owner_id, fact.team_id, fact.sales_ready_at, *spans
        ):
            if first <= day <= last:
                histogram = counts.setdefault((rep, team), {}).setdefault(kind, {})
                histogram[bucket] = histogram.get(bucket, 0) + 1
    return counts


def speeds_of_histograms(
    counts: dict[tuple, dict[int, dict[int, int]]],
) -> tuple[list[Speed], list[Speed], Speed]:
    """D1: speed to lead per rep, per team and for all (as
    ``speeds_by_rep_and_team``) from the histograms per (rep, team) (0: none):
    the counts exact, each median and 90th percentile within ``PRECISION``."""

    def merged(key: int | None, parts: list[dict[int, dict[int, int]]]) -> Speed:
        spans = []
        for kind in SPANS:
            histogram: dict[int, int] = {}
            for part in parts:
                for bucket, count in part.get(kind, {}).items():
                    histogram[bucket] = histogram.get(bucket, 0) + count
            spans.append(spread_of_histogram(histogram))
        return Speed(key, sum(part.get(SPEED, {}).get(0, 0) for part in parts), *spans)

    def grouped(position: int) -> list[Speed]:
        groups: dict[int | None, list] = defaultdict(list)
        for key, part in counts.items():
            if part.get(SPEED, {}).get(0, 0):
                groups[key[position] or None].append(part)
        order = sorted(groups, key=lambda group: (group is None, group or 0))
        return [merged(group, groups[group]) for group in order]

    return grouped(0), grouped(1), merged(None, list(counts.values()))


# --- Rep days: load and SLA ------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """One assignment as the daily rollup reads it: the rep held the lead from
    ``created`` until ``until`` (its end or the lead's outcome, None: still),
    with what ended it (``OVERDUE``, ``DECLINED``, ``REASSIGNED`` or None)."""

    rep_id: int
    created: int
    until: int | None = None
    accepted: int | None = None
    ended: int | None = None
    ended_as: str | None = None
    product_line_id: int | None = None
    team_id: int | None = None


@dataclass
class RepDay:
    """One rep's day (UTC) on one product line: open leads at the day's end and
    the day's assignments, accepts, time-outs, declines and hand re-assignments."""

    day: dt.date
    rep_id: int
    product_line_id: int | None
    team_id: int | None
    open_leads: int = 0
    assigned: int = 0
    accepted: int = 0
    overdue: int = 0
    declined: int = 0
    reassigned: int = 0

    def is_empty(self) -> bool:
        return not any(
            (self.open_leads, self.assigned, self.accepted, self.overdue, self.declined, self.reassigned)
        )


def rep_days(intervals: Iterable[Interval], first: dt.date, last: dt.date) -> list[RepDay]:
    """The rep days from ``first`` to ``last`` (both included) with anything in
    them: a lead counts as open on a day when its rep held it at the day's end."""
    origin = day_start(first)
    count = (last - first).days + 1
    cells: dict[tuple[int, int | None, int | None], list[RepDay]] = {}
    opened: dict[tuple[int, int | None, int | None], list[int]] = {}  # +1 where a hold starts, -1 after

    def row(interval: Interval) -> list[RepDay]:
        key = (interval.rep_id, interval.product_line_id, interval.team_id)
        if key not in cells:
            cells[key] = [RepDay(first + dt.timedelta(days=index), *key) for index in range(count)]
            opened[key] = [0] * (count + 1)
        return cells[key]

    def index_of(moment: int | None) -> int | None:
        if moment is None:
            return None
        index = (moment - origin) // DAY
        return index if 0 <= index < count else None

    for interval in intervals:
        days = row(interval)
        # Open at the end of day i when created < end(i) <= until.
        low = max(0, (interval.created - origin) // DAY)
        high = count - 1 if interval.until is None else min(count - 1, (interval.until - origin) // DAY - 1)
        if low <= high:
            changes = opened[(interval.rep_id, interval.product_line_id, interval.team_id)]
            changes[low] += 1
            changes[high + 1] -= 1
        for moment, name in ((interval.created, "assigned"), (interval.accepted, "accepted")):
            index = index_of(moment)
            if index is not None:
                setattr(days[index], name, getattr(days[index], name) + 1)
        index = index_of(interval.ended)
        if index is not None and interval.ended_as in (OVERDUE, DECLINED, REASSIGNED):
            setattr(days[index], interval.ended_as, getattr(days[index], interval.ended_as) + 1)
    for key, days in cells.items():
        running = 0
        for index, day in enumerate(days):
            running += opened[key][index]
            day.open_leads = running
    return [day for days in cells.values() for day in days if not day.is_empty()]


@dataclass(frozen=True)
class Week:
    """SLA of one week (from its Monday): time-outs, declines, re-assignments."""

    start: dt.date
    overdue: int
    declined: int
    reassigned: int


@dataclass(frozen=True)
class RepSla:
    rep_id: int
    assigned: int
    accepted: int
    overdue: int
    declined: int
    reassigned: int


def weekly_sla(days: Iterable[RepDay], first: dt.date, last: dt.date) -> tuple[list[Week], list[RepSla]]:
    """D1: per week of the range (every week, empty ones too) and per rep, the
    leads not accepted in time (R6), declined and re-assigned by hand."""
    monday = first - dt.timedelta(days=first.weekday())
    weeks: dict[dt.date, list[int]] = {}
    while monday <= last:
        weeks[monday] = [0, 0, 0]
        monday += dt.timedelta(days=7)
    reps: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    week_of: dict[dt.date, list[int]] = {}
    for day in days:
        if not (day.overdue or day.declined or day.reassigned or day.assigned or day.accepted):
            continue  # most rep days only carry open leads
        if not first <= day.day <= last:
            continue
        week = week_of.get(day.day)
        if week is None:
            week = week_of[day.day] = weeks[day.day - dt.timedelta(days=day.day.weekday())]
        for index, value in enumerate((day.overdue, day.declined, day.reassigned)):
            week[index] += value
        totals = reps[day.rep_id]
        for index, value in enumerate(
            (day.assigned, day.accepted, day.overdue, day.declined, day.reassigned)
        ):
            totals[index] += value
    return (
        [Week(start, *counts) for start, counts in weeks.items()],
        [RepSla(rep, *reps[rep]) for rep in sorted(reps)],
    )


@dataclass(frozen=True)
class RepLoad:
    """D1: one rep's open leads at the end of each day of the range, against capacity."""

    rep_id: int
    capacity: int
    open_leads: tuple[int, ...] = field(default_factory=tuple)

    @property
    def peak(self) -> int:
        return max(self.open_leads, default=0)

    @property
    def average(self) -> float:
        return sum(self.open_leads) / len(self.open_leads) if self.open_leads else 0.0

    @property
    def days_full(self) -> int:
        """Days the rep ended at or over capacity."""
        return sum(1 for value in self.open_leads if self.capacity and value >= self.capacity)


def rep_load(
    days: Iterable[RepDay], first: dt.date, last: dt.date, capacities: dict[int, int]
) -> list[RepLoad]:
    """Per rep (those with a capacity, plus any with leads), the open leads of
    each day from ``first`` to ``last``, summed over product lines."""
    count = (last - first).days + 1
    series: dict[int, list[int]] = {rep: [0] * count for rep in capacities}
    for day in days:
        index = (day.day - first).days
        if 0 <= index < count:
            series.setdefault(day.rep_id, [0] * count)[index] += day.open_leads
    return [RepLoad(rep, capacities.get(rep, 0), tuple(series[rep])) for rep in sorted(series)]
