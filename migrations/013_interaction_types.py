"""E3, S2: one vocabulary of interaction types. Custom types an admin registers
get their table; the builder's old name of the website visit, ``website_visited``,
becomes ``web_visit`` (the name the API, capture and the demo data always used)
wherever it was stored: interactions, scoring rules, qualification terms and
automatic-lead rules, so no stored event or rule is orphaned.

The names are written here, not imported: a migration replays the same way
whatever the code becomes.
"""

import json

import peewee as pw
from peewee_migrate import Migrator

RENAMED = {"website_visited": "web_visit"}


def _renamed(value, names: dict[str, str]):
    """``value`` (decoded JSON) with every ``"type"`` named in ``names`` renamed."""
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    renamed = {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(renamed.get("type"), str) and renamed["type"] in names:
        renamed["type"] = names[renamed["type"]]
    return renamed


def _rename_in_json(model, column: str, names: dict[str, str]) -> None:
    """Rewrite the JSON text ``column`` of every ``model`` row that names an old type."""
    field = getattr(model, column)
    for row_id in _ids(model, field, names):
        text = model.select(field).where(model.id == row_id).scalar()
        value = json.loads(text) if text else None
        new = _renamed(value, names)
        if new != value:
            model.update({field: json.dumps(new, sort_keys=True)}).where(model.id == row_id).execute()


def _ids(model, field, names: dict[str, str]) -> list[int]:
    """The ids of the rows whose JSON text mentions an old name (a cheap filter first)."""
    condition = None
    for old in names:
        test = field.contains(f'"{old}"')
        condition = test if condition is None else condition | test
    return [row_id for (row_id,) in model.select(model.id).where(condition).tuples()]


def _rename_in_list(model, column: str, names: dict[str, str]) -> None:
    """The automatic-lead rules' lists of type names."""
    field = getattr(model, column)
    for row_id in _ids(model, field, names):
        text = model.select(field).where(model.id == row_id).scalar()
        value = json.loads(text) if text else []
        new = list(dict.fromkeys(names.get(item, item) for item in value))
        if new != value:
            model.update({field: json.dumps(new, sort_keys=True)}).where(model.id == row_id).execute()


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    orm = migrator.orm

    @migrator.create_model
    class CustomInteractionType(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=50, unique=True)
        label = pw.CharField(max_length=80)
        created_by = pw.ForeignKeyField(
            column_name="created_by_id", field="id", model=orm["user"], null=True, on_delete="SET NULL"
        )
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "custom_interaction_type"

    migrator.run(_rename, RENAMED, orm)


def _rename(names: dict[str, str], orm) -> None:
    interaction = orm["interaction"]
    for old, new in names.items():
        interaction.update(type=new).where(interaction.type == old).execute()
    _rename_in_json(orm["scoring_model"], "definition", names)
    _rename_in_json(orm["qualification_criteria"], "definition", names)
    _rename_in_list(orm["auto_lead_rule"], "interaction_types", names)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    # The rename is not undone: ``web_visit`` was always a name the API took.
    migrator.remove_model("custom_interaction_type")
