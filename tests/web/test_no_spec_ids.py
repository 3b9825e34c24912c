"""No SPEC ids in the interface (issue 14): "S1:", "(R4)" belong in code, tests
and comments, never in what a person reads. Every page the URL map has, as an
admin, a marketer, a manager and a rep, with records behind each id, is read
for its visible text (text and the attributes people read: title, placeholder,
aria-label, alt), fragments included."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from auth.models import ADMIN, MANAGER, MARKETER, REP
from leads.base.models import BackgroundTask
from leads.records.models import ProductLine
from leads.scoring import services as scoring_admin
from tests.auth.test_role_matrix import _sample_url, _world
from tests.factories import csrf_token, login, make_custom_type, make_user
from tests.scoring.test_scoring_ui import stored_model

SPEC_ID = re.compile(r"(?<![\w-])[A-Z][0-9]{1,2}(?:[–-][A-Z]?[0-9]{1,2})?(?:\)|:|,|\b)(?![\w.-])")
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}


class _VisibleText(HTMLParser):
    """The text a person reads on a page (no script, style or comments)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
        self.parts.extend(value for name, value in attrs if name in READ_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_the_spec_id_pattern_finds_ids_and_leaves_words_alone():
    found = [
        m.group(0) for m in SPEC_ID.finditer("Score (S5), R4: rules, S1–S3 and Q6, B2B, ISO-2, A4 paper.")
    ]
    assert found == ["S5)", "R4:", "S1–S3", "Q6,", "A4"]
    assert not SPEC_ID.search("Grade A ≥ 80, 10 leads, UTF-8, page_id, Company 12")


def _page_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" in rule.methods and rule.endpoint != "static" and not rule.rule.startswith("/api/"):
            if rule.endpoint != "auth.logout":
                yield rule


def test_no_page_shows_a_spec_id(app, run_jobs):
    world = _world()
    ProductLine.update(code="EU-CLOUD").execute()  # the factory's codes (P1, P2…) look like ids
    marketer = make_user(MARKETER)
    model = stored_model(app, marketer, live=True, run_jobs=run_jobs)
    with app.app_context():
        definition = {
            "rule": {"op": "and", "items": [{"kind": "score", "model_id": model.id, "min_score": 1}]}
        }
        scoring_admin.save_criteria(None, "Hot", definition, marketer)
    make_custom_type()
    assert BackgroundTask.select().exists()

    found, read = [], 0
    for role in (ADMIN, MARKETER, MANAGER, REP):
        client = app.test_client()
        login(client, world["rep"] if role == REP else make_user(role))
        csrf_token(client)
        for rule in _page_rules(app):
            path = _sample_url(rule, world)
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(path, headers=headers)
                if response.status_code != 200 or not response.mimetype == "text/html":
                    continue
                read += 1
                text = visible_text(response.get_data(as_text=True))
                found += [
                    f"{role} {path}: {m.group(0)!r} in …{text[max(0, m.start() - 40) : m.end() + 20]}…"
                    for m in SPEC_ID.finditer(text)
                ]
    assert read > 60
    assert found == [], "\n".join(found)
