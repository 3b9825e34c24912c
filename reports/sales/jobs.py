"""How the sales rollup (SPEC D1) is kept.

- ``sweep_rollup``: the sweeper's turn (every 15 s, one worker at a time):
  one slice of ``reports.sales.rollup`` (up to 2,000 changed leads, then the
  rep days), run in the sweeper's thread, so the figures follow within a
  sweep or two and the job queues never wait behind a report. A slice that
  fails is logged and the next sweep tries again; the other areas' turns are
  not held up.
- ``refresh_rollup()``: every slice until caught up, as an RQ job (take no
  ids, safe to run twice: it recomputes from the source rows), for a first
  build of a large install or after a large import.
"""

from __future__ import annotations

import datetime as dt
import logging

from leads.base import signals
from reports.sales import rollup

log = logging.getLogger(__name__)


def refresh_rollup() -> dict:
    """D1: bring the whole rollup up to date; returns what it rewrote."""
    return rollup.refresh()


def sweep_rollup(sender=None, *, now: dt.datetime, **_) -> dict:
    """The sweeper's turn: one slice of the rollup."""
    try:
        done = rollup.refresh_slice(now)
    except Exception:  # a report must never stop the sweep of scoring, routing, mail
        log.warning("sales rollup: slice failed; the next sweep tries again", exc_info=True)
        return {"sales_rollup": "failed"}
    return {"sales_rollup": done["facts"]}


def connect() -> None:
    """Connect the rollup to the sweeper (once, at app set-up)."""
    signals.sweep_due.connect(sweep_rollup, weak=False)
