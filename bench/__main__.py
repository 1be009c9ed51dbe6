"""python -m bench [SIZES...] [--runs N] [--seed S] [--shapes realistic,clean] [--read-only]: the
large-import benchmark (issues 4, 8 and 20).

For each size and shape (bench.generate: "realistic" is shaped like real CRM exports, "clean" is
its twin with ASCII lower-case emails and every optional cell filled) it generates two seeded
synthetic CSVs (bench/out/, reused): a plain one, and the same people with one field changed in
every row. Then, per run:
  baseline    COPY of the same valid rows into the same tables (contacts + import_contacts,
              same indexes and foreign keys), one transaction, ids time-ordered like the commit's;
  all-new     the import service on empty tables: open, validate, review, commit;
  all-update  the same file again: every contact is matched, none changes;
  re-import   the changed file: every contact updates one field.
Each measurement runs in a fresh subprocess, so peak RSS (ru_maxrss) is that of the import alone.
--read-only: only read and validate each file (no database work), for the reader's figures.
It works in its own throw-away database on DATABASE_URL's server (default
postgresql://postgres@127.0.0.1:5432/postgres), created and dropped like the tests' database.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bench.generate import SHAPES, bench_file

OUT = Path(__file__).parent / "out"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = "campaign_imports, import_errors, import_contacts, imports, contacts, campaigns"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        print(json.dumps(_child(*argv[1:])))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the table shows medians")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shapes", default="clean,realistic",
                        help="comma-separated: realistic (like real exports), clean (its twin), untidy "
                             "(realistic, with LinkedIn URLs as exports write them)")
    parser.add_argument("--read-only", action="store_true", help="only read and validate each file")
    args = parser.parse_args(argv)
    args.shapes = [SHAPES[name] for name in args.shapes.split(",")]
    from core.storage.database import scratch_database

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server_url, f"contact_import_bench_{os.getpid()}") as url:
        results = _measure(url, args)
    _print_table(results, args.runs)
    return 0


def _measure(url: str, args) -> list:
    """For each size and shape: `runs` times the baseline, an all-new import, an all-update and a
    re-import (or only reading and validating, with --read-only)."""
    from core.storage.database import make_engine

    engine = make_engine(url)
    results = []
    for size in args.sizes:
        for shape in args.shapes:
            path = bench_file(OUT, size, args.seed, shape=shape)
            changed = bench_file(OUT, size, args.seed, changed=True, shape=shape)
            runs = [_read_only(path) if args.read_only else _one_run(engine, url, path, changed)
                    for _ in range(args.runs)]
            results.append((size, shape.name, runs))
    engine.dispose()
    return results


def _read_only(path: Path) -> tuple:
    measured = _spawn("read", path, "")
    print(f"# {path.name}: read {measured['read']:.2f}s, validate {measured['validate']:.2f}s, "
          f"{measured['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    return (None, measured)


def _one_run(engine, url: str, path: Path, changed: Path) -> tuple:
    _truncate(engine)
    baseline = _spawn("baseline", path, url)
    _truncate(engine)
    scenarios = [_spawn("service", file, url) for file in (path, path, changed)]
    print(f"# {path.name}: baseline {baseline['commit']:.1f}s, all-new / all-update / re-import {scenarios}",
          file=sys.stderr, flush=True)
    return (baseline, *scenarios)


def _truncate(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
        conn.execute(sa.text("CHECKPOINT"))


def _spawn(kind: str, path: Path, url: str, rules: dict[str, str] | None = None) -> dict:
    """One measurement in a fresh process; rules: the import's field rules (bench.rules)."""
    done = subprocess.run([sys.executable, "-m", "bench", "_child", kind, str(path), url],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
                          env={**os.environ, "BENCH_RULES": json.dumps(rules or {})})
    if done.returncode:
        sys.exit(f"bench: the {kind} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(kind: str, path: str, url: str) -> dict:
    """One measurement, in its own process, through the import service's verbs."""
    from core import importing
    from core.storage.database import make_engine

    started = time.perf_counter()
    draft = importing.open_file(None, Path(path))
    read = time.perf_counter()
    report = importing.validate_draft(draft)
    validated = time.perf_counter()
    if kind == "read":
        return {"rows": report.rows, "read": read - started, "validate": validated - read,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    engine = make_engine(url)
    result = {}
    if kind == "baseline":
        review = 0.0
        commit = _baseline(engine, report.valid)
    else:
        draft.source, draft.rules = "bench", json.loads(os.environ.get("BENCH_RULES") or "{}")
        outcome = importing.review(engine, draft)
        reviewed = time.perf_counter()
        review = reviewed - validated
        stages = StageClock()
        importing.commit(engine, draft, stages)
        commit = time.perf_counter() - reviewed
        result["stages"] = stages.seconds()
        result.update(will_insert=outcome.will_insert, will_update=outcome.will_update,
                      inserted=draft.result.inserted, updated=draft.result.updated)
    engine.dispose()
    return {"rows": report.rows, "read": read - started, "validate": validated - read, "review": review,
            "commit": commit, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **result}


class StageClock:
    """The commit's progress callback: how long each of its stages took (core.storage.commit's stages)."""

    def __init__(self):
        self.began, self.marks = time.perf_counter(), []

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.marks or self.marks[-1][0] != stage:
            self.marks.append((stage, time.perf_counter()))

    def seconds(self) -> dict[str, float]:
        ends = [at for _, at in self.marks[1:]] + [time.perf_counter()]
        spent: dict[str, float] = {}
        for (stage, start), end in zip(self.marks, ends):
            spent[stage] = spent.get(stage, 0.0) + end - start
        return spent


def _baseline(engine, valid) -> float:
    """COPY the rows and their links, as a plain loader would, and time it (commit included)."""
    import secrets

    import pyarrow as pa
    import pyarrow.compute as pc

    from core.fields import FIELDS, ROW
    from core.storage.staging import empty_as_null, to_csv

    table = pa.Table.from_pandas(valid[[ROW, *FIELDS]], preserve_index=False)
    table = table.take(pc.sort_indices(table["email"]))
    random = secrets.token_hex(5)  # the same layout as import_contact_id (sql/003)
    prefix = f"{int(time.time() * 1000):012x}7{random[:3]}8{random[3:]}"
    ids = pa.array([f"{prefix}{pos:08x}" for pos in range(table.num_rows)], pa.large_string())
    columns = {"id": ids, **{f: empty_as_null(table[f]) for f in FIELDS}}
    columns["metadata"] = pc.fill_null(columns["metadata"], "{}")
    with engine.begin() as conn:
        import_id = conn.execute(sa.text("INSERT INTO imports (source) VALUES ('baseline') RETURNING id")).scalar_one()
    links = pa.table({"import_id": pa.array([str(import_id)] * table.num_rows, pa.large_string()),
                      "email": table["email"], "contact_id": ids, "action": pa.array(["inserted"] * table.num_rows, pa.large_string()),
                      "row_number": table[ROW]})
    chunks = [(pa.table(columns).slice(start, 50_000), links.slice(start, 50_000))
              for start in range(0, table.num_rows, 50_000)]
    begin = time.perf_counter()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY contacts (id, {', '.join(FIELDS)}) FROM STDIN (FORMAT csv)") as copy:
            for contacts, _ in chunks:
                copy.write(to_csv(contacts))
        with cursor.copy("COPY import_contacts (import_id, email, contact_id, action, row_number) "
                         "FROM STDIN (FORMAT csv)") as copy:
            for _, link_rows in chunks:
                copy.write(to_csv(link_rows))
    return time.perf_counter() - begin


def _print_table(results, runs: int) -> None:
    """One row per size, shape and scenario; a realistic row's "÷ clean" is its read + validate
    time over its clean twin's, from the same run."""
    header = ("rows", "shape", "scenario", "read s", "validate s", "÷ clean", "review s", "commit s",
              "peak RSS MB", "baseline s", "review/baseline", "commit/baseline")
    lines = [header]
    reading = {}
    for size, shape, measured in results:
        scenarios = (("read+validate", 1),) if measured[0][0] is None else (
            ("all-new", 1), ("all-update", 2), ("re-import", 3))
        baseline = None if measured[0][0] is None else statistics.median(run[0]["commit"] for run in measured)
        for scenario, index in scenarios:
            med = {k: statistics.median(r[index].get(k, 0.0) for r in measured)
                   for k in ("read", "validate", "review", "commit", "peak_rss_mb")}
            reading[(size, shape, scenario)] = med["read"] + med["validate"]
            twin = reading.get((size, "clean", scenario))
            lines.append((f"{size:,}", shape, scenario, f"{med['read']:.2f}", f"{med['validate']:.2f}",
                          f"{reading[(size, shape, scenario)] / twin:.2f}" if twin and shape != "clean" else "",
                          *((f"{med['review']:.2f}", f"{med['commit']:.2f}") if baseline else ("", "")),
                          f"{med['peak_rss_mb']:.0f}",
                          *((f"{baseline:.2f}", f"{med['review'] / baseline:.2f}", f"{med['commit'] / baseline:.2f}")
                            if baseline else ("", "", ""))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"medians of {runs} run(s); baseline = COPY of the same valid rows and links, in the same run")
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))


if __name__ == "__main__":
    sys.exit(main())
