"""The domain's signals (O1): what happened, sent by the one service function of
each action, whatever the door (page, fragment, queue button, API, import,
capture, job or command).

Follow-ups (re-scoring, routing, accept/decline bookkeeping, notifications,
webhooks) connect to them once, at app set-up (``app.py``), so a door never
wires a follow-up itself and a lower package never imports a higher one to
call it. Signals are sent inside the action's transaction: a receiver writes
its rows there (committed or rolled back with the change) and defers queue
work with ``leads.base.db.on_commit``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: New leads were stored. ``lead_ids``, ``user`` (None: the system), ``via``.
lead_created = _signals.signal("lead-created")

#: Fields of stored records changed. ``lead_ids``, ``contact_ids``,
#: ``account_ids`` (the contacts' old and new accounts included), ``cause``.
records_changed = _signals.signal("records-changed")

#: A stage action was applied to a lead. ``lead`` (fresh), ``action``,
#: ``before`` (the ``LeadState`` it was applied to), ``user`` (None: the
#: system), ``note``, ``via``.
action_done = _signals.signal("action-done")

#: New interactions were stored (E3: duplicates are not). ``interactions``
#: (the stored rows), ``lead_ids`` (the leads whose scores they touch).
interactions_stored = _signals.signal("interactions-stored")

#: The qualification criteria or a model threshold qualified leads (Q2, S5).
#: ``qualified`` and ``sales_ready``: lists of lead ids.
leads_qualified = _signals.signal("leads-qualified")

#: The safety net's turn (every few seconds, from a worker). ``now``.
sweep_due = _signals.signal("sweep-due")
