"""Forms of the routing pages: an assignment rule (with a row editor for its
conditions), a rep's profile, a decline with its reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from leads.conditions import ACCOUNT, CONTACT, FIELDS, LEAD, OPERATORS, is_empty
from routing import router

CONDITION_ROWS = 5
ENTITY_LABELS = {LEAD: "Lead", CONTACT: "Contact", ACCOUNT: "Account"}


def field_choices(model_names: dict[int, str]) -> list[tuple[str, str]]:
    """``entity:field`` choices for a condition row, scores included."""
    choices = [("", "—")]
    for entity in (LEAD, CONTACT, ACCOUNT):
        for name in FIELDS[entity]:
            choices.append((f"{entity}:{name}", f"{ENTITY_LABELS[entity]} {name.replace('_', ' ')}"))
    for model_id, name in model_names.items():
        choices.append((f"{LEAD}:{router.score_field(model_id)}", f"Lead score in {name}"))
    return choices


class ConditionRow(Form):
    """One condition: a field, an operator, a value (lists: comma separated)."""

    field = SelectField("Field", choices=[], validate_choice=False)
    operator = SelectField("Operator", choices=[("", "—"), *OPERATORS.items()], validate_choice=False)
    value = StringField("Value", validators=[Optional(), Length(max=500)])

    def is_blank(self) -> bool:
        return not self.field.data and not self.operator.data and is_empty(self.value.data)

    def to_dict(self) -> dict:
        entity, _, name = (self.field.data or "").partition(":")
        return {"entity": entity, "field": name, "operator": self.operator.data, "value": self.value.data}


def _id_or_none(value):
    return None if value in (None, "", "None") else int(value)


class RuleForm(FlaskForm):
    """R1/R4: an assignment rule: conditions (all or any) and a strategy."""

    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    enabled = BooleanField("On", default=True)
    match = SelectField(
        "Conditions", choices=[("and", "All must hold"), ("or", "Any may hold")], validate_choice=False
    )
    conditions = FieldList(FormField(ConditionRow), min_entries=CONDITION_ROWS, max_entries=20)
    strategy = SelectField("Strategy", choices=list(router.STRATEGIES.items()), validate_choice=False)
    pool = SelectField("Pool", choices=list(router.POOLS.items()), validate_choice=False)
    team_id = SelectField("Team", coerce=_id_or_none, validate_choice=False)
    user_id = SelectField("Sales rep", coerce=_id_or_none, validate_choice=False)
    fallback = SelectField(
        "Else",
        choices=[
            ("", "Unassigned queue"),
            (router.ROUND_ROBIN, "Round robin in the pool"),
            (router.LEAST_LOADED, "Least loaded in the pool"),
        ],
        validate_choice=False,  # the router's validation says what is wrong
    )
    accept_within_hours = IntegerField(
        "Accept within (hours)",
        validators=[Optional(), NumberRange(min=1, max=24 * 60, message="Between 1 and 1440 hours.")],
    )

    def set_choices(self, teams, reps, model_names) -> None:
        self.team_id.choices = [("", "Any team")] + [(team.id, team.name) for team in teams]
        self.user_id.choices = [("", "Choose a rep…")] + [(rep.id, rep.name) for rep in reps]
        choices = field_choices(model_names)
        for row in self.conditions:
            row.form.field.choices = choices

    def definition(self) -> tuple[dict, list[int]]:
        """The rule as ``Rule.from_dict`` reads it, and which form row each
        condition item came from (to put its errors back next to it)."""
        rows = [(index, row.form) for index, row in enumerate(self.conditions) if not row.form.is_blank()]
        data = {
            "name": self.name.data or "",
            "active": bool(self.enabled.data),
            "conditions": {"op": self.match.data, "items": [row.to_dict() for _, row in rows]}
            if rows
            else None,
            "strategy": self.strategy.data,
            "pool": self.pool.data,
            "team_id": self.team_id.data,
            "user_id": self.user_id.data,
            "fallback": self.fallback.data or None,
        }
        return data, [index for index, _ in rows]

    def fill(self, row) -> None:
        """Fill an unbound form from a stored rule."""
        definition = row.definition or {}
        self.name.data, self.enabled.data = row.name, row.enabled
        self.strategy.data = definition.get("strategy")
        self.pool.data = definition.get("pool") or router.PRODUCT_LINE
        self.team_id.data, self.user_id.data = definition.get("team_id"), definition.get("user_id")
        self.fallback.data = definition.get("fallback") or ""
        self.accept_within_hours.data = row.accept_within_hours
        conditions = definition.get("conditions") or {}
        self.match.data = conditions.get("op", "and")
        items = [item for item in conditions.get("items", []) if "entity" in item]
        while len(self.conditions) < len(items):
            self.conditions.append_entry()
        for form_row, item in zip(self.conditions, items, strict=False):
            value = item.get("value")
            form_row.form.field.data = f"{item['entity']}:{item['field']}"
            form_row.form.operator.data = item.get("operator")
            form_row.form.value.data = ", ".join(map(str, value)) if isinstance(value, list) else value


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class RepProfileForm(FlaskForm):
    """R3: a rep's capacity, time away and product lines."""

    capacity = IntegerField(
        "Capacity (open leads)",
        validators=[DataRequired(message="Enter a capacity."), NumberRange(min=1, max=10000)],
    )
    away_from = DateTimeLocalField("Away from (UTC)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    away_until = DateTimeLocalField("Away until (UTC)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    product_lines = MultiCheckboxField("Product lines", coerce=int)

    def validate_away_until(self, field):
        if field.data and self.away_from.data and field.data <= self.away_from.data:
            raise ValidationError("Must be after “away from”.")


class DeclineForm(FlaskForm):
    """R6: the rep hands a lead back, saying why."""

    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every POST (one form per queue row)

    reason = TextAreaField(
        "Why?", validators=[DataRequired(message="Say why you decline it."), Length(max=300)]
    )


class TestLeadForm(FlaskForm):
    """A lead to try the rule set on."""

    class Meta:
        csrf = False  # a GET: nothing is stored

    lead_id = IntegerField("Lead id", validators=[DataRequired(message="Enter a lead id.")])
