"""Forms of the routing pages: an assignment rule (with a row editor for its
conditions), a rep's profile, a decline with its reason."""

from __future__ import annotations

from dataclasses import dataclass

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from leads.core.conditions import (
    ACCOUNT,
    BOOL,
    CONTACT,
    DATE,
    FIELDS,
    LEAD,
    NUMBER,
    OPERATORS,
    UNARY,
)
from routing import router
from web.condition_forms import ConditionRow
from web.forms import PageForm, country_choices

CONDITION_ROWS = 5
MAX_CONDITION_ROWS = 20
ENTITY_LABELS = {LEAD: "Lead", CONTACT: "Contact", ACCOUNT: "Account"}

# Id fields a condition row offers as a select of names (the posted value stays
# the id, so the stored rule format is unchanged), and what the names are.
PRODUCT_LINES, TEAMS, CAMPAIGNS, REPS, ACCOUNTS = "product_lines", "teams", "campaigns", "reps", "accounts"
ID_FIELDS = {
    (LEAD, "product_line_id"): (PRODUCT_LINES, "product line"),
    (LEAD, "team_id"): (TEAMS, "team"),
    (LEAD, "campaign_id"): (CAMPAIGNS, "campaign"),
    (LEAD, "owner_id"): (REPS, "owner"),
    (CONTACT, "owner_id"): (REPS, "owner"),
    (CONTACT, "account_id"): (ACCOUNTS, "account"),
    (ACCOUNT, "owner_id"): (REPS, "owner"),
}
BOOL_CHOICES = [("true", "yes"), ("false", "no")]


def field_label(entity: str, name: str, model_names: dict | None = None) -> str:
    """A condition field in words: "Lead product line", "Score in Fit"."""
    if entity == LEAD and name.startswith(router.SCORE_PREFIX):
        model_id = name[len(router.SCORE_PREFIX) :]
        known = (model_names or {}).get(as_int(model_id))
        return f"Score in {known}" if known else f"Score in model {model_id}"
    words = ID_FIELDS[(entity, name)][1] if (entity, name) in ID_FIELDS else name.replace("_", " ")
    return f"{ENTITY_LABELS.get(entity, entity)} {words}"


def as_int(value) -> int | None:
    """``value`` as an int, or None when it is not one."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def field_choices(live_models: dict[int, str], keep: dict[int, str] | None = None) -> list[tuple[str, str]]:
    """``entity.field`` choices for a condition row: the record fields, then
    "Score in <model>" for each live scoring model (and for ``keep``, models a
    stored rule already names that are no longer live)."""
    choices = [("", "—")]
    for entity in (LEAD, CONTACT, ACCOUNT):
        for name in FIELDS[entity]:
            choices.append((f"{entity}.{name}", field_label(entity, name)))
    for model_id, name in {**live_models, **(keep or {})}.items():
        suffix = "" if model_id in live_models else " (not live)"
        choices.append((f"{LEAD}.{router.score_field(model_id)}", f"Score in {name}{suffix}"))
    return choices


@dataclass(frozen=True)
class ValueWidget:
    """How a condition row asks for its value: ``kind`` is "select", "text" or
    "none" (unary operators); a select lists ``choices`` (id, name)."""

    kind: str
    choices: tuple[tuple[str, str], ...] = ()
    multiple: bool = False
    hint: str = ""
    placeholder: str = ""
    inputmode: str = ""


OPERATOR_ROW_CHOICES = [("", "—"), *OPERATORS.items()]


def prepare_row(row: ConditionRow, field_choices: list[tuple[str, str]]) -> ConditionRow:
    """A rule editor's row: its field choices, and an operator that may be left
    blank (an unused row stays blank rather than reading "equals")."""
    row.subject.choices = field_choices
    row.operator.choices = OPERATOR_ROW_CHOICES
    if not row.subject.data:
        row.operator.data = row.operator.data if row.value.data else ""
    return row


def id_kind(row: ConditionRow) -> str | None:
    """Which names the row's value is an id of (``ID_FIELDS``), or None."""
    return ID_FIELDS.get(row.parts(), (None,))[0]


