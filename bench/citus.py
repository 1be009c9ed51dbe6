"""python -m bench.citus [ROWS] [--runs N]: the import on Citus beside one PostgreSQL server (issue 12).

The same seeded file (bench/out/), through the same service verbs as `python -m bench`, in a
throw-away database on each server, in one run:
  all-new     open, validate, review and commit into empty tables;
  re-import   the same people with one field changed in every row: every contact is updated.
The commit is split by its stages (core.storage.commit): staging (COPY into the temporary stage), upserting
(the merge, slice by slice), finishing (the error report), completing. The ratio is Citus' time over
the single server's, measured in the same run.

Servers: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and CITUS_URL
(default the coordinator of `./dev citus`, postgresql://postgres@127.0.0.1:9700/postgres).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

from bench.__main__ import DEFAULT_URL, OUT, _spawn, _truncate
from bench.generate import SHAPES, bench_file

CITUS_URL = "postgresql://postgres@127.0.0.1:9700/postgres"
STAGES = ("staging", "upserting", "finishing", "completing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.citus", description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="runs per server; the table shows medians")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="realistic",
                        help="the file's shape (bench.generate): like real exports, or its clean twin")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    files = {"all-new": bench_file(OUT, args.rows, args.seed, shape=SHAPES[args.shape]),
             "re-import": bench_file(OUT, args.rows, args.seed, changed=True, shape=SHAPES[args.shape])}
    servers = {"PostgreSQL": os.environ.get("DATABASE_URL") or DEFAULT_URL,
               "Citus (1 coordinator + 2 workers)": os.environ.get("CITUS_URL") or CITUS_URL}
    results = {name: _measure(url, files, args.runs) for name, url in servers.items()}
    _print(results, args.rows)
    return 0


def _measure(server_url: str, files: dict, runs: int) -> dict:
    from core.storage.database import make_engine, scratch_database

    measured: dict[str, list[dict]] = {scenario: [] for scenario in files}
    with scratch_database(server_url, f"contact_import_bench_citus_{os.getpid()}") as url:
        engine = make_engine(url)
        for _ in range(runs):
            _truncate(engine)
            for scenario, path in files.items():  # all-new, then the changed file over it
                measured[scenario].append(_spawn("import", path, url))
        engine.dispose()
    return measured


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run.get("stages", {}).get(key, 0.0) if key in STAGES else run[key] for run in runs)


def _print(results: dict, rows: int) -> None:
    columns = ("read s", "validate s", "review s", "commit s", *(f"{s} s" for s in STAGES))
    keys = ("read", "validate", "review", "commit", *STAGES)
    print(f"{rows:,} rows, medians; the commit's stages add up to its time")
    print(f"{'server':<36}{'scenario':<12}" + "".join(f"{c:>14}" for c in columns) + f"{'total s':>10}")
    totals: dict[tuple, float] = {}
    for server, scenarios in results.items():
        for scenario, runs in scenarios.items():
            figures = [_median(runs, key) for key in keys]
            total = sum(figures[:4])
            totals[(server, scenario)] = total
            print(f"{server:<36}{scenario:<12}" + "".join(f"{f:>14.2f}" for f in figures) + f"{total:>10.2f}")
    single, citus = list(results)
    for scenario in next(iter(results.values())):
        ratio = totals[(citus, scenario)] / totals[(single, scenario)]
        print(f"{scenario}: Citus / PostgreSQL = {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
