"""Whether one segment implies another: every lead that ``narrow`` holds for,
``broad`` holds for too (``implies(narrow, broad)``). Pure, no framework.

It is sound, not complete: True is a proof over the semantics of
``leads.core.conditions`` (empty values, lists matching by any item, text
compared case-insensitively, numbers as numbers); False means "not shown", so
a caller that acts on True (the assignment rules' "shadowed by" warning) never
acts wrongly. What it proves:

- AND / OR structure: a narrow OR implies when each of its items does; a broad
  AND when the narrow side implies each of its items; a narrow AND when one of
  its items implies the broad side; a broad OR when the narrow side implies one
  of its items.
- Leaves on the same entity and field: the same condition; anything but "is
  empty" implies "is not empty"; "equals v" / "is one of L" implies "is one of
  M" when every value of L is in M; "contains s" implies "contains t" when t is
  in s; and number ranges (> ≥ < ≤, and equals / is one of numbers) that fit in
  the broad range.

Dates, "does not equal" and conditions on different fields are never claimed.
"""

from __future__ import annotations

from decimal import Decimal

# ``_number`` and ``_operand`` are the language's own readings of a value, so a
# proof here reads values exactly as the conditions evaluate them.
from leads.core.conditions import AND, UNARY, Condition, Group, _number, _operand

_POINTS = ("equals", "in_list")
_LOWER = ("gt", "gte")
_UPPER = ("lt", "lte")


def implies(narrow: Group | Condition | None, broad: Group | Condition | None) -> bool:
    """True when every lead ``narrow`` holds for is also held by ``broad`` (None:
    every lead); False when that is not proved."""
    if broad is None:
        return True
    if narrow is None:
        return False  # "every lead" implies only "every lead" here
    if isinstance(narrow, Group) and (narrow.op != AND or len(narrow.items) == 1):
        return bool(narrow.items) and all(implies(item, broad) for item in narrow.items)
    if isinstance(broad, Group) and (broad.op == AND or len(broad.items) == 1):
        return all(implies(narrow, item) for item in broad.items)
    if isinstance(narrow, Group):  # an AND of several
        return any(implies(item, broad) for item in narrow.items)
    if isinstance(broad, Group):  # an OR of several
        return any(implies(narrow, item) for item in broad.items)
    return leaf_implies(narrow, broad)


def leaf_implies(narrow: Condition, broad: Condition) -> bool:
    """Whether condition ``narrow`` implies condition ``broad`` (see the module)."""
    if (narrow.entity, narrow.field) != (broad.entity, broad.field):
        return False
    if _same(narrow, broad):
        return True
    if broad.operator == "is_not_empty":
        # Every operator but "is empty" is false on an empty value.
        return narrow.operator != "is_empty"
    if narrow.operator in UNARY or broad.operator in UNARY:
        return False
    if broad.operator == "in_list" and narrow.operator in _POINTS:
        wanted = set(_operands(broad))
        return all(operand in wanted for operand in _operands(narrow))
    if broad.operator == "equals" and narrow.operator == "in_list":
        return set(_operands(narrow)) == set(_operands(broad))
    if broad.operator == "contains" and narrow.operator == "contains":
        return _operands(broad)[0].text in _operands(narrow)[0].text
    return _within_range(narrow, broad)


def _same(a: Condition, b: Condition) -> bool:
    return a.operator == b.operator and _operands(a) == _operands(b)


def _operands(condition: Condition) -> tuple:
    if condition.operator in UNARY:
        return ()
    values = condition.value if condition.operator == "in_list" else (condition.value,)
    return tuple(_operand(value) for value in values)


def _numbers(condition: Condition) -> list[Decimal] | None:
    """The condition's values as numbers, or None when one is not a number."""
    values = condition.value if condition.operator == "in_list" else (condition.value,)
    numbers = [_number(value) for value in values]
    return None if not numbers or any(number is None for number in numbers) else numbers


def _within_range(narrow: Condition, broad: Condition) -> bool:
    """Number ranges: whatever value passes ``narrow`` passes ``broad``."""
    if broad.operator not in (*_LOWER, *_UPPER):
        return False
    bounds, limits = _numbers(narrow), _numbers(broad)
    if bounds is None or limits is None:
        return False
    limit = limits[0]
    if narrow.operator in _POINTS:
        return all(_passes(point, broad.operator, limit) for point in bounds)
    bound = bounds[0]
    if broad.operator in _LOWER and narrow.operator in _LOWER:
        # x > b (or ≥ b) ⇒ x ≥ a when a ≤ b; ⇒ x > a when a < b, or a = b and narrow is strict.
        strict_ok = narrow.operator == "gt" or broad.operator == "gte"
        return limit < bound or (limit == bound and strict_ok)
    if broad.operator in _UPPER and narrow.operator in _UPPER:
        strict_ok = narrow.operator == "lt" or broad.operator == "lte"
        return limit > bound or (limit == bound and strict_ok)
    return False


def _passes(point: Decimal, operator: str, limit: Decimal) -> bool:
    return {
        "gt": point > limit,
        "gte": point >= limit,
        "lt": point < limit,
        "lte": point <= limit,
    }[operator]
