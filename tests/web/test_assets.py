"""O3: static files are cached for a year by a content hash in their URL: one
style-sheet bundle (every sheet, in order) and the scripts with ?v=<hash>;
a changed file gets a new URL, an old or missing hash is never immutable."""

from __future__ import annotations

import re

from tests.factories import login, make_user
from web import assets


def _links(html: str) -> tuple[list[str], list[str]]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', html), re.findall(r'<script src="([^"]+)"', html)


def test_o3_a_page_links_one_style_bundle_and_hashed_scripts_cached_for_a_year(sqlite_app):
    client = login(sqlite_app.test_client(), make_user("manager"))
    sheets, scripts = _links(client.get("/leads").get_data(as_text=True))
    assert len(sheets) == 1 and re.fullmatch(r"/assets/app-[0-9a-f]{12}\.css", sheets[0])
    assert sorted(s.split("?")[0] for s in scripts) == ["/static/app.js", "/static/htmx.min.js"]
    assert all(re.search(r"\?v=[0-9a-f]{12}$", s) for s in scripts)

    bundle = client.get(sheets[0])
    css = bundle.get_data(as_text=True)
    assert bundle.status_code == 200 and bundle.mimetype == "text/css"
    assert bundle.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    positions = [css.index(f"/* {name} */") for name in assets.STYLE_SHEETS]
    assert positions == sorted(positions)  # app.css first, then each area's sheet
    with open(f"{sqlite_app.static_folder}/css/lead.css") as sheet:
        assert sheet.read().strip() in css
    for script in scripts:
        answer = client.get(script)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        answer.close()


def test_o3_a_stale_or_missing_hash_is_never_cached_for_a_year(sqlite_app):
    client = sqlite_app.test_client()
    assert client.get("/assets/app-000000000000.css").status_code == 404
    for url in ("/static/app.js?v=000000000000", "/static/app.js"):
        answer = client.get(url)
        assert answer.status_code == 200 and "immutable" not in answer.headers.get("Cache-Control", "")
        answer.close()


def test_o3_a_changed_sheet_gets_a_new_bundle_url(tmp_path):
    """The hash follows the content (what a release that changes a sheet does)."""
    for name in assets.STYLE_SHEETS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f".{name.replace('/', '-').replace('.', '-')} {{}}")
    before, _ = assets._bundle(str(tmp_path))
    (tmp_path / "css" / "lead.css").write_text(".changed {}")
    assets._bundle.cache_clear()
    after, body = assets._bundle(str(tmp_path))
    assert before != after and b".changed {}" in body
