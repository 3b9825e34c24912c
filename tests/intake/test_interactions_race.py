"""Identical batches posted at the same moment (E3, O2): each event is stored
once and exactly one request learns it "created" it, so the per-new-event
follow-ups (automatic leads, engagement notifications, re-scoring) run once;
neither request fails. Real threads with their own connections, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading

from leads.base.db import db
from leads.intake import interactions as events
from leads.notify.models import Notification
from leads.records.models import Interaction
from tests.factories import make_contact, make_user

BATCH = 300


def test_e3_two_identical_concurrent_batches_store_and_claim_each_event_once(app):
    rep = make_user("rep")
    integration = make_user("integration")
    contact = make_contact(email="racer@example.test", owner=rep)
    items = [
        {"type": "email_opened", "external_id": f"race-{n}", "source": "esp", "contact_id": contact.id}
        for n in range(BATCH)
    ]
    results: list[list] = []
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def post() -> None:
        try:
            with app.app_context():
                db.connect(reuse_if_open=True)
                start.wait()
                results.append(events.record_interactions(items, integration))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    created = sum(1 for batch in results for result in batch if result.status == events.CREATED)
    duplicates = sum(1 for batch in results for result in batch if result.status == events.DUPLICATE)
    assert (created, duplicates) == (BATCH, BATCH)
    db.connect(reuse_if_open=True)
    assert Interaction.select().where(Interaction.source == "esp").count() == BATCH
    # R2: the owner rep hears once that their contact engaged, not once per request
    assert Notification.select().where(Notification.user == rep.id).count() == 1
