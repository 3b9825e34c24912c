"""What every page form shares: ``PageForm`` refuses a NUL character in any of
its text fields (nested rows too), and the email and country fields check with
the same functions as the API, the CSV import and the capture
(``leads.core.validation``), so a value is refused with the same reason
whichever door it came through."""

from __future__ import annotations

from collections.abc import Iterator

from flask_wtf import FlaskForm
from wtforms import Field, FieldList, FormField
from wtforms.validators import ValidationError

from leads.core import validation

NO_COUNTRY = ""  # the value of the "no country" option


class PageForm(FlaskForm):
    """A ``FlaskForm`` whose ``validate`` also refuses, field by field, any text
    holding a NUL (PostgreSQL cannot store one): the error shows inline."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in _leaf_fields(self):
            data = field.data if isinstance(field.data, list | tuple) else [field.data]
            if any(validation.has_nul(value) for value in data):
                field.errors = [validation.NUL_REASON]
                valid = False
        return valid


def _leaf_fields(fields) -> Iterator[Field]:
    for field in fields:
        if isinstance(field, FieldList):
            yield from _leaf_fields(field.entries)
        elif isinstance(field, FormField):
            yield from _leaf_fields(field.form)
        else:
            yield field


class ValidEmail:
    """A WTForms validator: the address in its normalised form, or the shared reason."""

    def __call__(self, form, field) -> None:
        if not field.data:
            return
        checked = validation.check_email(field.data)
        if checked.reason:
            raise ValidationError(checked.reason)
        field.data = checked.value


class ValidCountry:
    """A WTForms validator: an ISO 3166-1 alpha-2 code of the shared list, or its reason."""

    def __call__(self, form, field) -> None:
        if not field.data:
            return
        checked = validation.check_country(field.data)
        if checked.reason:
            raise ValidationError(checked.reason)
        field.data = checked.value


def country_choices(blank: str = "No country") -> list[tuple[str, str]]:
    """The options of a country select: none, then every country by name."""
    return [(NO_COUNTRY, blank)] + [(code, f"{name} ({code})") for code, name in validation.COUNTRIES.items()]
