"""An activity's edit form is fetched when asked for (W1): the timeline carries
an Edit link per activity the user may change, not a form each (a lead with
200 activities would build 100 forms per view); the form comes back in place
with the focus on its first field, Cancel takes it away, and whoever may not
change the activity gets a 403 (G1: another's lead stays a 404)."""

from __future__ import annotations

from leads.activities import services
from leads.core import lifecycle
from tests.factories import login, make_lead, make_user

HX = {"HX-Request": "true"}


def test_w1_the_edit_form_is_fetched_in_place_for_those_who_may_change_the_activity(app):
    manager = make_user("manager")
    lead = make_lead(stage=lifecycle.TP_QUALIFICATION)
    with app.app_context():
        note, _ = services.add_activity(lead, manager, "note", {"body": "First call planned"})
    client = login(app.test_client(), manager)
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    url = f"/leads/{lead.id}/activities/{note.id}/edit"
    assert f'hx-get="{url}"' in page and f'name="edit{note.id}-body"' not in page

    fragment = client.get(url, headers=HX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert f'id="activity-tools-{note.id}"' in html and "First call planned" in html
    assert f'name="edit{note.id}-body"' in html and "autofocus" in html
    closed = client.get(f"{url}?close=1", headers=HX).get_data(as_text=True)
    assert f'name="edit{note.id}-body"' not in closed and f'hx-get="{url}"' in closed
    plain = client.get(url)  # without htmx: the timeline page with the form open
    assert plain.status_code == 200 and "<html" in plain.get_data(as_text=True)
    assert f'name="edit{note.id}-body"' in plain.get_data(as_text=True)

    tp = login(app.test_client(), make_user("teleprospector"))
    assert tp.get(url, headers=HX).status_code == 403
    assert f'hx-get="{url}"' not in tp.get(f"/leads/{lead.id}").get_data(as_text=True)
    rep = login(app.test_client(), make_user("rep"))
    assert rep.get(url, headers=HX).status_code == 404
