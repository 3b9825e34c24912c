"""E3, W1, W3: the lead page names interactions as people read them ("Website
visited"), built-in and registered custom types alike, not by their API names."""

from __future__ import annotations

import re

from leads.records.models import Interaction
from tests.factories import login, make_custom_type, make_lead, make_user


def test_e3_w1_the_timeline_reads_interaction_labels_not_type_names(app):
    manager = make_user("manager")
    lead = make_lead()
    make_custom_type("demo_requested", "Demo requested")
    Interaction.create(lead=lead, type="web_visit", external_id="v1")
    Interaction.create(lead=lead, type="demo_requested", external_id="d1")
    client = login(app.test_client(), manager)
    html = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    actors = re.findall(r'<span class="actor" title="([a-z_]+)">([^<]+)</span>', html)
    assert ("web_visit", "Website visited") in actors
    assert ("demo_requested", "Demo requested") in actors
