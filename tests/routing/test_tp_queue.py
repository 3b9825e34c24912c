"""The teleprospectors' queue at scale (SPEC W4, P4, G1) on SQLite and PostgreSQL:
paginated like the lead list with no cap, searched by name, email, company or
topic, in tabs per role; "Next lead" claims the oldest unclaimed lead, and two
teleprospectors pressing it at the same moment never get the same lead."""

from __future__ import annotations

import datetime as dt
import re
import threading

from leads.base.db import db
from leads.core import lifecycle as lc
from leads.records.listing import ListParams
from leads.records.models import Lead, LeadHistory
from leads.stages.services import claim_next_lead
from tests.factories import csrf_token, login, make_lead, make_user

HX = {"HX-Request": "true"}
QUEUE = "/queues/teleprospecting"
START = dt.datetime(2026, 1, 1, 9, 0)


def as_user(app, role, **kw):
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def text(response):
    return response.get_data(as_text=True)


def rows_in(html: str) -> list[int]:
    """The lead ids of the queue rows on a page, in order."""
    return [int(lead_id) for lead_id in re.findall(r'id="queue-row-(\d+)"', html)]


def waiting_leads(count: int, stage: int = lc.TP_ACCEPTANCE) -> list[int]:
    """``count`` open leads in ``stage``, a minute apart (the first is the oldest); their ids in that order."""
    Lead.insert_many(
        [
            {
                "topic": f"Topic {n}",
                "first_name": "Wait",
                "last_name": f"Er{n:03d}",
                "email": f"waiter{n}@example.test",
                "stage": stage,
                "ready_for_tp": True,
                "created_at": START + dt.timedelta(minutes=n),
                "updated_at": START,
            }
            for n in range(count)
        ]
    ).execute()
    return [lead.id for lead in Lead.select(Lead.id).order_by(Lead.created_at, Lead.id)]


# -- pagination and search ------------------------------------------------------------------------------


def test_w4_the_queue_pages_past_100_leads_like_the_lead_list(app):
    client, _ = as_user(app, "teleprospector")
    ids = waiting_leads(130)
    per_page = ListParams().per_page  # the lead list's page size
    first = text(client.get(QUEUE))
    assert rows_in(first) == ids[:per_page] and "130" in first and 'rel="next"' in first
    third = text(client.get(f"{QUEUE}?tab=unclaimed&page=3"))
    assert rows_in(third) == ids[2 * per_page : 3 * per_page]
    # 100 a page: page 2 holds lead 101 onwards, the oldest first, no cap on how many wait.
    second = client.get(f"{QUEUE}?tab=unclaimed&per_page=100&page=2", headers=HX)
    html = text(second)
    assert second.status_code == 200 and html.lstrip().startswith('<section id="tp-queue"')
    assert rows_in(html) == ids[100:] and "101–130 of" in html
    assert second.headers["HX-Push-Url"] == f"{QUEUE}?tab=unclaimed&page=2&per_page=100"
    assert 'rel="prev"' in html and f'href="{QUEUE}?tab=unclaimed&amp;per_page=100"' in html


def test_w4_a_page_past_the_end_and_bad_paging_are_said_not_500(app):
    client, _ = as_user(app, "teleprospector")
    waiting_leads(3)
    past = client.get(f"{QUEUE}?tab=unclaimed&page=9")
    assert past.status_code == 200 and "There is no page 9" in text(past)
    bad = client.get(f"{QUEUE}?tab=unclaimed&page=zero&q=" + "x" * 101)
    assert bad.status_code == 200 and "Page must be a whole number" in text(bad)
    assert "Search text must be at most 100 characters." in text(bad) and len(rows_in(text(bad))) == 3


def test_w4_search_finds_by_name_email_company_and_topic(app):
    client, _ = as_user(app, "teleprospector")
    ada = make_lead(stage=3, first_name="Ada", last_name="Byron", company="Analytical Engines")
    bob = make_lead(stage=3, first_name="Bob", email="bob@widgets.test", topic="Warehouse robots")
    cy = make_lead(stage=3, first_name="Cy", company="Zeta Corp", topic="Pricing for Eastern sites")
    make_lead(stage=2, first_name="Ada", last_name="Hidden")  # not in teleprospecting

    def found(q):
        return rows_in(text(client.get(QUEUE, query_string={"tab": "unclaimed", "q": q})))

    assert found("ada") == [ada.id]
    assert found("BYR") == [ada.id]
    assert found("bob@wid") == [bob.id]
    assert found("analytical ada") == [ada.id]  # each word a prefix of some column
    assert found("warehouse") == [bob.id]
    assert found("eastern") == [cy.id]  # a word inside the topic
    assert found("zeta pricing") == [cy.id]  # every word must match
    assert found("nobody") == []
    assert "No lead here matches this search." in text(client.get(QUEUE, query_string={"q": "nobody"}))


# -- tabs per role ----------------------------------------------------------------------------------------


