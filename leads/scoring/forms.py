"""Forms of the scoring model and qualification criteria builders (S1, S2, S5, Q1–Q3, Q6).

The forms only carry the marketer's rows; the rules about what a valid model or
criteria is live in ``leads.core.scoring`` and ``leads.core.qualification``. Each form turns
its rows into the definition dict those validators read (``definition()``), is
filled back from a stored definition (``data_for``), shows the validators'
``FieldError`` paths next to the right input (``show_errors``), and adds or
removes a row when the builder asks for one (``with_row_change``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional, ValidationError

from leads.core import scoring
from leads.core.conditions import AND, is_group
from leads.core.interactions import Vocabulary
from leads.core.scoring import MAX_FILTERS, MAX_RULES
from leads.records import interaction_types
from web.condition_forms import (
    JOIN_CHOICES,
    OPERATOR_CHOICES,
    SUBJECTS,
    BuilderForm,
    ConditionRow,
    Row,
    choice_field,
    condition_from_row,
    condition_row_data,
    is_flat,
)
from web.forms import PageForm

PER, ONCE = "per", "once"


# --- Rows (``ConditionRow`` and the shared pieces: web.condition_forms) ----------


class AttributeRuleRow(ConditionRow):
    id = HiddenField()
    label = StringField("Label")
    points = StringField("Points", default="10")

    aliases = {"condition": None, "entity": "subject", "field": "subject"}


class FilterRow(Row):
    property = StringField("Property", description="e.g. page_id, event_id, campaign_id")
    operator = choice_field("Operator", OPERATOR_CHOICES, default="equals")
    value = StringField("Value")

    aliases = {"entity": "property", "field": "property"}


class BehaviourRuleRow(Row):
    id = HiddenField()
    label = StringField("Label")
    type = choice_field("Interaction", [])
    filters = FieldList(FormField(FilterRow), max_entries=MAX_FILTERS)
    window_days = StringField("Within days", description="empty: ever")
    per_occurrence = choice_field("Count", [(PER, "per occurrence"), (ONCE, "once")], default=PER)
    cap = StringField("Cap", description="empty: no cap")
    points = StringField("Points", default="5")

    @property
    def interaction_type(self) -> str:
        return (self.type.data or "").strip()


class GradeRow(Row):
    label = StringField("Grade")
    min_score = StringField("From score")


class TermRow(Row):
    """One qualification term; ``kind`` (score, interaction, attribute) decides which
    inputs the row shows."""

    kind = HiddenField()
    model_id = choice_field("Scoring model", [])
    min_score = StringField("Score at least")
    type = choice_field("Interaction", [])
    within_days = StringField("Within days", description="empty: ever")
    subject = choice_field("Field", SUBJECTS)
    operator = choice_field("Operator", OPERATOR_CHOICES, default="equals")
    value = StringField("Value")

    aliases = {"condition": None, "entity": "subject", "field": "subject"}

    @property
    def interaction_type(self) -> str:
        return (self.type.data or "").strip()


def offer_types(rows, vocabulary: Vocabulary) -> None:
    """The type picker of each row: the known types (built-in and custom) with
    their labels, and a stored type that is no longer known, said so."""
    known = list(vocabulary.labels().items())
    for row in rows:
        current = row.form.type.data
        extra = [] if not current or vocabulary.known(current) else [(current, f"{current} (unknown type)")]
        row.form.type.choices = known + extra


# --- Turning rows into definitions and back --------------------------------------


def _blank(value) -> str | None:
    """A number input as typed, or None when left empty (optional numbers)."""
    return None if value is None or not str(value).strip() else value


def _text(value) -> str:
    return "" if value is None else str(value)


def _type_data(interaction_type: str) -> dict:
    return {"type": interaction_type}


# --- The scoring model builder -------------------------------------------------


class ModelForm(BuilderForm):
    """S1, S2, S5: name, audience, attribute and behaviour rules, threshold, grades."""

    name = StringField("Name", validators=[Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    audience_op = choice_field("Leads that match", JOIN_CHOICES, default=AND)
    audience = FieldList(FormField(ConditionRow), max_entries=50)
    attribute_rules = FieldList(FormField(AttributeRuleRow), max_entries=MAX_RULES)
    behaviour_rules = FieldList(FormField(BehaviourRuleRow), max_entries=MAX_RULES)
    sales_ready_threshold = StringField("Sales-ready threshold", description="Optional")
    grades = FieldList(FormField(GradeRow), max_entries=20)

    path_aliases = {"audience.items": "audience", "audience.op": "audience_op", "audience": "audience"}

    def __init__(self, *args, vocabulary: Vocabulary | None = None, **kwargs):
        """``vocabulary``: the interaction types the rules may count (default: the install's)."""
        super().__init__(*args, **kwargs)
        offer_types(self.behaviour_rules, vocabulary or interaction_types.vocabulary())

    def new_row(self, list_name: str) -> dict:
        if list_name == "behaviour_rules":
            return {"type": "email_clicked", "per_occurrence": PER, "points": "5"}
        if list_name == "attribute_rules":
            return {"subject": "contact.job_title", "operator": "contains", "points": "10"}
        return {}

    def definition(self) -> dict:
        """The model's definition as ``scoring.validate_model`` reads it."""
        audience = [condition_from_row(row.form) for row in self.audience]
        return {
            "audience": {"op": self.audience_op.data, "items": audience} if audience else None,
            "attribute_rules": [
                {
                    "id": row.form.id.data or None,
                    "label": row.form.label.data or "",
                    "condition": condition_from_row(row.form),
                    "points": row.form.points.data,
                }
                for row in self.attribute_rules
            ],
            "behaviour_rules": [_behaviour_rule(row.form) for row in self.behaviour_rules],
            "sales_ready_threshold": _blank(self.sales_ready_threshold.data),
            "grades": [
                {"label": row.form.label.data or "", "min_score": row.form.min_score.data}
                for row in self.grades
            ],
        }

    @staticmethod
    def data_for(name: str, description: str, definition: Mapping) -> dict:
        """Form data for a stored model (``definition`` as ``save_model`` stores it)."""
        audience = definition.get("audience") or {"op": AND, "items": []}
        threshold = definition.get("sales_ready_threshold")
        return {
            "name": name,
            "description": description,
            "audience_op": audience.get("op", AND),
            "audience": [condition_row_data(item) for item in audience.get("items", ())],
            "attribute_rules": [
                {
                    "id": rule.get("id") or "",
                    "label": rule.get("label") or "",
                    "points": _text(rule.get("points")),
                    **condition_row_data(rule["condition"]),
                }
                for rule in definition.get("attribute_rules") or ()
            ],
            "behaviour_rules": [_behaviour_data(rule) for rule in definition.get("behaviour_rules") or ()],
            "sales_ready_threshold": _text(threshold),
            "grades": [
                {"label": grade["label"], "min_score": _text(grade["min_score"])}
                for grade in definition.get("grades") or ()
            ],
        }


def _behaviour_rule(row: BehaviourRuleRow) -> dict:
    return {
        "id": row.id.data or None,
        "label": row.label.data or "",
        "type": row.interaction_type,
        "filters": [
            {k: v for k, v in condition_from_row(f.form, "interaction").items() if k != "entity"}
            for f in row.filters
        ],
        "window_days": _blank(row.window_days.data),
        "per_occurrence": row.per_occurrence.data != ONCE,
        "cap": _blank(row.cap.data),
        "points": row.points.data,
    }


def _behaviour_data(rule: Mapping) -> dict:
    filters = []
    for condition in rule.get("filters") or ():
        data = condition_row_data({**condition, "entity": "interaction"})
        filters.append({"property": condition.get("field"), **data})
    return {
        "id": rule.get("id") or "",
        "label": rule.get("label") or "",
        **_type_data(rule.get("type", "")),
        "filters": filters,
        "window_days": _text(rule.get("window_days")),
        "per_occurrence": PER if rule.get("per_occurrence", True) else ONCE,
        "cap": _text(rule.get("cap")),
        "points": _text(rule.get("points")),
    }


# --- The qualification criteria builder ------------------------------------------

SCORE, INTERACTION_TERM, ATTRIBUTE = "score", "interaction", "attribute"
TERM_KINDS = {
    SCORE: "Score in a model",
    INTERACTION_TERM: "Did something (interaction)",
    ATTRIBUTE: "Field of the lead, contact or account",
}


class CriteriaForm(BuilderForm):
    """Q1, Q2, Q6: an AND/OR list of terms and the actions to take."""

    name = StringField("Name", validators=[Length(max=120)])
    rule_op = choice_field("Qualify leads that meet", JOIN_CHOICES, default=AND)
    terms = FieldList(FormField(TermRow), max_entries=50)
    marketing_qualified = BooleanField("Set status reason: Marketing qualified", default=True)
    sales_ready = BooleanField("Set Sales ready = yes")

    path_aliases = {
        "rule.items": "terms",
        "rule.op": "rule_op",
        "rule": "terms",
        "actions": "marketing_qualified",
    }

    def __init__(self, *args, models: Iterable = (), vocabulary: Vocabulary | None = None, **kwargs):
        """``models`` are the live scoring models a score term may name (Q1);
        ``vocabulary`` the interaction types a term may name (default: the install's)."""
        super().__init__(*args, **kwargs)
        offer_types(self.terms, vocabulary or interaction_types.vocabulary())
        choices = [("", "Choose a live model")] + [(str(row.id), row.name) for row in models]
        known = {value for value, _ in choices}
        for row in self.terms:
            model_id = row.form.model_id
            extra = [] if model_id.data in known or not model_id.data else [(model_id.data, "Not live")]
            model_id.choices = choices + extra

    def new_row(self, list_name: str) -> dict:
        return {}

    def with_row_change(self, change: str) -> dict:
        """As ``BuilderForm.with_row_change``; ``add:terms:<kind>`` adds a term of that kind."""
        action, _, rest = change.partition(":")
        target, _, kind = rest.partition(":")
        data = super().with_row_change(f"{action}:{target}")
        if action == "add" and kind in TERM_KINDS and data["terms"] and not data["terms"][-1].get("kind"):
            data["terms"][-1].update(_term_defaults(kind))
        return data

    def definition(self) -> dict:
        """The criteria's definition as ``qualification.validate_criteria`` reads it."""
        return {
            "rule": {"op": self.rule_op.data, "items": [_term(row.form) for row in self.terms]},
            "marketing_qualified": bool(self.marketing_qualified.data),
            "sales_ready": bool(self.sales_ready.data),
        }

    @staticmethod
    def data_for(name: str, definition: Mapping) -> dict:
        """Form data for stored criteria."""
        rule = definition.get("rule") or {"op": AND, "items": []}
        if not is_group(rule):
            rule = {"op": AND, "items": [rule]}
        return {
            "name": name,
            "rule_op": rule.get("op", AND),
            "terms": [_term_data(term) for term in rule.get("items", ())],
            "marketing_qualified": bool(definition.get("marketing_qualified", True)),
            "sales_ready": bool(definition.get("sales_ready", False)),
        }


def _term_defaults(kind: str) -> dict:
    if kind == SCORE:
        return {"kind": SCORE, "min_score": "50"}
    if kind == INTERACTION_TERM:
        return {"kind": INTERACTION_TERM, "type": "form_submitted", "within_days": "30"}
    return {"kind": ATTRIBUTE, "subject": "contact.job_title", "operator": "contains"}


def _term(row: TermRow) -> dict:
    if row.kind.data == SCORE:
        return {"kind": SCORE, "model_id": row.model_id.data or None, "min_score": row.min_score.data}
    if row.kind.data == INTERACTION_TERM:
        return {
            "kind": INTERACTION_TERM,
            "type": row.interaction_type,
            "filters": [],
            "within_days": _blank(row.within_days.data),
        }
    return {"kind": row.kind.data, "condition": condition_from_row(row)}


def _term_data(term: Mapping) -> dict:
    kind = term.get("kind")
    if kind == SCORE:
        return {
            "kind": SCORE,
            "model_id": _text(term.get("model_id")),
            "min_score": _text(term.get("min_score")),
        }
    if kind == INTERACTION_TERM:
        return {
            "kind": INTERACTION_TERM,
            **_type_data(term.get("type", "")),
            "within_days": _text(term.get("within_days")),
        }
    return {"kind": ATTRIBUTE, **condition_row_data(term.get("condition") or {})}


def model_is_editable_here(definition: Mapping) -> bool:
    """Whether the builder can show this model (its audience is one flat list)."""
    return is_flat(definition.get("audience"))


def criteria_is_editable_here(definition: Mapping) -> bool:
    """Whether the builder can show these criteria: one flat list of terms, and no
    interaction term with property filters (the builder does not offer them)."""
    rule = definition.get("rule")
    if rule is not None and not is_group(rule):
        rule = {"op": AND, "items": [rule]}
    if not is_flat(rule):
        return False
    return not any((item.get("filters") or ()) for item in (rule or {}).get("items", ()))


def model_from_form(form: ModelForm, model_id, name: str | None = None) -> scoring.ScoringModel:
    """The engine's model for the form as it stands; raises ``DefinitionError``."""
    return scoring.ScoringModel.from_dict(
        {**form.definition(), "id": model_id, "name": name or form.name.data or "Preview"}
    )


# --- Does the score predict? (D3) -----------------------------------------------

_EARLIEST, _LATEST = dt.date(1970, 1, 1), dt.date(9000, 1, 1)


class OutcomeRangeForm(PageForm):
    """D3: the days whose outcomes count, both included; a missing day takes the
    default range's."""

    class Meta:
        csrf = False  # a GET: nothing is stored

    start = DateField("From", name="from", validators=[Optional()])
    end = DateField("To", name="to", validators=[Optional()])

    def __init__(self, formdata, default: tuple[dt.date, dt.date], max_days: int):
        super().__init__(formdata)
        self.default, self.max_days = default, max_days
        for field, day in ((self.start, default[0]), (self.end, default[1])):
            if field.data is None:  # not given or blank; a bad value still fails validation
                field.data = day

    def validate_start(self, field) -> None:
        if field.data and not _EARLIEST <= field.data < _LATEST:
            raise ValidationError("Choose a day after 1970.")

    def validate_end(self, field) -> None:
        if not field.data or not self.start.data:
            return
        if not _EARLIEST <= field.data < _LATEST:
            raise ValidationError("Choose a day after 1970.")
        if field.data < self.start.data:
            raise ValidationError("Must be on or after “from”.")
        if (field.data - self.start.data).days >= self.max_days:
            raise ValidationError(f"Choose at most {self.max_days} days.")

    def days(self) -> tuple[dt.date, dt.date] | None:
        """The range asked for, or None when a day is invalid (the errors say why)."""
        if not self.validate():
            return None
        return self.start.data, self.end.data
