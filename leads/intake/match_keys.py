"""The match-key index (M1–M3): each record's key for every stored strategy, in
the ``match_key`` table, so a match is one indexed lookup.

- ``DbIndex`` is ``matching.MatchIndex`` over that table. Records *created*
  elsewhere need nothing: before its first lookup for an entity it indexes the
  records above its watermark (``MatchKeyWatermark``). A key whose record was
  edited elsewhere never decides a match (it is checked against the record),
  but the record's new values are only found once ``index_records`` ran for it.
- Keep one ``DbIndex`` for a whole run: it caches the stored strategies
  (``load_strategies(entity, chosen, index)``) and the records it loaded.
- ``index_records(entity, ids)``: (re)compute the keys of records written by
  other paths (hand edits, bulk inserts); ``rebuild_index(strategy_id)``
  recomputes one strategy's keys for every record (a strategy's fields changed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import peewee as pw

from leads.core import matching
from leads.core.matching import ACCOUNT, CONTACT, LEAD
from leads.intake.models import MatchingStrategyRecord, MatchKey, MatchKeyWatermark
from leads.intake.strategies import stored_strategies, strategy_rows
from leads.records.models import Account, Contact, Lead

MODELS = {CONTACT: Contact, LEAD: Lead, ACCOUNT: Account}
MAX_KEY = 300


def load_strategies(
    entity: str, chosen: Sequence[int] = (), index: DbIndex | None = None
) -> tuple[matching.MatchingStrategy, ...]:
    """M3: the strategies to apply for ``entity``: the stored ones ``chosen`` (in
    order; ids no longer stored are skipped), else the entity's default. With an
    ``index``, its cached list of stored strategies is used (no query)."""
    stored = index.stored(entity) if index is not None else stored_strategies(entity)
    known = {s.id for s in stored}
    picked = [i for i in chosen if i in known]
    return matching.strategies_for(stored, entity, picked)


def _encode(key: tuple) -> str:
    text = matching.encode_key(key)
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def record_values(entity: str, ids: Iterable[int]) -> dict[int, dict]:
    """The records' current values as plain dicts (``*_id`` for foreign keys)."""
    model = MODELS[entity]
    ids = list(ids)
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        for row in model.select().where(model.id.in_(ids[start : start + 500])).dicts():
            out[row["id"]] = _as_values(model, row)
    return out


def _as_values(model, row: Mapping) -> dict:
    values = {}
    for name, value in row.items():
        model_field = model._meta.fields.get(name)
        values[f"{name}_id" if isinstance(model_field, pw.ForeignKeyField) else name] = value
    if model is Lead:
        values.setdefault("company", row.get("company"))
    return values


def _key_rows(entity: str, record_id: int, values: Mapping, strategies, region) -> list[dict]:
    rows = []
    for strategy in strategies:
        key = matching.match_key(strategy, values, region)
        if key is not None:
            rows.append(dict(entity=entity, strategy=str(strategy.id), key=_encode(key), record_id=record_id))
    return rows


