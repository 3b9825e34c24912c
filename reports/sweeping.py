"""How a dashboard's rollup is kept (SPEC D1, D2), the same for each.

- The sweeper's turn (every 15 s, one worker at a time): one slice of the
  rollup (up to 2,000 changed leads), run in the sweeper's thread, so the
  figures follow within a sweep or two and the job queues never wait behind
  a report. A slice that fails is logged and the next sweep tries again; the
  other areas' turns are not held up.
- ``refresh()``: every slice until caught up, as an RQ job (it takes no ids
  and is safe to run twice: it recomputes from the source rows), for a first
  build of a large install or after a large import.
"""

from __future__ import annotations

import datetime as dt
import logging
from types import ModuleType

from leads.base import signals

log = logging.getLogger(__name__)


class KeptRollup:
    """A rollup module (``refresh``, ``refresh_slice``) kept by the sweeper;
    ``counted`` names what a slice's answer counts, for the sweep's log line."""

    def __init__(self, name: str, rollup: ModuleType, counted: str):
        self.name, self.rollup, self.counted = name, rollup, counted

    def refresh(self) -> dict:
        return self.rollup.refresh()

    def sweep(self, sender=None, *, now: dt.datetime, **_) -> dict:
        """The sweeper's turn: one slice of the rollup."""
        try:
            done = self.rollup.refresh_slice(now)
        except Exception:  # a report must never stop the sweep of scoring, routing, mail
            log.warning("%s: slice failed; the next sweep tries again", self.name, exc_info=True)
            return {self.name: "failed"}
        return {self.name: done[self.counted]}

    def connect(self) -> None:
        """Connect the rollup to the sweeper (once, at app set-up)."""
        signals.sweep_due.connect(self.sweep, weak=False)
