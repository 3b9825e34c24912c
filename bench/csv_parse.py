"""Benchmark of the pure CSV import core (C2): sniff + read + map + validate +
match keys (duplicates inside the file) for a generated file.

    .venv/bin/python bench/csv_parse.py [--rows 100000] [--seed 1]

Prints rows/s per step and for the whole pipeline. No database: this is the
part of an import that runs before matching against stored records.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leads.core import csv_io, matching  # noqa: E402

FIRST = ["Ada", "Grace", "Élodie", "Jean-Pierre", "Zoë", "Mohammed", "Akira", "Olga", "Seán", "María"]
LAST = ["Lovelace", "Hopper", "Dupont", "van der Berg", "O'Brien", "Müller", "Tanaka", "Ivanova", "Núñez"]
COMPANIES = ["Acme", "Globex, Inc.", "Initech", 'Umbrella "Bio"', "Société Générale", "Hooli"]
TITLES = ["CTO", "Head of Marketing", "Buyer", "Engineer", "Directeur commercial", ""]
PHONES = {
    "FR": ["01 23 45 67 89", "+33 6 12 34 56 78", "06.12.34.56.78"],
    "US": ["(202) 555-0143", "+1 650-253-0000"],
    "GB": ["020 7946 0018", "+44 20 7946 0018"],
}


def generate(rows: int, seed: int) -> bytes:
    """A UTF-8 CSV of ``rows`` contacts: accents, quoted commas, a few multi-line
    notes, phones in several national formats, ~1% repeated emails."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["First name", "Last name", "E-mail", "Phone", "Company", "Job title", "Country", "Notes"]
    )
    for n in range(rows):
        country = rng.choice(list(PHONES))
        number = n - 1 if n and rng.random() < 0.01 else n
        writer.writerow(
            [
                rng.choice(FIRST),
                rng.choice(LAST),
                f"person{number}@example{number % 97}.com",
                rng.choice(PHONES[country]) if rng.random() < 0.6 else "",
                rng.choice(COMPANIES),
                rng.choice(TITLES),
                country.lower() if rng.random() < 0.3 else country,
                "met at the fair\nwants a demo" if rng.random() < 0.05 else "",
            ]
        )
    return out.getvalue().encode()


def timed(label: str, rows: int, step):
    """Run ``step``, print its wall and CPU time and rows/s, return its result and
    CPU seconds (CPU time is what the code costs; wall time also counts waiting
    for a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<38} {wall:6.2f} s wall {cpu:6.2f} s CPU {rows / cpu:>10,.0f} rows/s (CPU)")
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    raw = generate(args.rows, args.seed)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CSV import core, {args.rows:,} rows, {len(raw) / 1e6:.1f} MB, Python {sys.version.split()[0]}")
    print(f"  {os.cpu_count()} CPUs, load average {load} (figures scale with it)")
    sniffed, t_sniff = timed("sniff", args.rows, lambda: csv_io.sniff(raw))
    headers = csv_io.read_headers(raw, sniffed)
    mapping = csv_io.guess_mapping(headers, matching.CONTACT)
    records, t_read = timed("read_rows", args.rows, lambda: list(csv_io.read_rows(raw, sniffed)))
    prepared, t_prep = timed(
        "map + validate + in-file match keys",
        args.rows,
        lambda: list(csv_io.prepare_rows(records, mapping, matching.CONTACT, default_region="FR")),
    )
    keys, t_keys = timed(
        "match_key (default contact strategy)",
        args.rows,
        lambda: [matching.match_key(matching.CONTACT_BY_EMAIL, row.clean) for row in prepared if row.ok],
    )
    total = t_sniff + t_read + t_prep + t_keys
    good = sum(row.ok for row in prepared)
    duplicates = sum(row.duplicate_of is not None for row in prepared)
    print(f"  {'total':<38} {total:6.2f} s CPU {args.rows / total:>10,.0f} rows/s (CPU)")
    print(f"  rows ok: {good:,}, rejected: {len(prepared) - good:,} (in-file duplicates: {duplicates:,})")


if __name__ == "__main__":
    main()
