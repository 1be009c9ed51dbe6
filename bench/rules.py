"""python -m bench.rules [ROWS] [--runs N]: what per-field rules cost a commit (issue 22).

A realistic file is imported into empty tables, then its changed twin (every contact changes one
field) is committed over it under each set of rules: none (every field overwritten, as before
rules), fill on every field, keep on every field, and keep on the three fields the twin never
changes (the same writes as none: what evaluating the rules costs). Each re-import starts from the same stored
contacts (the tables emptied and the first file imported again), in a fresh process; the table
shows the medians of the re-import's review and commit and their ratio to the plain one.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench.__main__ import DEFAULT_URL, OUT, _spawn, _truncate
from bench.generate import SHAPES, bench_file

FIELDS = ("full_name", "linkedin_profile", "company", "locale", "timezone", "metadata")
# the last set writes what the plain one writes (the twin never changes those fields): the rules'
# own cost, where "fill" and "keep" on every field also write less
RULE_SETS = {"overwrite (none)": {}, "fill, every field": dict.fromkeys(FIELDS, "fill"),
             "keep, every field": dict.fromkeys(FIELDS, "keep"),
             "keep, 3 unchanged": dict.fromkeys(("full_name", "linkedin_profile", "locale"), "keep")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from core.storage.database import make_engine, scratch_database

    first = bench_file(OUT, args.rows, shape=SHAPES["realistic"])
    changed = bench_file(OUT, args.rows, changed=True, shape=SHAPES["realistic"])
    measured: dict[str, list[dict]] = {name: [] for name in RULE_SETS}
    with scratch_database(os.environ.get("DATABASE_URL") or DEFAULT_URL, f"contact_import_bench_rules_{os.getpid()}") as url:
        engine = make_engine(url)
        for _ in range(args.runs):
            for name, rules in RULE_SETS.items():  # interleaved, so that drift hits each alike
                _truncate(engine)
                _spawn("service", first, url)
                measured[name].append(_spawn("service", changed, url, rules))
        engine.dispose()
    _print(measured, args.rows)
    return 0


def _print(measured: dict[str, list[dict]], rows: int) -> None:
    print(f"{rows:,} realistic rows, the changed twin over them; medians of {len(next(iter(measured.values())))}")
    print(f"{'rules':<20}{'review s':>10}{'commit s':>10}{'updated':>10}{'commit / none':>15}")
    plain = statistics.median(run["commit"] for run in measured["overwrite (none)"])
    for name, runs in measured.items():
        commit = statistics.median(run["commit"] for run in runs)
        print(f"{name:<20}{statistics.median(run['review'] for run in runs):>10.2f}{commit:>10.2f}"
              f"{runs[0]['updated']:>10,}{commit / plain:>15.2f}")


if __name__ == "__main__":
    sys.exit(main())
