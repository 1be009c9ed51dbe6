"""python -m bench.personal_data [ROWS] [--imports N] [--suppressed K] [--runs N]: what people's
data costs (issue 24), on DATABASE_URL (one server, or a Citus coordinator).

  suppression  A realistic file of ROWS rows reviewed and committed into empty tables, with an
               empty suppression list and with K keyed hashes of other emails on it (the list is
               consulted, every row hashed, none left out); runs interleaved, each in a fresh
               process; the ratio is the median with the list over the median without.
  erasure      ROWS contacts brought in by N imports of ROWS/N rows each (their rejected rows
               too), then people of the first, the middle and the last import erased one by one;
               the table shows each erasure's time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bench.__main__ import DEFAULT_URL, OUT, _spawn
from bench.generate import SHAPES, bench_file

TABLES = ("campaign_imports, import_errors, import_error_rows, import_contacts, imports, contacts, campaigns, "
          "suppressions, drafts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.personal_data", description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--imports", type=int, default=100)
    parser.add_argument("--suppressed", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", choices=("suppression", "erasure"), help="leave one part out")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from core.storage.database import make_engine, scratch_database

    path = bench_file(OUT, args.rows, shape=SHAPES["realistic"])
    server = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server, f"contact_import_bench_people_{os.getpid()}") as url:
        engine = make_engine(url)
        if args.skip != "suppression":
            _print_suppression(_suppression(engine, url, path, args), args)
        if args.skip != "erasure":
            _print_erasure(_erasure(engine, path, args), args)
        engine.dispose()
    return 0


def _empty(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
        conn.execute(sa.text("CHECKPOINT"))


def _suppression(engine, url: str, path: Path, args) -> dict[str, list[dict]]:
    measured: dict[str, list[dict]] = {"no list": [], f"{args.suppressed:,} suppressed": []}
    for _ in range(args.runs):
        for name in measured:  # interleaved, so that drift hits each alike
            _empty(engine)
            if name != "no list":
                _fill_list(engine, args.suppressed)
            measured[name].append(_spawn("service", path, url))
    return measured


def _fill_list(engine, count: int) -> None:
    """count keyed hashes of emails no file holds, as the suppression list keeps them."""
    from core.storage.personal_data import email_hash, hash_key
    with engine.begin() as conn:
        key = hash_key(conn)
        hashes = [email_hash(key, f"opted.out.{n}@elsewhere.example") for n in range(count)]
        conn.execute(sa.text("INSERT INTO suppressions (email_hash, reason, source, added_by) "
                             "SELECT h, 'opt-out', 'bench', 'bench' FROM unnest(CAST(:h AS bytea[])) AS h"),
                     {"h": hashes})


def _print_suppression(measured: dict[str, list[dict]], args) -> None:
    runs = len(next(iter(measured.values())))
    print(f"Suppression: {args.rows:,} realistic rows into empty tables; medians of {runs}")
    print(f"{'list':<22}{'review s':>10}{'commit s':>10}{'both s':>10}{'inserted':>11}{'ratio':>8}")
    plain = statistics.median(run["review"] + run["commit"] for run in measured["no list"])
    for name, found in measured.items():
        both = statistics.median(run["review"] + run["commit"] for run in found)
        print(f"{name:<22}{statistics.median(r['review'] for r in found):>10.2f}"
              f"{statistics.median(r['commit'] for r in found):>10.2f}{both:>10.2f}{found[0]['inserted']:>11,}"
              f"{both / plain:>8.3f}")


def _erasure(engine, path: Path, args) -> list[tuple[str, float, dict]]:
    from core import importing
    from core.access import local_actor
    from core.storage.personal_data import erase

    _empty(engine)
    header, *lines = path.read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // args.imports)
    began = time.perf_counter()
    for n in range(args.imports):
        importing.import_file(engine, header + b"".join(lines[n * size:(n + 1) * size]), f"part{n}.csv", "bench")
    print(f"\n{args.imports} imports of {size:,} rows: {time.perf_counter() - began:.0f} s to load")
    with engine.connect() as conn:
        people = conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()
        chosen = [conn.execute(sa.text("SELECT l.email FROM import_contacts l JOIN imports i ON i.id = l.import_id "
                                       "WHERE i.file_name = :f ORDER BY l.row_number LIMIT 1 OFFSET :k"),
                               {"f": f"part{n}.csv", "k": k}).scalar_one()
                  for n, k in ((0, 0), (0, 7), (args.imports // 2, 0), (args.imports // 2, 7), (args.imports - 1, 0))]
    print(f"{people:,} contacts stored")
    timed = []
    for email in dict.fromkeys(chosen):
        started = time.perf_counter()
        done = erase(engine, email, local_actor())
        timed.append((email, time.perf_counter() - started, done.as_dict()))
    return timed


def _print_erasure(timed: list[tuple[str, float, dict]], args) -> None:
    print(f"{'erased':<44}{'seconds':>9}{'links':>7}{'rejected':>10}")
    for email, seconds, done in timed:
        print(f"{email:<44}{seconds:>9.3f}{done['links']:>7}{done['rejected_rows']:>10}")
    print(f"median {statistics.median(s for _, s, _ in timed):.3f} s, longest {max(s for _, s, _ in timed):.3f} s")


if __name__ == "__main__":
    sys.exit(main())
