"""The sales dashboard's filters (SPEC D1): a date range (the last 90 days
unless said), a team and a product line; read from the query string (a GET:
nothing is stored, no CSRF)."""

from __future__ import annotations

import datetime as dt

from wtforms import SelectField

from leads.core.numbers import whole_number
from leads.scoring.forms import OutcomeRangeForm


def _choice(raw):
    """A choice's value: "" for every one, else a record id (a bad one fails validation)."""
    if raw in ("", None):
        return ""
    if isinstance(raw, int):
        return raw
    number = whole_number(str(raw))
    if number is None:
        raise ValueError("Not a valid choice.")
    return number


class SalesFilterForm(OutcomeRangeForm):
    """The days whose events count (both included), a team and a product line."""

    team = SelectField("Team", coerce=_choice)
    product_line = SelectField("Product line", coerce=_choice)

    def __init__(self, formdata, default: tuple[dt.date, dt.date], max_days: int, teams, product_lines):
        super().__init__(formdata, default, max_days)
        self.team.choices = [("", "All teams"), *teams]
        self.product_line.choices = [("", "All product lines"), *product_lines]
        for field in (self.team, self.product_line):
            if field.data is None and not field.raw_data:
                field.data = ""

    def values(self) -> dict | None:
        """The filters asked for (``from``, ``to``, ``team``, ``product_line``),
        or None when one is invalid (the errors say why)."""
        days = self.days()
        if days is None:
            return None
        return {
            "start": days[0],
            "end": days[1],
            "team_id": self.team.data or None,
            "product_line_id": self.product_line.data or None,
        }