def index_records(
    entity: str,
    ids: Iterable[int],
    default_region: str | None = None,
    *,
    strategies: Sequence[matching.MatchingStrategy] | None = None,
    values: Mapping[int, Mapping] | None = None,
) -> None:
    """(Re)compute the match keys of these records for every stored strategy of
    ``entity`` (call it after writing records by another path). A key another
    record already owns stays with that record (the oldest wins). ``strategies``
    and ``values`` save the queries when the caller has them."""
    ids = sorted(set(ids))
    if not ids:
        return
    if strategies is None:
        strategies = [row.to_core() for row in strategy_rows(entity)]
    if values is None:
        values = record_values(entity, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        MatchKey.delete().where((MatchKey.entity == entity) & MatchKey.record_id.in_(chunk)).execute()
    rows = [
        r
        for record_id in ids
        if record_id in values
        for r in _key_rows(entity, record_id, values[record_id], strategies, default_region)
    ]
    for start in range(0, len(rows), 200):
        MatchKey.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()


def rebuild_index(strategy_id: int) -> int:
    """Recompute one stored strategy's keys for every record of its entity (after
    its fields changed, or when it is new). Returns how many keys it holds."""
    strategy = MatchingStrategyRecord.get_by_id(strategy_id).to_core()
    model = MODELS[strategy.entity]
    MatchKey.delete().where(MatchKey.strategy == str(strategy.id)).execute()
    last, count = 0, 0
    while True:
        rows = list(model.select().where(model.id > last).order_by(model.id).limit(1000).dicts())
        if not rows:
            return count
        keys = [
            r
            for row in rows
            for r in _key_rows(strategy.entity, row["id"], _as_values(model, row), [strategy], None)
        ]
        for start in range(0, len(keys), 200):
            MatchKey.insert_many(keys[start : start + 200]).on_conflict_ignore().execute()
        count += len(keys)
        last = rows[-1]["id"]


class DbIndex:
    """``matching.MatchIndex`` over the ``match_key`` table (an indexed lookup).

    Before its first lookup for an entity it indexes the records created by
    other paths since the last time (the watermark). A key whose record was
    edited elsewhere or deleted is dropped when met (and the record re-keyed),
    so a stale key never decides a match."""

    def __init__(self, default_region: str | None = None):
        self.default_region = default_region
        self.loaded: dict[tuple[str, int], dict] = {}
        self._caught_up: set[str] = set()
        self._stored: dict[str, list[matching.MatchingStrategy]] = {}

    def stored(self, entity: str) -> list[matching.MatchingStrategy]:
        """The stored strategies of ``entity``, read once per index."""
        if entity not in self._stored:
            self._stored[entity] = stored_strategies(entity)
        return self._stored[entity]

    def lookup(self, strategy: matching.MatchingStrategy, key: tuple) -> list[int]:
        """Ids of the records of ``strategy.entity`` whose current key is ``key``."""
        entity = strategy.entity
        self.catch_up(entity)
        ids = [
            record_id
            for (record_id,) in MatchKey.select(MatchKey.record_id)
            .where(
                (MatchKey.entity == entity)
                & (MatchKey.strategy == str(strategy.id))
                & (MatchKey.key == _encode(key))
            )
            .tuples()
        ]
        if not ids:
            return []
        values = record_values(entity, ids)
        found = []
        for record_id in ids:
            current = values.get(record_id)
            if current is not None and matching.match_key(strategy, current, self.default_region) == key:
                self.loaded[(entity, record_id)] = current
                found.append(record_id)
            else:
                if current is None:
                    _drop_keys(entity, [record_id])
                else:
                    index_records(entity, [record_id], self.default_region, strategies=self.stored(entity))
        return found

    def catch_up(self, entity: str) -> None:
        """Index the records of ``entity`` above the watermark (written by other paths)."""
        if entity in self._caught_up:
            return
        self._caught_up.add(entity)
        last = (
            MatchKeyWatermark.select(MatchKeyWatermark.last_id)
            .where(MatchKeyWatermark.entity == entity)
            .scalar()
        )
        if last is None:
            MatchKeyWatermark.insert(entity=entity, last_id=0).on_conflict_ignore().execute()
            last = 0
        model = MODELS[entity]
        while True:
            ids = [
                i
                for (i,) in model.select(model.id)
                .where(model.id > last)
                .order_by(model.id)
                .limit(1000)
                .tuples()
            ]
            if not ids:
                return
            index_records(entity, ids, self.default_region, strategies=self.stored(entity))
            MatchKeyWatermark.update(last_id=ids[-1]).where(
                (MatchKeyWatermark.entity == entity) & (MatchKeyWatermark.last_id < ids[-1])
            ).execute()
            last = ids[-1]

    def values_of(self, entity: str, record_id: int) -> dict:
        """The record's current values (loaded by the lookup that found it)."""
        if (entity, record_id) not in self.loaded:
            self.loaded[(entity, record_id)] = record_values(entity, [record_id])[record_id]
        return self.loaded[(entity, record_id)]


def _drop_keys(entity: str, ids: list[int]) -> None:
    MatchKey.delete().where((MatchKey.entity == entity) & MatchKey.record_id.in_(ids)).execute()


def _advance_watermark(entity: str, record_id: int) -> None:
    """A record intake created and indexed itself: move the watermark past it when
    nothing lies between (a gap is left for ``catch_up`` to index)."""
    MatchKeyWatermark.update(last_id=record_id).where(
        (MatchKeyWatermark.entity == entity) & (MatchKeyWatermark.last_id == record_id - 1)
    ).execute()
