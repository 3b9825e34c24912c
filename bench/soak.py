"""Soak with faults (O2, S4): a steady stream of clicks through the API for
``--minutes`` (default 10) while two real ``flask worker`` processes score
them, and one fault every ``--fault-every`` seconds (default 60), cycling:

- **kill -9** of a worker's whole process group (its RQ scheduler included);
  a new worker starts in its place, as a process supervisor would;
- **Redis restart**: FLUSHALL, then the redis-server killed and started again,
  empty, on the same port (every queued job lost);
- **backend termination** (PostgreSQL only): every connection of the install
  ended from outside, as a failover does.

Nobody repairs anything after a fault: the pipeline must heal by itself.

Printed at the end (and written to ``bench/results/soak-<backend>.json``):
events sent and acknowledged, lost (acknowledged but not stored), stored
twice, wrong scores once the load stops (a lead's stored score against 10 ×
its stored clicks), the worst time to heal (from a fault ending until every
click posted before it is in its lead's score), p50/p95 event → score latency
of the batches posted outside fault windows (a fault window runs from the
fault until it healed), and the answers that were not a success.

It drives the same install as the fault tests (``tests/faults``): a
redis-server of its own on a free port, the app on a fresh database (SQLite
file, or a throw-away PostgreSQL database ``leadflow_bench_<pid>``), and
``flask worker`` processes in their own process groups, all killed at the end.

Run from the repository root:
    .venv/bin/python bench/soak.py                       # PostgreSQL if it answers, else SQLite
    .venv/bin/python bench/soak.py --backend sqlite --minutes 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import throwaway_pg_database  # noqa: E402
from leads.base.db import db  # noqa: E402
from leads.records.models import Interaction  # noqa: E402
from leads.scoring.models import LeadScore  # noqa: E402
from tests.conftest import PG_AVAILABLE  # noqa: E402
from tests.faults.test_healing import (  # noqa: E402
    Install,
    api_token,
    live_clicks_model,
    make_leads,
    score_faults,
    terminate_backends,
)

POINTS = 10


class Load:
    """One batch of ``--rate`` clicks per second, each on the next lead in turn;
    remembers, per batch, when it was acknowledged and what each of its leads'
    scores must at least be once it is scored."""

    def __init__(self, app, token: str, leads: list[int], rate: int):
        self.client, self.token, self.leads, self.rate = app.test_client(), token, leads, rate
        self.clicks: dict[int, int] = {}
        self.batches: list[dict] = []  # {at, expect: {lead: min score}, scored_at}
        self.sent = self.acknowledged = 0
        self.not_ok: dict = {}
        self.next_lead = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        for n in range(10**9):
            if self.stopped.is_set():
                return
            self.post(n)
            time.sleep(max(0.0, start + n + 1 - time.monotonic()))

    def post(self, n: int) -> None:
        chosen = [self.leads[(self.next_lead + i) % len(self.leads)] for i in range(self.rate)]
        self.next_lead += self.rate
        body = [{"type": "email_clicked", "external_id": f"soak-{n}-{lead}", "lead_id": lead} for lead in chosen]
        headers = {"Authorization": f"Bearer {self.token}"}
        self.sent += len(body)
        for _attempt in range(20):  # a client retries what was not acknowledged
            try:
                status = self.client.post("/api/v1/interactions", json=body, headers=headers).status_code
            except Exception as error:  # what would have been a 500 (the test client raises it)
                status = f"500 ({type(error).__name__})"
            if status == 200:
                break
            self.not_ok[status] = self.not_ok.get(status, 0) + 1
            time.sleep(0.5)
        else:
            return
        at = time.monotonic()
        self.acknowledged += len(body)
        expect = {}
        for lead in chosen:
            self.clicks[lead] = self.clicks.get(lead, 0) + 1
            expect[lead] = POINTS * self.clicks[lead]
        self.batches.append({"at": at, "expect": expect, "scored_at": None})


def watch_scores(load: Load, model_id: int, stopped: threading.Event) -> None:
    """Every 0.25 s: mark scored every waiting batch whose leads all reached
    their score (scores only grow under this load)."""
    while not stopped.is_set():
        waiting = [b for b in list(load.batches) if b["scored_at"] is None]
        if waiting:
            leads = sorted({lead for b in waiting for lead in b["expect"]})
            try:
                scores = dict(
                    LeadScore.select(LeadScore.lead, LeadScore.score)
                    .where((LeadScore.model == model_id) & LeadScore.lead.in_(leads))
                    .tuples()
                )
            except Exception:  # the database was just cut off: look again next time
                db.close() if not db.is_closed() else None
                time.sleep(0.25)
                continue
            now = time.monotonic()
            for batch in waiting:
                if all(scores.get(lead, 0) >= least for lead, least in batch["expect"].items()):
                    batch["scored_at"] = now
        time.sleep(0.25)


def inject(install: Install, kind: str) -> None:
    if kind == "kill -9":
        victim = install.workers[0]
        victim.kill9()
        install.workers.remove(victim)
        install.start_workers(1)  # the supervisor starts a new one
    elif kind == "Redis restart":
        install.empty_redis(restart=True)
    elif kind == "backend termination":
        terminate_backends(install.app)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def soak(backend: str, database_url: str, minutes: float, rate: int, fault_every: float, leads: int) -> dict:
    workdir = tempfile.mkdtemp(prefix="leadflow-soak-")
    install = Install(backend, {backend: database_url}, workdir, workdir)
    install.open()
    try:
        with install.app.app_context():
            model_id = live_clicks_model(install.app)
            lead_ids = make_leads(leads)
            token = api_token()
        install.start_workers(2)
        load = Load(install.app, token, lead_ids, rate)
        stop_watch = threading.Event()
        threads = [
            threading.Thread(target=load.run, daemon=True),
            threading.Thread(target=watch_scores, args=(load, model_id, stop_watch), daemon=True),
        ]
        for thread in threads:
            thread.start()
        kinds = ["kill -9", "Redis restart"] + (["backend termination"] if backend == "postgres" else [])
        faults: list[dict] = []
        started, end = time.monotonic(), time.monotonic() + minutes * 60
        n = 0
        while time.monotonic() + fault_every <= end + 1e-6:
            time.sleep(max(0.0, started + (n + 1) * fault_every - fault_every / 2 - time.monotonic()))
            kind = kinds[n % len(kinds)]
            at = time.monotonic()
            inject(install, kind)
            ended = time.monotonic()
            faults.append({"kind": kind, "at": at, "ended": ended, "posted_before": len(load.batches)})
            print(f"  {at - started:6.1f} s  {kind} ({ended - at:.1f} s)", flush=True)
            n += 1
            time.sleep(max(0.0, started + n * fault_every - time.monotonic()))
        time.sleep(max(0.0, end - time.monotonic()))
        load.stopped.set()
        threads[0].join(timeout=30)
        quiet_at = time.monotonic()
        while time.monotonic() - quiet_at < 120 and any(b["scored_at"] is None for b in load.batches):
            time.sleep(0.5)
        stop_watch.set()
        threads[1].join(timeout=10)
        with install.app.app_context():
            try:  # this thread's connection may be one the last fault ended
                db.close()
            except Exception:
                pass
            db.connect(reuse_if_open=True)
            deadline = time.monotonic() + 60
            while score_faults(model_id) and time.monotonic() < deadline:
                time.sleep(0.5)
            stored = Interaction.select().where(Interaction.external_id.startswith("soak-")).count()
            distinct = (
                Interaction.select(Interaction.external_id)
                .where(Interaction.external_id.startswith("soak-"))
                .distinct()
                .count()
            )
            left = score_faults(model_id)
        return summarise(backend, minutes, rate, load, faults, stored, distinct, left)
    finally:
        install.close()


def summarise(backend, minutes, rate, load: Load, faults, stored, distinct, left) -> dict:
    heal = []
    windows = []
    for fault in faults:
        before = load.batches[: fault["posted_before"]]
        done = max((b["scored_at"] or float("inf") for b in before), default=fault["ended"])
        heal.append({"kind": fault["kind"], "seconds": round(max(0.0, done - fault["ended"]), 1)})
        windows.append((fault["at"], max(done, fault["ended"])))
    outside = [
        b["scored_at"] - b["at"]
        for b in load.batches
        if b["scored_at"] is not None and not any(a <= b["at"] <= z for a, z in windows)
    ]
    worst = max(heal, key=lambda h: h["seconds"], default={"kind": None, "seconds": 0.0})
    return {
        "backend": backend,
        "minutes": minutes,
        "rate_per_s": rate,
        "events_sent": load.sent,
        "events_acknowledged": load.acknowledged,
        "events_stored": stored,
        "lost": load.acknowledged - distinct,
        "stored_twice": stored - distinct,
        "wrong_scores_at_end": len(left.get("wrong", {})),
        "pending_at_end": left.get("pending", 0),
        "batches_never_scored": sum(1 for b in load.batches if b["scored_at"] is None),
        "faults": len(faults),
        "worst_heal_s": worst["seconds"],
        "worst_heal_fault": worst["kind"],
        "heal_s": heal,
        "latency_outside_faults_p50_s": round(statistics.median(outside), 2) if outside else None,
        "latency_outside_faults_p95_s": round(percentile(outside, 95), 2) if outside else None,
        "not_ok_answers": load.not_ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=20, help="clicks per second")
    parser.add_argument("--fault-every", type=float, default=60)
    parser.add_argument("--leads", type=int, default=2000)
    args = parser.parse_args()
    backend = args.backend or ("postgres" if PG_AVAILABLE else "sqlite")
    print(f"soak: {backend}, {args.minutes} min, {args.rate} clicks/s, a fault every {args.fault_every} s")
    if backend == "postgres":
        with throwaway_pg_database() as url:
            try:
                result = soak(backend, url, args.minutes, args.rate, args.fault_every, args.leads)
            finally:
                db.close() if not db.is_closed() else None
    else:
        url = f"sqlite:///{os.path.join(tempfile.mkdtemp(prefix='leadflow-soak-db-'), 'soak.db')}"
        result = soak(backend, url, args.minutes, args.rate, args.fault_every, args.leads)
    for key, value in result.items():
        print(f"{key:32} {value}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"soak-{backend}.json"), "w") as out:
        json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
