"""How fast the pure router is: routing decisions per second with 10 assignment
rules and 50 reps (4 product lines, 3 teams, some away, full or deactivated),
for leads that stop at different rules.

Run: ``.venv/bin/python bench/router.py [seconds per measure]``.
No database, no Redis: this is the ceiling the routing job works under.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leads.core.conditions import Facts  # noqa: E402
from routing.router import Rep, Rule, route, with_scores  # noqa: E402

NOW = dt.datetime(2024, 6, 3, 9, 0)
LINES, TEAMS = (1, 2, 3, 4), (1, 2, 3)


def _cond(entity, field, operator, value=None) -> dict:
    return {"entity": entity, "field": field, "operator": operator, "value": value}


def make_rules() -> list[Rule]:
    """10 rules as a manager might write them: owners first, strategic accounts,
    product lines by territory, a score rule, then a catch-all."""
    data = [
        {"name": "Relationship owners", "strategy": "relationship_owner"},
        {
            "name": "Strategic accounts",
            "conditions": {
                "op": "and",
                "items": [
                    _cond("account", "employee_count", "gte", 5000),
                    _cond("account", "industry", "in_list", ["Banking", "Insurance"]),
                ],
            },
            "strategy": "named_user",
            "user_id": 1,
            "fallback": "least_loaded",
            "pool": "team",
            "team_id": 1,
        },
    ]
    for line in LINES:
        data.append(
            {
                "name": f"Line {line} in DACH",
                "conditions": {
                    "op": "and",
                    "items": [
                        _cond("lead", "product_line_id", "equals", line),
                        _cond("lead", "country", "in_list", ["DE", "AT", "CH"]),
                    ],
                },
                "strategy": "least_loaded",
                "pool": "product_line",
                "team_id": 2,
            }
        )
    data.append(
        {
            "name": "Hot leads",
            "conditions": {
                "op": "or",
                "items": [_cond("lead", "score:1", "gte", 90), _cond("lead", "source", "equals", "demo")],
            },
            "strategy": "round_robin",
            "pool": "team",
            "team_id": 3,
        }
    )
    data.append(
        {
            "name": "Product lines",
            "conditions": _cond("lead", "product_line_id", "is_not_empty"),
            "strategy": "round_robin",
            "pool": "product_line",
        }
    )
    data.append(
        {
            "name": "Spam",
            "conditions": _cond("lead", "email", "contains", "@example."),
            "strategy": "unassigned",
        }
    )
    data.append({"name": "Everyone else", "strategy": "round_robin", "pool": "all"})
    return [Rule.from_dict({"id": index, **item}) for index, item in enumerate(data, 1)]


def make_reps(count: int = 50, seed: int = 3) -> list[Rep]:
    """``count`` reps with capacity 20, mostly one product line each, a few away,
    full or deactivated, and round-robin pointers in every pool."""
    rng = random.Random(seed)
    pools = [f"product_line:{line}" for line in LINES] + [f"team:{team}" for team in TEAMS] + ["all"]
    reps = []
    for rep_id in range(1, count + 1):
        away = rng.random() < 0.1
        reps.append(
            Rep(
                id=rep_id,
                name=f"Rep {rep_id}",
                capacity=20,
                open_leads=rng.randint(0, 22),
                active=rng.random() > 0.04,
                team_id=rng.choice(TEAMS),
                product_line_ids=frozenset(rng.sample(LINES, 2 if rng.random() < 0.2 else 1)),
                away_from=NOW - dt.timedelta(days=1) if away else None,
                away_until=NOW + dt.timedelta(days=2) if away else None,
                last_assigned_at={
                    pool: NOW - dt.timedelta(minutes=rng.randint(1, 5000))
                    for pool in pools
                    if rng.random() < 0.8
                },
            )
        )
    return reps


LEADS = {
    # Stops at rule 8 (product line round robin, ~15 reps) after 7 rules that do not match.
    "product line (rule 8)": with_scores(
        Facts(lead={"product_line_id": 2, "country": "FR", "source": "web"}, contact={"country": "FR"}),
        {1: 40},
    ),
    # Stops at rule 3 (least loaded within a product line and a team).
    "DACH line (rule 3)": with_scores(
        Facts(lead={"product_line_id": 1, "country": "DE", "source": "web"}), {1: 40}
    ),
    # Relationship owner: rule 1 decides at once (the contact's owner is full: the account's).
    "owner (rule 1)": Facts(lead={"product_line_id": 2}, contact={"owner_id": 7}, account={"owner_id": 8}),
    # No product line: every rule is tried, round robin over all 50 reps.
    "catch-all (rule 10, 50 reps)": with_scores(Facts(lead={"country": "FR", "source": "web"}), {1: 10}),
}


def per_second(work, seconds: float) -> tuple[float, float]:
    """How many times ``work()`` runs per second of wall time and of this process's
    CPU time (steadier on a shared machine), over ``seconds``."""
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            work()
        count += 100
    return count / elapsed, count / (time.process_time() - cpu_start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    rules, reps = make_rules(), make_reps()
    print(f"{len(rules)} rules × {len(reps)} reps; decisions per second (wall / CPU):")
    for label, facts in LEADS.items():
        decision = route(rules, facts, reps, NOW)
        wall, cpu = per_second(lambda facts=facts: route(rules, facts, reps, NOW), seconds)
        print(
            f"  {label:30} {wall:>9,.0f} / {cpu:>9,.0f}   "
            f"→ rule {decision.rule_id}, {decision.strategy}, rep {decision.rep_id}, "
            f"{len(decision.trace)} trace lines"
        )
    mixed = list(LEADS.values())
    wall, cpu = per_second(lambda: [route(rules, facts, reps, NOW) for facts in mixed], seconds)
    print(f"  {'mix of the four':30} {wall * len(mixed):>9,.0f} / {cpu * len(mixed):>9,.0f}")


if __name__ == "__main__":
    main()
