"""How the sales rollup (SPEC D1) is kept: one slice of ``reports.sales.rollup``
per sweep (then the rep days), and ``refresh_rollup`` as a job for a first
build (``reports.sweeping``)."""

from __future__ import annotations

from reports.sales import rollup
from reports.sweeping import KeptRollup

KEPT = KeptRollup("sales_rollup", rollup, counted="facts")


def refresh_rollup() -> dict:
    """D1: bring the whole rollup up to date; returns what it rewrote."""
    return KEPT.refresh()


sweep_rollup = KEPT.sweep
connect = KEPT.connect
