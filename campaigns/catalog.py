"""Marketing records kept by marketers: product lines and campaigns.
Names and codes are unique by index; a clash answers with a ``MarketingError``."""

from __future__ import annotations

import peewee as pw

from campaigns.launch import DRAFT, STATUSES
from leads.base.db import db
from leads.core.conditions import validate_segment
from leads.records.models import Campaign, ProductLine
from leads.records.queries import campaigns, product_lines  # noqa: F401  (the pages list them from here)

CAMPAIGN_STATUSES = STATUSES


class MarketingError(ValueError):
    """A refused change; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.field = field


def normalize_code(code: str) -> str:
    """Product line codes are stored trimmed and upper-case."""
    return code.strip().upper()


def save_product_line(name: str, code: str, line: ProductLine | None = None) -> ProductLine:
    """Create a product line, or update ``line``."""
    values = {"name": name.strip(), "code": normalize_code(code)}
    try:
        with db.atomic():
            if line is None:
                return ProductLine.create(**values)
            ProductLine.update(**values).where(ProductLine.id == line.id).execute()
            return ProductLine.get_by_id(line.id)
    except pw.IntegrityError as error:
        raise MarketingError("A product line with this name or code already exists.") from error


def save_campaign(values: dict, campaign: Campaign | None = None) -> Campaign:
    """Create a draft campaign from ``values`` (name, product_line, segment,
    subject, body), or update ``campaign`` while it is a draft."""
    if campaign is not None and campaign.status != DRAFT:
        raise MarketingError("A launched campaign can no longer be changed.")
    if values.get("segment") is not None:
        errors = validate_segment(values["segment"], "segment")
        if errors:
            raise MarketingError("; ".join(f"{e.field}: {e.reason}" for e in errors), field="segment")
    values = {**values, "name": values["name"].strip()}
    try:
        with db.atomic():
            if campaign is None:
                return Campaign.create(**values)
            Campaign.update(**values).where(Campaign.id == campaign.id).execute()
            return Campaign.get_by_id(campaign.id)
    except pw.IntegrityError as error:
        raise MarketingError("A campaign with this name already exists.") from error
