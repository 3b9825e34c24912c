"""A job for the process tests: slow enough to be in flight when ``flask
serve`` is told to stop."""

from __future__ import annotations

import time


def slow_write(path: str, seconds: float) -> str:
    """Sleep ``seconds``, then write ``done`` to ``path``; returns the path."""
    time.sleep(seconds)
    with open(path, "w") as handle:
        handle.write("done")
    return path
