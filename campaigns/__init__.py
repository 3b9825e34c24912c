"""Campaigns (G1–G3, R8): product lines and campaigns, launching to the outbox, replies routed to reps, campaign requests."""
