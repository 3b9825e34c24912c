"""Notifications that say what happened (SPEC R2, R6, G3): each names the lead
(its name, topic and product line), what gave it (the rule or the person) and
links to it; they are grouped per lead, opening a group's lead marks its news
read; a rep is told when their campaign request is approved or declined; the
"Mark read" control is readable (contrast at least 4.5:1, WCAG AA)."""

from __future__ import annotations

import re

from campaigns import requests as campaign_requests
from leads.notify.models import Notification
from leads.notify.services import notify
from leads.records.models import Lead
from leads.stages.services import perform
from routing import manage
from routing.assign import route_lead
from tests.factories import csrf_token, login, make_lead, make_product_line, make_user
from web import assets


def page(client) -> str:
    return client.get("/notifications").get_data(as_text=True)


def groups(html: str) -> list[str]:
    return re.findall(r'<li class="card notification-group[^"]*">(.*?)</ul>\s*</li>', html, re.S)


def rep_of(line, **user):
    rep = make_user("rep", **user)
    manage.save_profile(rep, 20, None, None, [line.id])
    return rep


def test_r2_an_assignment_says_which_rule_or_person_gave_the_lead_with_its_topic_and_line(app):
    """R2/R1: routed by a rule, the rep's notification names the rule; given by
    hand, the manager; the page shows the lead's name, topic and product line
    and links to it."""
    line = make_product_line(name="Analytics Cloud")
    rita = rep_of(line, name="Rita Rep")
    manage.save_rule(
        {"name": "Analytics leads", "strategy": "round_robin", "conditions": {
            "entity": "lead", "field": "product_line_id", "operator": "equals", "value": line.id}},
        None,
    )  # fmt: skip
    routed = make_lead(product_line=line, topic="Pricing for 50 seats", first_name="Ada", last_name="Byron")
    with app.app_context():
        perform(routed, "sales_ready", None, via="test")
        route_lead(routed.id)
    manager = make_user("manager", name="Max Manager")
    by_hand = make_lead(product_line=line, topic="Renewal", first_name="Alan", last_name="Turing", stage=5)
    with app.app_context():
        perform(by_hand, "sales_ready", None, via="test")
        perform(Lead.get_by_id(by_hand.id), "assign", manager, owner_id=rita.id)

    html = page(login(app.test_client(), rita))
    first, second = groups(html)
    assert "Alan Turing" in first and "Renewal" in first and "Analytics Cloud" in first
    assert "by Max Manager" in first
    assert "Ada Byron" in second and "Pricing for 50 seats" in second and "Analytics Cloud" in second
    assert "by the rule “Analytics leads”" in second
    told = Notification.get((Notification.user == rita.id) & (Notification.lead == routed.id))
    assert f'href="/leads/{routed.id}?n={told.id}"' in second


def test_r2_notifications_are_grouped_per_lead_and_opening_the_lead_reads_its_group(app):
    """R2: two pieces of news about one lead are one group (the newest group
    first), another lead's another; opening the lead from its group marks both
    read and leaves the other group unread."""
    rep = make_user("rep")
    line = make_product_line(name="Storage")
    one = make_lead(stage=5, sales_ready=True, owner=rep, product_line=line, topic="Backup")
    two = make_lead(stage=5, sales_ready=True, owner=rep, topic="Archive")
    notify(rep.id, "assigned", "Lead assigned to you", one.id)
    notify(rep.id, "engaged", "Engaged: email_clicked", two.id)
    notify(rep.id, "engaged", "Engaged: web_visit", one.id)
    client = login(app.test_client(), rep)
    html = page(client)
    found = groups(html)
    assert len(found) == 2
    assert found[0].count('class="notification unread"') == 2 and "Backup" in found[0] and "Storage" in found[0]
    assert "2 new" in found[0] and "Archive" in found[1] and "No product line" in found[1]
    newest = Notification.get(Notification.text == "Engaged: web_visit")
    assert f'<a href="/leads/{one.id}?n={newest.id}">' in found[0]

    assert client.get(f"/leads/{one.id}?n={newest.id}").status_code == 200
    unread = {row.text for row in Notification.select().where(Notification.read_at.is_null())}
    assert unread == {"Engaged: email_clicked"}


def test_r6_a_lead_no_longer_in_view_is_named_but_not_linked(app):
    """R6/G1: a lead taken back from the rep is still named with its topic, but
    no longer linked (it would be a 404)."""
    rep = make_user("rep")
    lead = make_lead(stage=5, sales_ready=True, topic="Gone elsewhere")
    notify(rep.id, "taken_back", f"{lead.name} was given to another rep", lead.id)
    html = page(login(app.test_client(), rep))
    assert "Gone elsewhere" in html and "no longer in your view" in html
    assert f'href="/leads/{lead.id}' not in html


def test_g3_the_rep_is_told_when_marketing_approves_or_declines_their_request(app):
    """G3: approve and decline tell the requester once, with who decided (and
    why, when declined), linking to their requests page."""
    rep = make_user("rep")
    marketer = make_user("marketer", name="Mia Marketer")
    webinar = campaign_requests.submit(rep, "Webinar for CFOs", "CFOs in France", "May")
    mailing = campaign_requests.submit(rep, "Mass mailing", "Everyone", "Now")
    with app.app_context():
        campaign_requests.approve(webinar, marketer)
        campaign_requests.decline(mailing, marketer, "Too broad:\n pick a segment.")
    told = {
        row.text: row.kind
        for row in Notification.select().where(Notification.user == rep.id).order_by(Notification.id)
    }
    assert told == {
        "Your campaign request “Webinar for CFOs” was approved by Mia Marketer: marketing prepares the campaign": "campaign_request",
        "Your campaign request “Mass mailing” was declined by Mia Marketer: Too broad: pick a segment.": "campaign_request",
    }  # fmt: skip
    html = page(login(app.test_client(), rep))
    assert html.count('href="/campaign-requests"') >= 2
    assert not Notification.select().where(Notification.user == marketer.id).exists()


def test_g3_a_request_decided_through_the_page_notifies_once(app):
    """G3: the marketer's Decline button on the requests page is the same service."""
    rep = make_user("rep")
    request = campaign_requests.submit(rep, "Event invite", "Partners", "June")
    marketer = login(app.test_client(), make_user("marketer"))
    headers = {"X-CSRFToken": csrf_token(marketer), "HX-Request": "true"}
    url = f"/marketing/campaign-requests/{request.id}/decline"
    assert marketer.post(url, data={"reason": "No budget"}, headers=headers).status_code == 200
    assert marketer.post(url, data={"reason": "No budget"}, headers=headers).status_code == 409
    assert Notification.select().where(Notification.user == rep.id).count() == 1


# --- contrast (WCAG 2.1 AA) ------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two sRGB colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_mark_read_button_has_at_least_4_5_to_1_contrast(app):
    """WCAG AA: the last rule for ``button.mark-read`` in the served style
    bundle gives its text a colour at least 4.5:1 against its background."""
    with app.app_context():
        _digest, body = assets._bundle(app.static_folder)
    css = body.decode()
    rules = re.findall(r"button\.mark-read\s*\{([^}]*)\}", css)
    assert rules, "no button.mark-read rule in the bundle"
    declared = dict(re.findall(r"(color|background)\s*:\s*(#[0-9a-fA-F]{3,6})", rules[-1]))
    assert contrast(declared["color"], declared["background"]) >= 4.5
    assert contrast("#dfe6ff", "#ffffff") < 4.5  # the header's link colour it used to have on white
