"""The JSON API's answers: records serialised explicitly (no model dumping): the
catalogue fields the API exposes, plus a few keys worked out from the record
(``leads.api.resources.SHOWN_ONLY``), with the names of the rows they point at
loaded once per page (``Names``); times in ISO 8601; a list's page. The response
schemas (``leads.api.openapi``) are built from the same fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from auth.models import Team, User
from leads.api.resources import MODELS, column_of
from leads.core import fields as catalogue
from leads.core import lifecycle
from leads.records.models import Account, Campaign, Contact, Lead, LeadHistory, ProductLine


def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


class Names:
    """Display names of the rows that records point at, loaded in one query per
    model for a whole page (no N+1)."""

    LABELS = {
        Contact: lambda row: row.name,
        Account: lambda row: row.name,
        Campaign: lambda row: row.name,
        ProductLine: lambda row: row.name,
        Team: lambda row: row.name,
        User: lambda row: row.name,
    }

    def __init__(self, wanted: Mapping[type, Iterable[int | None]]):
        self._names: dict[tuple[type, int], str] = {}
        for model, ids in wanted.items():
            ids = {i for i in ids if i is not None}
            if ids:
                label = self.LABELS.get(model, lambda row: row.name)
                for row in model.select().where(model.id.in_(sorted(ids))):
                    self._names[model, row.id] = label(row)

    def ref(self, model: type, row_id: int | None) -> dict | None:
        """``{"id", "name"}`` for a pointed-at row, or None."""
        if row_id is None:
            return None
        return {"id": row_id, "name": self._names.get((model, row_id))}

    @classmethod
    def for_records(cls, record: str, rows: Iterable) -> Names:
        """The names every reference the API shows of ``rows`` (of ``record``) needs."""
        rows = list(rows)
        wanted: dict[type, list] = {}
        for spec, model in _SHOWN_REFS[record]:
            wanted.setdefault(model, []).extend(getattr(row, spec.name) for row in rows)
        return cls(wanted)

    @classmethod
    def for_leads(cls, leads: Iterable[Lead]) -> Names:
        return cls.for_records(catalogue.LEAD, leads)

    @classmethod
    def for_contacts(cls, contacts: Iterable[Contact]) -> Names:
        return cls.for_records(catalogue.CONTACT, contacts)

    @classmethod
    def for_accounts(cls, accounts: Iterable[Account]) -> Names:
        return cls.for_records(catalogue.ACCOUNT, accounts)

    @classmethod
    def for_history(cls, rows: Iterable[LeadHistory]) -> Names:
        return cls({User: (row.actor_id for row in rows)})


# What the API shows of each record: the catalogue's exposed columns, and the
# model each shown reference points at.
_SHOWN = {record: catalogue.exposed(record) for record in MODELS}
_SHOWN_REFS = {
    record: tuple((spec, column_of(record, spec).rel_model) for spec in specs if spec.is_ref)
    for record, specs in _SHOWN.items()
}
_REF_MODELS = {record: {spec.name: model for spec, model in refs} for record, refs in _SHOWN_REFS.items()}


def fields_json(record: str, row, names: Names) -> dict:
    """The catalogue fields the API shows of ``row``: times in ISO 8601, a
    reference as its id (``<attr>_id``) and ``{"id", "name"}`` (``<attr>``)."""
    out: dict = {}
    models = _REF_MODELS[record]
    for spec in _SHOWN[record]:
        value = getattr(row, spec.name)
        if spec.is_ref:
            out[spec.name], out[spec.attr] = value, names.ref(models[spec.name], value)
        else:
            out[spec.name] = iso(value) if spec.type == catalogue.DATE else value
    return out


def lead_json(lead: Lead, names: Names) -> dict:
    """A lead as the API shows it."""
    return {
        "id": lead.id,
        "name": lead.name,
        **fields_json(catalogue.LEAD, lead, names),
        "stage_label": lead.stage_label,
        "status_reason_label": lead.status_reason_label,
        "qualification": dict(lead.qualification or {}),
    }


def contact_json(contact: Contact, names: Names) -> dict:
    """A contact as the API shows it."""
    return {"id": contact.id, "name": contact.name, **fields_json(catalogue.CONTACT, contact, names)}


def account_json(account: Account, names: Names) -> dict:
    """An account as the API shows it."""
    return {"id": account.id, **fields_json(catalogue.ACCOUNT, account, names)}


def history_json(row: LeadHistory, names: Names) -> dict:
    """One P7 history entry: what changed, from, to, who or what rule, when."""
    stage = row.kind == "stage"
    return {
        "id": row.id,
        "kind": row.kind,
        "old_value": row.old_value,
        "new_value": row.new_value,
        "old_label": _stage_name(row.old_value) if stage else None,
        "new_label": _stage_name(row.new_value) if stage else None,
        "actor_id": row.actor_id,
        "actor": names.ref(User, row.actor_id),
        "via": row.via,
        "note": row.note,
        "created_at": iso(row.created_at),
    }


def _stage_name(value: str | None) -> str | None:
    if value is None or not value.isdigit():
        return None
    return lifecycle.STAGES.get(int(value))


def page_json(items: list[dict], page: int, per_page: int, total: int) -> dict:
    """A list answer: ``{"data", "page", "per_page", "total"}``."""
    return {"data": items, "page": page, "per_page": per_page, "total": total}
