"""URL converters: an ``<int:...>`` part of a path is a number the databases can
compare, so a larger one matches no route (404) instead of overflowing the
SQLite driver (500). ``app.py`` registers it as the ``int`` converter, for every
route of every blueprint."""

from __future__ import annotations

import builtins

from werkzeug.routing import IntegerConverter

from leads.core.numbers import MAX_INT64, MIN_INT64


def up_to(limit: int) -> str:
    """A regular expression (no groups) of the decimal numbers from 0 to ``limit``,
    leading zeros allowed: shorter numbers, or as long with a smaller digit where
    they first differ, or ``limit`` itself."""
    digits = str(limit)
    options = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        rest = len(digits) - i - 1
        if digit != "0":
            options.append(digits[:i] + f"[0-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    options.append(digits)
    return "0*(?:" + "|".join(options) + ")"


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to the 64-bit signed range (a route's own ``min`` and
    ``max`` may narrow it, never widen it).

    The bound is in the regular expression, not only in ``to_python``: werkzeug
    answers 405 when a path's shape matches a rule of another method, before it
    converts the value, so a bound checked only after matching would turn some
    404s into 405s."""

    regex = up_to(MAX_INT64)

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        low = MIN_INT64 if min is None else builtins.max(min, MIN_INT64)
        high = MAX_INT64 if max is None else builtins.min(max, MAX_INT64)
        super().__init__(map, fixed_digits=fixed_digits, min=low, max=high, signed=signed)