def value_widget(row: ConditionRow, options: dict[str, list[tuple[int, str]]]) -> ValueWidget:
    """The value input that fits the row's field and operator; ``options``
    maps an ``ID_FIELDS`` kind to its (id, name) pairs (a kind missing: too
    many names to list, the id is typed)."""
    entity, name = row.parts()
    operator = row.operator.data
    if operator in UNARY:
        return ValueWidget("none")
    multiple = operator == "in_list"
    kind = id_kind(row)
    if kind is not None and kind in options:
        known = [(str(key), label) for key, label in options[kind]]
        ids = {key for key, _ in known}
        stale = [(v, f"id {v} (not in the list)") for v in row.values() if v not in ids]
        blank = [] if multiple else [("", "Choose…")]
        return ValueWidget("select", tuple(blank + stale + known), multiple=multiple)
    if kind is not None:
        return ValueWidget("text", hint=f"The {ID_FIELDS[(entity, name)][1]}'s id.", inputmode="numeric")
    if name == "country":  # the one country list every door checks against
        known = country_choices()[1:]
        codes = {code for code, _ in known}
        stale = [(v, f"{v} (not a country)") for v in row.values() if v.upper() not in codes]
        blank = [] if multiple else [("", "Choose…")]
        return ValueWidget("select", tuple(blank + stale + known), multiple=multiple)
    field_kind = FIELDS.get(entity, {}).get(name)
    if field_kind == BOOL and not multiple:
        return ValueWidget("select", (("", "Choose…"), *BOOL_CHOICES))
    if name.startswith(router.SCORE_PREFIX) or field_kind == NUMBER:
        return ValueWidget(
            "text", placeholder="50" if name.startswith(router.SCORE_PREFIX) else "", inputmode="decimal"
        )
    if field_kind == DATE:
        return ValueWidget("text", placeholder="YYYY-MM-DD")
    return ValueWidget("text")


def _id_or_none(value):
    return None if value in (None, "", "None") else int(value)


class RuleForm(PageForm):
    """R1/R4: an assignment rule: conditions (all or any) and a strategy."""

    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    enabled = BooleanField("On", default=True)
    match = SelectField(
        "Conditions", choices=[("and", "All must hold"), ("or", "Any may hold")], validate_choice=False
    )
    conditions = FieldList(
        FormField(ConditionRow), min_entries=CONDITION_ROWS, max_entries=MAX_CONDITION_ROWS
    )
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

    def set_choices(self, teams, reps, field_choices: list[tuple[str, str]]) -> None:
        self.team_id.choices = [("", "Any team")] + [(team.id, team.name) for team in teams]
        self.user_id.choices = [("", "Choose a rep…")] + [(rep.id, rep.name) for rep in reps]
        for row in self.conditions:
            prepare_row(row.form, field_choices)

    def condition_rows(self) -> list[ConditionRow]:
        """The condition rows' forms, in order."""
        return [entry.form for entry in self.conditions]

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
            form_row.form.subject.data = f"{item['entity']}.{item['field']}"
            form_row.form.operator.data = item.get("operator")
            form_row.form.value.data = ", ".join(map(str, value)) if isinstance(value, list) else value


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class RepProfileForm(PageForm):
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


class DeclineForm(PageForm):
    """R6: the rep hands a lead back, saying why."""

    class Meta:
        csrf = False  # the app-wide CSRFProtect checks every POST (one form per queue row)

    reason = TextAreaField(
        "Why?", validators=[DataRequired(message="Say why you decline it."), Length(max=300)]
    )


class TestLeadForm(PageForm):
    """A lead to try the rule set on, found by name, email or id."""

    class Meta:
        csrf = False  # a GET: nothing is stored

    lead = StringField(
        "Lead: name, email or id",
        validators=[DataRequired(message="Enter a lead's name, email or id."), Length(max=200)],
    )
