"""The marketers' dashboard's GET form (D2): the date range (the one of the score
insights, ``OutcomeRangeForm``), the breakdown and the record filters."""

from __future__ import annotations

import datetime as dt

from wtforms import SelectField

from leads.intake.models import CaptureSource
from leads.records.models import Campaign, ProductLine
from leads.scoring.forms import OutcomeRangeForm
from reports.marketing.queries import BREAKDOWNS, SOURCE, Filters
from reports.marketing.services import range_filters

ANY = ("", "Any")


def _id_choices(model) -> list[tuple[str, str]]:
    return [
        ANY,
        *(
            (str(row_id), name)
            for row_id, name in model.select(model.id, model.name).order_by(model.name).tuples()
        ),
    ]


class DashboardForm(OutcomeRangeForm):
    """From, to (both included), breakdown and filters; nothing is stored (no CSRF)."""

    by = SelectField("Break down by", choices=list(BREAKDOWNS.items()), default=SOURCE)
    source = SelectField("Source", choices=[ANY], default="")
    capture_source = SelectField("Capture source", choices=[ANY], default="")
    campaign = SelectField("Campaign", choices=[ANY], default="")
    product_line = SelectField("Product line", choices=[ANY], default="")

    def __init__(self, formdata, default: tuple[dt.date, dt.date], max_days: int):
        super().__init__(formdata, default, max_days)
        if not self.by.data:
            self.by.data = SOURCE
        self.capture_source.choices = _id_choices(CaptureSource)
        self.campaign.choices = _id_choices(Campaign)
        self.product_line.choices = _id_choices(ProductLine)

    def set_sources(self, choices: list[tuple[str, str]]) -> None:
        """The source choices (those seen in the range, read once the range is known)."""
        self.source.choices = [ANY, *choices]

    def dates(self) -> tuple[dt.date, dt.date]:
        """The range asked for, or the default one while a day is invalid."""
        return self.start.data or self.default[0], self.end.data or self.default[1]

    def filters(self) -> Filters | None:
        """What to count, or None when a field is invalid (the errors say why)."""
        if not self.validate():
            return None
        return range_filters(
            self.start.data,
            self.end.data,
            source=self.source.data or None,
            capture_source_id=_id(self.capture_source.data),
            campaign_id=_id(self.campaign.data),
            product_line_id=_id(self.product_line.data),
        )


def _id(value: str | None) -> int | None:
    return int(value) if value else None
