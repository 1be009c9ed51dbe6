"""python -m bench [SIZES...] [--runs N] [--seed S]: the large-import benchmark (issues 4 and 8).

For each size it generates two seeded synthetic CSVs (bench/out/, reused): a plain one, and the
same people with one field changed in every row. Then, per run:
  baseline    COPY of the same valid rows into the same tables (contacts + import_contacts,
              same indexes and foreign keys), one transaction, ids time-ordered like the commit's;
  all-new     the import service on empty tables: open, validate, review, commit;
  all-update  the same file again: every contact is matched, none changes;
  re-import   the changed file: every contact updates one field.
Each measurement runs in a fresh subprocess, so peak RSS (ru_maxrss) is that of the import alone.
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

from bench.generate import write_csv

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
    args = parser.parse_args(argv)
    from core.storage.database import scratch_database

    server_url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with scratch_database(server_url, f"contact_import_bench_{os.getpid()}") as url:
        results = _measure(url, args)
    _print_table(results, args.runs)
    return 0


def _measure(url: str, args) -> list:
    """For each size: `runs` times the baseline, an all-new import and an all-update re-import."""
    from core.storage.database import make_engine

    engine = make_engine(url)
    results = []
    for size in args.sizes:
        path = write_csv(OUT / f"contacts_{size}_{args.seed}.csv", size, args.seed)
        changed = write_csv(OUT / f"contacts_{size}_{args.seed}_changed.csv", size, args.seed, changed=True)
        runs = []
        for run in range(args.runs):
            _truncate(engine)
            baseline = _spawn("baseline", path, url)
            _truncate(engine)
            scenarios = [_spawn("service", file, url) for file in (path, path, changed)]
            runs.append((baseline, *scenarios))
            print(f"# {size} rows, run {run + 1}: baseline {baseline['commit']:.1f}s, "
                  f"all-new / all-update / re-import {scenarios}", file=sys.stderr, flush=True)
        results.append((size, runs))
    engine.dispose()
    return results


def _truncate(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
        conn.execute(sa.text("CHECKPOINT"))


def _spawn(kind: str, path: Path, url: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench", "_child", kind, str(path), url],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode:
        sys.exit(f"bench: the {kind} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(kind: str, path: str, url: str) -> dict:
    """One measurement, in its own process, through the import service's verbs."""
    from core import importing
    from core.storage.database import make_engine

    engine = make_engine(url)
    started = time.perf_counter()
    draft = importing.open_file(None, Path(path))
    read = time.perf_counter()
    report = importing.validate_draft(draft)
    validated = time.perf_counter()
    result = {}
    if kind == "baseline":
        review = 0.0
        commit = _baseline(engine, report.valid)
    else:
        draft.source = "bench"
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
    header = ("rows", "scenario", "read s", "validate s", "review s", "commit s", "peak RSS MB",
              "baseline s", "review/baseline", "commit/baseline")
    lines = [header]
    for size, measured in results:
        baseline = statistics.median(run[0]["commit"] for run in measured)
        for scenario, index in (("all-new", 1), ("all-update", 2), ("re-import", 3)):
            med = {k: statistics.median(r[index][k] for r in measured)
                   for k in ("read", "validate", "review", "commit", "peak_rss_mb")}
            lines.append((f"{size:,}", scenario, f"{med['read']:.2f}", f"{med['validate']:.2f}",
                          f"{med['review']:.2f}", f"{med['commit']:.2f}", f"{med['peak_rss_mb']:.0f}",
                          f"{baseline:.2f}", f"{med['review'] / baseline:.2f}",
                          f"{med['commit'] / baseline:.2f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"medians of {runs} run(s); baseline = COPY of the same valid rows and links, in the same run")
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))


if __name__ == "__main__":
    sys.exit(main())
