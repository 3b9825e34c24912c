"""Forms of the marketers' pages: product lines and campaigns."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from leads.marketing import CAMPAIGN_STATUSES, normalize_code, product_lines
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


class CampaignForm(_RecordForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=150)])
    product_line = SelectField("Product line", choices=[])
    status = SelectField("Status", choices=list(CAMPAIGN_STATUSES.items()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.product_line.choices = [("", "None")] + [(str(line.id), line.name) for line in product_lines()]

    @property
    def product_line_id(self) -> int | None:
        """The chosen product line's id, or None."""
        return int(self.product_line.data) if self.product_line.data else None

    def validate_name(self, field):
        if self._taken(Campaign.select().where(Campaign.name == field.data.strip()), Campaign):
            raise ValidationError("A campaign with this name already exists.")
