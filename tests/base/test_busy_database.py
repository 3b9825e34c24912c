"""O2: a writer frozen while it holds SQLite's write lock makes others wait at
most the busy timeout; a request that cannot get the lock answers 503 with
Retry-After and a reason (the transaction rolled back whole, nothing was
stored: the client tries again), never a 500."""

from __future__ import annotations

import sqlite3

from auth.sessions import issue_token
from leads.base.db import SQLITE_PRAGMAS, db
from leads.records.models import Interaction
from tests.factories import make_contact, make_user


def test_o2_a_post_that_cannot_get_the_write_lock_answers_503_and_stores_nothing(sqlite_app):
    contact = make_contact(email="busy@example.test")
    headers = {"Authorization": f"Bearer {issue_token(make_user('integration'), 'busy')}"}
    item = {"type": "email_opened", "external_id": "busy-1", "contact_id": contact.id}
    holder = sqlite3.connect(db.obj.database, timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # a frozen worker holding the write lock
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("PRAGMA busy_timeout = 200")  # this connection waits 0.2 s, not 10
        answer = sqlite_app.test_client().post("/api/v1/interactions", json=item, headers=headers)
    finally:
        holder.rollback()
        holder.close()
        db.connect(reuse_if_open=True)  # the request gave it back to the pool: take it, reset it
        db.execute_sql(f"PRAGMA busy_timeout = {SQLITE_PRAGMAS['busy_timeout']}")
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json()["errors"][0]["reason"].startswith("The database is busy")
    assert not Interaction.select().where(Interaction.external_id == "busy-1").exists()
    retry = sqlite_app.test_client().post("/api/v1/interactions", json=item, headers=headers)
    assert retry.status_code == 201 and retry.get_json()["created"] == 1
