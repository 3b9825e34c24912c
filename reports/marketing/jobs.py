"""How the marketers' dashboard's rollup (SPEC D2) is kept, as the sales
rollup is (``reports.sales.jobs``).

- ``sweep_rollup``: the sweeper's turn (every 15 s, one worker at a time): one
  slice of ``reports.marketing.rollup`` (up to 2,000 changed leads), so the
  figures follow within a sweep or two. A slice that fails is logged and the
  next sweep tries again; the other areas' turns are not held up.
- ``refresh_rollup()``: every slice until caught up, as an RQ job (takes no
  ids, safe to run twice: it recomputes from the source rows), for a first
  build of a large install or after a large import.
"""

from __future__ import annotations

import datetime as dt
import logging

from leads.base import signals
from reports.marketing import rollup

log = logging.getLogger(__name__)


def refresh_rollup() -> dict:
    """D2: bring the whole rollup up to date; returns how many leads it read."""
    return rollup.refresh()


def sweep_rollup(sender=None, *, now: dt.datetime, **_) -> dict:
    """The sweeper's turn: one slice of the rollup."""
    try:
        done = rollup.refresh_slice(now)
    except Exception:  # a report must never stop the sweep of scoring, routing, mail
        log.warning("marketing rollup: slice failed; the next sweep tries again", exc_info=True)
        return {"marketing_rollup": "failed"}
    return {"marketing_rollup": done["leads"]}


def connect() -> None:
    """Connect the rollup to the sweeper (once, at app set-up)."""
    signals.sweep_due.connect(sweep_rollup, weak=False)
