"""Forms of the marketers' pages: product lines and campaigns."""

from __future__ import annotations

from collections.abc import Mapping

from wtforms import FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from campaigns.catalog import normalize_code, product_lines
from leads.core import conditions
from leads.records.models import Campaign, ProductLine
from web.condition_forms import (
    JOIN_CHOICES,
    BuilderForm,
    ConditionRow,
    choice_field,
    condition_from_row,
    condition_row_data,
    is_flat,
)
from web.forms import PageForm


class _RecordForm(PageForm):
    """A form editing one record (``record_id``) or creating one (None)."""

    def __init__(self, *args, record_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_id = record_id

    def _taken(self, query, model) -> bool:
        return query.where(model.id != (self.record_id or 0)).exists()


class ProductLineForm(_RecordForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    code = StringField(
        "Code",
        description="Short and unique, e.g. CRM.",
        validators=[
            DataRequired(),
            Length(max=20),
            Regexp(r"^\s*[A-Za-z0-9_-]+\s*\Z", message="Use letters, digits, - and _ only."),
        ],
    )

    def validate_name(self, field):
        if self._taken(ProductLine.select().where(ProductLine.name == field.data.strip()), ProductLine):
            raise ValidationError("A product line with this name already exists.")

    def validate_code(self, field):
        code = normalize_code(field.data)
        if self._taken(ProductLine.select().where(ProductLine.code == code), ProductLine):
            raise ValidationError("A product line with this code already exists.")


MAX_SEGMENT_ROWS = 50


def segment_is_editable_here(segment: Mapping | None) -> bool:
    """Whether the row builder can show ``segment``: none, one condition, or one
    AND/OR list of conditions (nested groups only come through the API)."""
    return segment is None or not conditions.is_group(segment) or is_flat(segment)


class CampaignForm(BuilderForm, _RecordForm):
    """A draft campaign: name, product line, audience segment (rows of conditions
    joined by AND or OR; none: every contact with an email) and message."""

    name = StringField("Name", validators=[DataRequired(), Length(max=150)])
    product_line = SelectField("Product line", choices=[])
    segment_op = choice_field("Contacts that match", JOIN_CHOICES, default=conditions.AND)
    segment = FieldList(FormField(ConditionRow), max_entries=MAX_SEGMENT_ROWS)
    subject = StringField("Email subject", validators=[Optional(), Length(max=200)])
    body = TextAreaField("Email body", validators=[Optional(), Length(max=20000)])

    path_aliases = {"segment.items": "segment", "segment.op": "segment_op"}

    def __init__(self, *args, keep_segment: bool = False, **kwargs):
        """``keep_segment``: the stored segment is one the builder cannot show
        (nested groups); the form then leaves it as it is."""
        super().__init__(*args, **kwargs)
        self.keep_segment = keep_segment
        self.product_line.choices = [("", "None")] + [(str(line.id), line.name) for line in product_lines()]

    @property
    def product_line_id(self) -> int | None:
        """The chosen product line's id, or None."""
        data = str(self.product_line.data or "")
        return int(data) if data.isdigit() else None

    @property
    def segment_value(self) -> dict | None:
        """The segment the rows stand for, as ``Campaign.segment`` stores it
        (None: no rows, everyone)."""
        items = [condition_from_row(row.form) for row in self.segment]
        return {"op": self.segment_op.data, "items": items} if items else None

    @property
    def values(self) -> dict:
        """What a marketer may set on a campaign (status changes only by launching)."""
        values = {
            "name": self.name.data,
            "product_line": self.product_line_id,
            "segment": self.segment_value,
            "subject": (self.subject.data or "").strip(),
            "body": self.body.data or "",
        }
        if self.keep_segment:
            del values["segment"]
        return values

    @staticmethod
    def data_for(campaign) -> dict:
        """Form data for a stored campaign."""
        segment = campaign.segment
        if segment is not None and not conditions.is_group(segment):
            segment = {"op": conditions.AND, "items": [segment]}
        segment = segment or {"op": conditions.AND, "items": []}
        return {
            "name": campaign.name,
            "product_line": str(campaign.product_line_id or ""),
            "segment_op": segment.get("op", conditions.AND),
            "segment": [
                condition_row_data(item) for item in segment.get("items", ()) if not conditions.is_group(item)
            ],
            "subject": campaign.subject,
            "body": campaign.body,
        }

    def new_row(self, list_name: str) -> dict:
        return {"subject": "contact.country", "operator": "equals"}

    def segment_errors(self) -> list[conditions.FieldError]:
        """The segment's problems, by path (``segment.items[0].value``)."""
        segment = self.segment_value
        return [] if segment is None or self.keep_segment else conditions.validate_segment(segment, "segment")

    def validate(self, extra_validators=None) -> bool:
        """The fields' checks, then the segment's, each error next to its row."""
        valid = super().validate(extra_validators)
        errors = self.segment_errors()
        self.show_errors(errors)
        return valid and not errors

    def validate_name(self, field):
        if self._taken(Campaign.select().where(Campaign.name == field.data.strip()), Campaign):
            raise ValidationError("A campaign with this name already exists.")


class CampaignRequestForm(PageForm):
    goal = TextAreaField("Goal", validators=[DataRequired(), Length(max=2000)])
    audience = TextAreaField("Audience", validators=[DataRequired(), Length(max=2000)])
    timing = StringField(
        "Timing", description="e.g. before the June trade show", validators=[DataRequired(), Length(max=200)]
    )


class DeclineForm(PageForm):
    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why."), Length(max=2000)])
