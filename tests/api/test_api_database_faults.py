"""O2 (issue 11, point 6): an API write whose transaction PostgreSQL ends with a
deadlock or a serialization failure is served again, whole, never a 500; one
that keeps failing is a 503 with Retry-After and nothing stored. The failures
are real PostgreSQL errors (SQLSTATE 40P01 and 40001) raised by a trigger on
the table the call writes, the first time (a sequence counts the attempts,
outside every transaction) or every time."""

from __future__ import annotations

import pytest

from auth.sessions import issue_token
from leads.base.db import db
from leads.records.models import Account, Contact, Lead
from tests.conftest import PG_AVAILABLE, PG_URL, make_app
from tests.factories import make_lead, make_user


@pytest.fixture
def pg_app(database_urls, redis_url, tmp_root):
    if not PG_AVAILABLE:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}; this PostgreSQL run is skipped")
    app = make_app(database_urls["postgres"], redis_url, tmp_root)
    db.connect(reuse_if_open=True)
    yield app
    db.execute_sql("DROP TRIGGER IF EXISTS fault ON lead")
    db.execute_sql("DROP TRIGGER IF EXISTS fault ON contact")
    db.execute_sql("DROP TRIGGER IF EXISTS fault ON account")
    db.execute_sql("DROP TRIGGER IF EXISTS fault ON interaction")
    db.execute_sql("DROP FUNCTION IF EXISTS fault_once()")
    db.execute_sql("DROP SEQUENCE IF EXISTS fault_attempts")
    db.close()


def _fail(table: str, code: str, times: int) -> None:
    """The next ``times`` writes to ``table`` end with SQLSTATE ``code``."""
    db.execute_sql("DROP SEQUENCE IF EXISTS fault_attempts")
    db.execute_sql("CREATE SEQUENCE fault_attempts")
    db.execute_sql(
        f"""CREATE OR REPLACE FUNCTION fault_once() RETURNS trigger AS $$
        BEGIN
          IF nextval('fault_attempts') <= {times} THEN
            RAISE EXCEPTION 'injected fault' USING ERRCODE = '{code}';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql"""
    )
    db.execute_sql(f"DROP TRIGGER IF EXISTS fault ON {table}")
    db.execute_sql(
        f"CREATE TRIGGER fault BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION fault_once()"
    )


def _attempts() -> int:
    return db.execute_sql("SELECT last_value FROM fault_attempts").fetchone()[0]


def _calls(lead: Lead):
    """(table the call writes, method, path, body, check that it was stored)."""
    return {
        "lead update": (
            "lead",
            "patch",
            f"/api/v1/leads/{lead.id}",
            {"first_name": "Retried"},
            lambda: Lead.get_by_id(lead.id).first_name == "Retried",
        ),
        "contact create": (
            "contact",
            "post",
            "/api/v1/contacts",
            {"first_name": "Ann", "email": "ann@retry.example.com"},
            lambda: Contact.select().where(Contact.email == "ann@retry.example.com").exists(),
        ),
        "account create": (
            "account",
            "post",
            "/api/v1/accounts",
            {"name": "Retry Ltd"},
            lambda: Account.select().where(Account.name == "Retry Ltd").exists(),
        ),
        "lead create": (
            "lead",
            "post",
            "/api/v1/leads",
            {"topic": "Pricing", "first_name": "New", "email": "new@retry.example.com"},
            lambda: Lead.select().where(Lead.email == "new@retry.example.com").exists(),
        ),
    }


@pytest.mark.parametrize("code", ["40P01", "40001"])
@pytest.mark.parametrize("call", ["lead update", "contact create", "account create", "lead create"])
def test_o2_an_api_write_ended_by_a_deadlock_is_served_again_not_a_500(pg_app, call, code):
    lead = make_lead(first_name="Old")
    headers = {"Authorization": f"Bearer {issue_token(make_user('manager'), 'sync')}"}
    table, method, path, body, stored = _calls(lead)[call]
    _fail(table, code, times=1)
    answer = getattr(pg_app.test_client(), method)(path, json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.get_json()
    assert stored()
    assert _attempts() == 2  # the failed one, and the one that was served


def test_o2_an_api_write_that_keeps_deadlocking_is_a_503_with_retry_after_and_stores_nothing(pg_app):
    lead = make_lead(first_name="Old")
    headers = {"Authorization": f"Bearer {issue_token(make_user('manager'), 'sync')}"}
    _fail("lead", "40P01", times=100)
    answer = pg_app.test_client().patch(
        f"/api/v1/leads/{lead.id}", json={"first_name": "Never"}, headers=headers
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    assert answer.get_json()["errors"][0]["reason"].startswith("The database is busy")
    assert Lead.get_by_id(lead.id).first_name == "Old"
    assert _attempts() == 3  # tried a bounded number of times


def test_o2_a_request_whose_connection_the_database_ends_is_a_503_and_the_next_one_works(pg_app):
    """O2 (issue 11, point 1, on the web side): PostgreSQL ends the request's
    connection mid-write (the trigger terminates its own backend, as a restart
    or failover would): the answer is a 503 with Retry-After, never a 500,
    nothing was stored, and the next request gets a healthy connection."""
    lead = make_lead(first_name="Old")
    headers = {"Authorization": f"Bearer {issue_token(make_user('manager'), 'sync')}"}
    db.execute_sql("DROP SEQUENCE IF EXISTS fault_attempts")
    db.execute_sql("CREATE SEQUENCE fault_attempts")
    db.execute_sql(
        """CREATE OR REPLACE FUNCTION fault_once() RETURNS trigger AS $$
        BEGIN
          IF nextval('fault_attempts') <= 1 THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql"""
    )
    db.execute_sql("CREATE TRIGGER fault BEFORE UPDATE ON lead FOR EACH ROW EXECUTE FUNCTION fault_once()")
    client = pg_app.test_client()
    answer = client.patch(f"/api/v1/leads/{lead.id}", json={"first_name": "Cut"}, headers=headers)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"].isdigit()
    assert "connection was lost" in answer.get_json()["errors"][0]["reason"]
    again = client.patch(f"/api/v1/leads/{lead.id}", json={"first_name": "Again"}, headers=headers)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert Lead.get_by_id(lead.id).first_name == "Again"


def test_o2_interactions_that_keep_deadlocking_are_tried_three_times_in_all_not_nine(pg_app):
    """O2: storing interactions retries a deadlock of its own when a job calls it;
    inside an API call, which is retried whole, it runs once per attempt, so a
    request that keeps failing is tried 3 times (not 3 × 3) and answered 503."""
    lead = make_lead(email="ev@retry.example.com")
    headers = {"Authorization": f"Bearer {issue_token(make_user('manager'), 'sync')}"}
    _fail("interaction", "40P01", times=100)
    answer = pg_app.test_client().post(
        "/api/v1/interactions",
        json={"type": "email_opened", "email": lead.email, "external_id": "ev-1"},
        headers=headers,
    )
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert _attempts() == 3


def test_o2_interactions_stored_outside_a_request_retry_a_deadlock_of_their_own(pg_app):
    """O2: the same store called by a job (no request around it) is tried again
    after a deadlock and stores the event once."""
    from leads.intake.interactions import CREATED, record_interactions

    lead = make_lead(email="job@retry.example.com")
    _fail("interaction", "40001", times=1)
    with pg_app.app_context():
        (result,) = record_interactions(
            [{"type": "email_opened", "email": lead.email, "external_id": "job-1"}], make_user("manager")
        )
    assert result.status == CREATED
    assert _attempts() == 2
