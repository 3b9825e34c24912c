"""The sales rollup's job (SPEC D1) and how it follows the sweeper.

- ``refresh_rollup()``: brings ``reports.sales.models`` up to date
  (``reports.sales.rollup.refresh``); safe to run twice, as it recomputes
  from the source rows.
- ``sweep_rollup``: the sweeper's turn (every 15 s): enqueue the refresh at
  most once a minute (a Redis key with a minute's expiry, then a job id per
  minute), so the dashboards are never more than about a minute behind.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from leads.base import signals
from leads.base.queue import enqueue, get_redis
from reports.sales import rollup

EVERY_SECONDS = 60


def refresh_rollup() -> dict:
    """D1: recompute the facts of the leads changed since the last run and the
    rep days since then; returns what it rewrote."""
    return rollup.refresh()


def sweep_rollup(sender=None, *, now: dt.datetime, **_) -> dict:
    """The sweeper's turn: enqueue ``refresh_rollup`` when a minute has passed."""
    key = f"{current_app.config.get('QUEUE_PREFIX', 'leadflow')}:sales-rollup:due"
    if not get_redis().set(key, now.isoformat(), nx=True, ex=EVERY_SECONDS):
        return {"sales_rollup": 0}
    enqueue("reports.sales.jobs.refresh_rollup", job_id=f"sales-rollup-{now:%Y%m%d%H%M}", timeout=1800)
    return {"sales_rollup": 1}


def connect() -> None:
    """Connect the rollup to the sweeper (once, at app set-up)."""
    signals.sweep_due.connect(sweep_rollup, weak=False)
