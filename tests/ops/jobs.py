"""Jobs for the process and log tests: one slow enough to be in flight when
``flask serve`` is told to stop, one that fails."""

from __future__ import annotations

import time


def slow_write(path: str, seconds: float) -> str:
    """Sleep ``seconds``, then write ``done`` to ``path``; returns the path."""
    time.sleep(seconds)
    with open(path, "w") as handle:
        handle.write("done")
    return path


def fail(message: str) -> None:
    """Raise RuntimeError(``message``): a job that fails."""
    raise RuntimeError(message)
