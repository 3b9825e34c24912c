"""Forms of the marketers' pages: product lines and campaigns."""

from __future__ import annotations

import json

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from leads.conditions import validate_segment
from leads.marketing import normalize_code, product_lines
from leads.models import Campaign, ProductLine


class _RecordForm(FlaskForm):
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


SEGMENT_HELP = (
    'JSON conditions over lead, contact and account fields, e.g. {"op": "and", "items": '
    '[{"entity": "contact", "field": "country", "operator": "equals", "value": "FR"}]}. '
    "Empty: every contact with an email."
)


class CampaignForm(_RecordForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=150)])
    product_line = SelectField("Product line", choices=[])
    segment = TextAreaField("Audience segment", description=SEGMENT_HELP, validators=[Optional()])
    subject = StringField("Email subject", validators=[Optional(), Length(max=200)])
    body = TextAreaField("Email body", validators=[Optional(), Length(max=20000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.product_line.choices = [("", "None")] + [(str(line.id), line.name) for line in product_lines()]

    @property
    def product_line_id(self) -> int | None:
        """The chosen product line's id, or None."""
        return int(self.product_line.data) if self.product_line.data else None

    @property
    def segment_value(self) -> dict | None:
        """The segment as a dict (None: everyone); call after validation."""
        text = (self.segment.data or "").strip()
        return json.loads(text) if text else None

    @property
    def values(self) -> dict:
        """What a marketer may set on a campaign (status changes only by launching)."""
        return {
            "name": self.name.data,
            "product_line": self.product_line_id,
            "segment": self.segment_value,
            "subject": (self.subject.data or "").strip(),
            "body": self.body.data or "",
        }

    def validate_name(self, field):
        if self._taken(Campaign.select().where(Campaign.name == field.data.strip()), Campaign):
            raise ValidationError("A campaign with this name already exists.")

    def validate_segment(self, field):
        text = (field.data or "").strip()
        if not text:
            return
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ValidationError(f"Not valid JSON: {error}.") from error
        errors = validate_segment(data, "segment")
        if errors:
            raise ValidationError("; ".join(f"{e.field}: {e.reason}" for e in errors))


class CampaignRequestForm(FlaskForm):
    goal = TextAreaField("Goal", validators=[DataRequired(), Length(max=2000)])
    audience = TextAreaField("Audience", validators=[DataRequired(), Length(max=2000)])
    timing = StringField(
        "Timing", description="e.g. before the June trade show", validators=[DataRequired(), Length(max=200)]
    )


class DeclineForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why."), Length(max=2000)])
