"""Managing intake (M1, M3, C3–C6): saving and removing matching strategies,
saving capture sources (their key, webhook field mapping and strategies) and
automatic lead rules, and the lists of the intake pages. A refused write
raises ``IntakeError``, which the views turn into inline errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import peewee as pw

from leads.base.db import transaction, utcnow
from leads.core import matching
from leads.core.matching import CONTACT, LEAD
from leads.intake.capture import CAPTURE_FIELDS, CONSENT
from leads.intake.match_keys import rebuild_index
from leads.intake.match_or_create import _column
from leads.intake.models import EVENT, CaptureSource, MatchingStrategyRecord, MatchKey


class IntakeError(Exception):
    """A management write refused: ``errors`` are ``(field, reason)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(reason for _, reason in errors))
        self.errors = errors


def parse_fields(text: str) -> tuple[str, ...]:
    """``"email, source"`` → ``("email", "source")`` (order kept)."""
    return tuple(part.strip() for part in (text or "").replace("+", ",").split(",") if part.strip())


def save_strategy(
    name: str, entity: str, fields: Sequence[str], is_default: bool, row: MatchingStrategyRecord | None = None
) -> MatchingStrategyRecord:
    """M1/M3: create or change a strategy. Making it the default unsets the
    entity's old default; the default itself cannot be un-defaulted (choose
    another one instead). Its keys are rebuilt when its fields change."""
    core = matching.MatchingStrategy(row.id if row else 0, name.strip(), entity, tuple(fields), is_default)
    errors = matching.strategy_errors(core)
    if row is not None and row.is_default and not is_default:
        errors.append(
            ("is_default", "Each entity keeps one default: make another strategy the default instead.")
        )
    if row is not None and row.entity != entity:
        errors.append(("entity", "A strategy keeps its entity type: create a new one instead."))
    clash = MatchingStrategyRecord.select().where(
        (MatchingStrategyRecord.name == name.strip()) & (MatchingStrategyRecord.id != (row.id if row else 0))
    )
    if clash.exists():
        errors.append(("name", "A strategy with this name already exists."))
    if errors:
        raise IntakeError(errors)
    refields = row is None or tuple(row.fields) != core.fields
    with transaction():
        if is_default:
            MatchingStrategyRecord.update(is_default=False).where(
                (MatchingStrategyRecord.entity == entity) & (MatchingStrategyRecord.is_default == True)  # noqa: E712
            ).execute()
        if row is None:
            row = MatchingStrategyRecord.create(
                name=core.name, entity=entity, fields=list(core.fields), is_default=is_default
            )
        else:
            MatchingStrategyRecord.update(
                name=core.name, fields=list(core.fields), is_default=is_default, updated_at=utcnow()
            ).where(MatchingStrategyRecord.id == row.id).execute()
        if refields:
            rebuild_index(row.id)
    return MatchingStrategyRecord.get_by_id(row.id)


def delete_strategy(row: MatchingStrategyRecord) -> None:
    """Remove a strategy that is not the default; sources that chose it drop it."""
    if row.is_default:
        raise IntakeError(
            [("is_default", "The default strategy cannot be removed: make another the default first.")]
        )
    with transaction():
        for source in CaptureSource.select():
            contact = [i for i in source.contact_strategies if i != row.id]
            lead = [i for i in source.lead_strategies if i != row.id]
            if contact != source.contact_strategies or lead != source.lead_strategies:
                CaptureSource.update(contact_strategies=contact, lead_strategies=lead).where(
                    CaptureSource.id == source.id
                ).execute()
        MatchKey.delete().where(MatchKey.strategy == str(row.id)).execute()
        row.delete_instance()


def new_source_key() -> str:
    """An unguessable public key for a capture source's URL."""
    import secrets

    return secrets.token_urlsafe(24)


def parse_mapping(text: str) -> dict[str, str]:
    """C5: the webhook's field mapping from its JSON text (their field → our field)."""
    if not (text or "").strip():
        return {}
    try:
        mapping = json.loads(text)
    except ValueError as error:
        raise IntakeError([("field_mapping", f"Not valid JSON: {error.msg}.")]) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise IntakeError(
            [("field_mapping", 'Give a JSON object of their field to ours, e.g. {"mail": "email"}.')]
        )
    return _checked_mapping(mapping)


def mapping_from_rows(rows: Sequence[tuple[str, str]]) -> dict[str, str]:
    """C5: the field mapping from the form's rows of (their field, our field);
    a row needs both, and each of their fields is mapped once."""
    mapping: dict[str, str] = {}
    for theirs, ours in rows:
        if not theirs or not ours:
            raise IntakeError([("field_mapping", "Each row needs their field and ours.")])
        if theirs in mapping:
            raise IntakeError([("field_mapping", f"Their field {theirs!r} is mapped twice.")])
        mapping[theirs] = ours
    return _checked_mapping(mapping)


