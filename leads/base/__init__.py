"""Plumbing every area of ``leads`` shares: the database handle and base model, bulk writes, the queue, long-running tasks, migrations and the domain signals."""
