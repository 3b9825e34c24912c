"""How the marketers' dashboard's rollup (SPEC D2) is kept, as the sales one
is: one slice of ``reports.marketing.rollup`` per sweep, and ``refresh_rollup``
as a job for a first build (``reports.sweeping``)."""

from __future__ import annotations

from reports.marketing import rollup
from reports.sweeping import KeptRollup

KEPT = KeptRollup("marketing_rollup", rollup, counted="leads")


def refresh_rollup() -> dict:
    """D2: bring the whole rollup up to date; returns how many leads it read."""
    return KEPT.refresh()


sweep_rollup = KEPT.sweep
connect = KEPT.connect
