"""``leads.base.db.Shape``: a query's SQL text built once per database and
variant, run with other ids; the rows are those the query itself gives, on
both backends, and an id that does not reach the SQL as a parameter is refused."""

from __future__ import annotations

import pytest

from auth.models import MANAGER, REP, TELEPROSPECTOR
from leads.base.db import Shape, db
from leads.core import lifecycle
from leads.records.models import Lead
from leads.records.queries import lead_for, visible_leads, with_related
from tests.factories import make_lead, make_user


def test_a_shape_gives_the_querys_rows_for_every_id_and_role(app):
    """G1 through the shaped ``lead_for``: each role sees exactly what
    ``visible_leads`` lets it, lead by lead, whichever was asked first."""
    rep, other = make_user(REP), make_user(REP)
    leads = [
        make_lead(owner=rep, stage=lifecycle.SALES_ACCEPTANCE),
        make_lead(owner=other, stage=lifecycle.SALES_ACCEPTANCE),
        make_lead(stage=lifecycle.TP_ACCEPTANCE),
        make_lead(stage=lifecycle.INQUIRY),
    ]
    for user in (rep, other, make_user(TELEPROSPECTOR), make_user(MANAGER)):
        for lead in leads:
            expected = with_related(visible_leads(user)).where(Lead.id == lead.id).first()
            found = lead_for(user, lead.id)
            assert (found and found.id) == (expected and expected.id), (user.role, lead.id)
            if found is not None:  # the related records come with it, as before
                assert found.owner_id == lead.owner_id
                assert (found.owner.name if found.owner_id else None) == (
                    expected.owner.name if expected.owner_id else None
                )
    assert lead_for(rep, 10**9) is None


def test_a_shape_is_built_once_per_database_and_refuses_an_id_that_shapes_the_query(app):
    built = []

    def build(variant, lead_id):
        built.append(variant)
        return Lead.select(Lead.id).where(Lead.id == lead_id)

    shape = Shape(build)
    first, second = make_lead(), make_lead()
    assert [row.id for row in shape.run(first.id)] == [first.id]
    assert [row.id for row in shape.run(second.id)] == [second.id]
    assert [row.id for row in shape.run(second.id, variant="x")] == [second.id]
    assert built == [None, "x"]
    assert "_leadflow_shapes" in db.obj.__dict__  # kept with this database, not shared with another

    unused = Shape(lambda variant, lead_id: Lead.select().where(Lead.id == 1))
    with pytest.raises(ValueError):
        unused.run(first.id)