def _checked_mapping(mapping: dict[str, str]) -> dict[str, str]:
    ours = set(CAPTURE_FIELDS) | {CONSENT}
    unknown = sorted(v for v in mapping.values() if v not in ours)
    if unknown:
        raise IntakeError(
            [
                (
                    "field_mapping",
                    f"Not one of our fields: {', '.join(unknown)} (use {', '.join(sorted(ours))}).",
                )
            ]
        )
    return mapping


SOURCE_FIELDS = (
    "name",
    "kind",
    "event_id",
    "field_mapping",
    "contact_strategies",
    "lead_strategies",
    "campaign_id",
    "product_line_id",
    "creates_lead",
    "update_policy",
    "thank_you_url",
    "active",
)


def save_source(values: Mapping, row: CaptureSource | None = None) -> CaptureSource:
    """C3–C5: create or change a capture source from cleaned form values (the key
    is made once, at creation)."""
    errors = []
    if values["kind"] == EVENT and not (values.get("event_id") or "").strip():
        errors.append(("event_id", "An event registration needs the event's id."))
    if values["update_policy"] not in matching.UPDATE_POLICIES:
        errors.append(("update_policy", "Choose an update policy."))
    for name, entity in (("contact_strategies", CONTACT), ("lead_strategies", LEAD)):
        ids = values.get(name) or []
        found = (
            MatchingStrategyRecord.select()
            .where(MatchingStrategyRecord.id.in_(ids) & (MatchingStrategyRecord.entity == entity))
            .count()
            if ids
            else 0
        )
        if found != len(set(ids)):
            errors.append((name, f"Choose {entity} strategies only."))
    url = (values.get("thank_you_url") or "").strip()
    if url and not (url.startswith("https://") or url.startswith("http://") or url.startswith("/")):
        errors.append(("thank_you_url", "Give an http(s) address or a path starting with /."))
    clash = CaptureSource.select().where(
        (CaptureSource.name == values["name"].strip()) & (CaptureSource.id != (row.id if row else 0))
    )
    if clash.exists():
        errors.append(("name", "A source with this name already exists."))
    if errors:
        raise IntakeError(errors)
    data = {name: values.get(name) for name in SOURCE_FIELDS}
    data.update(
        name=values["name"].strip(),
        thank_you_url=url or None,
        event_id=(values.get("event_id") or "").strip() or None,
    )
    data["field_mapping"] = data["field_mapping"] or {}
    with transaction():
        if row is None:
            source_id = CaptureSource.insert(
                {_column(CaptureSource, k): v for k, v in data.items()}
                | {CaptureSource.key: new_source_key()}
            ).execute()
        else:
            source_id = row.id
            CaptureSource.update(
                {_column(CaptureSource, k): v for k, v in data.items()} | {CaptureSource.updated_at: utcnow()}
            ).where(CaptureSource.id == row.id).execute()
    return CaptureSource.get_by_id(source_id)


def capture_sources():
    """Every capture source with its campaign and product line, by name."""
    from leads.records.models import Campaign, ProductLine

    return (
        CaptureSource.select(CaptureSource, Campaign, ProductLine)
        .join_from(CaptureSource, Campaign, pw.JOIN.LEFT_OUTER)
        .join_from(CaptureSource, ProductLine, pw.JOIN.LEFT_OUTER)
        .order_by(CaptureSource.name)
    )


def save_rule(name: str, campaign_id: int | None, product_line_id: int | None, types: Sequence[str]):
    """C6: a new automatic lead rule (a campaign or a product line, not both)."""
    from leads.intake.models import AutoLeadRule

    errors = []
    if bool(campaign_id) == bool(product_line_id):
        errors.append(("campaign", "Choose a campaign or a product line (one of them)."))
    if AutoLeadRule.select().where(AutoLeadRule.name == name.strip()).exists():
        errors.append(("name", "A rule with this name already exists."))
    if errors:
        raise IntakeError(errors)
    with transaction():
        return AutoLeadRule.create(
            name=name.strip(),
            campaign=campaign_id,
            product_line=product_line_id,
            interaction_types=list(types),
        )


def auto_lead_rules():
    """The automatic lead rules (C6), with their campaign and product line."""
    from leads.intake.models import AutoLeadRule
    from leads.records.models import Campaign, ProductLine

    return (
        AutoLeadRule.select(AutoLeadRule, Campaign, ProductLine)
        .join_from(AutoLeadRule, Campaign, pw.JOIN.LEFT_OUTER)
        .join_from(AutoLeadRule, ProductLine, pw.JOIN.LEFT_OUTER)
        .order_by(AutoLeadRule.name)
    )