def test_w4_tabs_per_role_unclaimed_mine_and_all_for_managers(app):
    tp_client, tp = as_user(app, "teleprospector")
    other = make_user("teleprospector", name="Olga Other")
    unclaimed = make_lead(stage=3)
    mine = make_lead(stage=4, tp_accepted=True, teleprospector=tp, phone="+33 1 23 45 67 89")
    theirs = make_lead(stage=4, tp_accepted=True, teleprospector=other)

    def tab(client, key):
        response = client.get(QUEUE, query_string={"tab": key})
        assert response.status_code == 200
        return text(response)

    assert rows_in(tab(tp_client, "unclaimed")) == [unclaimed.id]
    own = tab(tp_client, "mine")
    assert rows_in(own) == [mine.id]
    assert 'href="tel:+33123456789"' in own and f'href="mailto:{mine.email}"' in own
    page = text(tp_client.get(QUEUE))
    assert "Unclaimed (stage 3)" in page and "Mine (stage 4)" in page and "Next lead" in page
    assert "All in teleprospecting" not in page
    assert rows_in(page) == [mine.id]  # a teleprospector holding leads starts on them
    # A teleprospector asking for the managers' tab gets their own default, never others' claims.
    assert theirs.id not in rows_in(tab(tp_client, "all"))

    for role in ("manager", "admin"):
        client, _ = as_user(app, role)
        everything = tab(client, "all")
        assert "All in teleprospecting" in everything and "Next lead</button>" not in everything
        assert rows_in(everything) == [unclaimed.id, mine.id, theirs.id]
        assert "Olga Other" in everything
        assert rows_in(text(client.get(QUEUE))) == [unclaimed.id, mine.id, theirs.id]
        assert rows_in(tab(client, "mine")) == []


def test_w4_the_queue_runs_a_fixed_number_of_queries_whatever_the_page_size(app):
    from tests.factories import count_queries

    client, tp = as_user(app, "manager")

    def queries_for():
        with count_queries() as queries:
            assert client.get(f"{QUEUE}?tab=all&per_page=200").status_code == 200
        return len(queries)

    make_lead(stage=3)
    make_lead(stage=4, teleprospector=make_user("teleprospector"))
    few = queries_for()
    waiting_leads(40)
    for _ in range(5):
        make_lead(stage=4, teleprospector=make_user("teleprospector"))
    assert queries_for() == few


# -- Next lead ------------------------------------------------------------------------------------------


def press_next(client):
    return client.post(f"{QUEUE}/next", headers={"X-CSRFToken": csrf_token(client)})


def test_w4_next_lead_claims_the_oldest_unclaimed_lead_and_opens_it(app):
    client, tp = as_user(app, "teleprospector")
    ids = waiting_leads(3)
    claimed_elsewhere = make_lead(stage=4, teleprospector=make_user("teleprospector"))
    Lead.update(created_at=START - dt.timedelta(days=1)).where(Lead.id == claimed_elsewhere.id).execute()
    response = press_next(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/leads/{ids[0]}")
    fresh = Lead.get_by_id(ids[0])
    assert (fresh.stage, fresh.teleprospector_id, fresh.tp_accepted) == (lc.TP_QUALIFICATION, tp.id, True)
    entry = LeadHistory.get((LeadHistory.lead == ids[0]) & (LeadHistory.kind == "stage"))
    assert (entry.old_value, entry.new_value, entry.actor_id, entry.via) == ("3", "4", tp.id, "next lead")
    page = text(client.get(response.headers["Location"]))
    assert "is yours now: the oldest lead waiting." in page
    assert press_next(client).headers["Location"].endswith(f"/leads/{ids[1]}")


def test_w4_next_lead_with_nothing_waiting_says_so(app):
    client, _ = as_user(app, "teleprospector")
    make_lead(stage=4, teleprospector=make_user("teleprospector"))
    response = press_next(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{QUEUE}?tab=unclaimed")
    assert "No unclaimed lead is waiting" in text(client.get(response.headers["Location"]))


def test_w4_after_handing_a_lead_on_from_its_page_next_lead_is_offered(app):
    client, tp = as_user(app, "teleprospector")
    waiting_leads(1)
    lead = make_lead(stage=4, tp_accepted=True, teleprospector=tp)
    headers = {"X-CSRFToken": csrf_token(client), **HX}
    response = client.post(
        f"/leads/{lead.id}/actions/disqualify", data={"reason": "no_budget"}, headers=headers
    )
    html = text(response)
    assert response.status_code == 200 and "has left your view" in html
    assert f'action="{QUEUE}/next"' in html and "Next lead</button>" in html
    # Without htmx: back to the queue, which offers Next lead at the top.
    handed = make_lead(stage=3, teleprospector=None)
    plain = client.post(
        f"/leads/{handed.id}/actions/sales_ready", headers={"X-CSRFToken": csrf_token(client)}
    )
    assert plain.status_code == 302 and plain.headers["Location"].endswith(QUEUE)
    queue = text(client.get(QUEUE))
    assert "Marked sales-ready: handed to sales. The lead has left your view." in queue
    assert "Next lead</button>" in queue


def test_w4_two_teleprospectors_pressing_next_lead_at_once_never_get_the_same_lead(app):
    """Real threads with their own connections, released by one barrier, each
    pressing Next lead over and over until the leads run out."""
    leads = 24
    waiting_leads(leads)
    people = [make_user("teleprospector"), make_user("teleprospector")]
    got: dict[int, list[int]] = {person.id: [] for person in people}
    failures: list[BaseException] = []
    start = threading.Barrier(len(people))

    def press(person) -> None:
        try:
            with app.app_context():
                db.connect(reuse_if_open=True)
                start.wait()
                while (lead := claim_next_lead(person)) is not None:
                    got[person.id].append(lead.id)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=press, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    claimed = [lead_id for ids in got.values() for lead_id in ids]
    assert len(claimed) == leads and len(set(claimed)) == leads  # every lead once, none twice
    db.connect(reuse_if_open=True)
    for person in people:
        holders = Lead.select(Lead.id).where(Lead.teleprospector == person.id)
        assert sorted(lead.id for lead in holders) == sorted(got[person.id])
    accepts = LeadHistory.select().where((LeadHistory.kind == "stage") & (LeadHistory.new_value == "4"))
    assert accepts.count() == leads  # one accept recorded per lead
