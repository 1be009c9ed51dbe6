"""Sixteen importers at once over the same contacts (issue 9, point 2): every import completes, and
PostgreSQL detects no deadlock at all, not even one that a retry would hide."""
from __future__ import annotations

import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor

import pytest
import sqlalchemy as sa

from core.storage import commit
from core.storage.commit import ImportResult
from core.storage.database import make_engine
from core.importing import import_file
from tests.helpers import count, csv_bytes, links, person

IMPORTERS = int(os.environ.get("LOAD_IMPORTERS", 16))
RUNS = int(os.environ.get("LOAD_RUNS", 20))
SHARED = int(os.environ.get("LOAD_SHARED", 600))    # emails every file of a run holds (new in that run: the importers race to insert)
KNOWN = int(os.environ.get("LOAD_KNOWN", 200))     # emails stored since the first run (the importers race to update)
OWN = int(os.environ.get("LOAD_OWN", 100))       # emails only one file holds
DEFAULT_SLICING = (commit.MERGE_SLICE, commit.MERGE_SLICES)
# Slice sizes whose ends mostly differ within a file of 900 rows: one importer's slice ends
# where another's does not.
SLICES = (29, 50, 64, 97, 128, 211, 333, 450)
SLICED_RUNS = 5


def _deadlocks(engine) -> int:
    # Backends send their statistics when they go idle or exit; closing the pool's connections
    # makes every count of this test's transactions visible.
    engine.dispose()
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT deadlocks FROM pg_stat_database "
                                    "WHERE datname = current_database()")).scalar_one()


def _files(run: int, rng: random.Random) -> list[bytes]:
    files = []
    for k in range(IMPORTERS):
        company = f"Run {run} company {k}"
        people = [person(n, company=company) for n in range(KNOWN)]
        people += [person(n, email=f"run{run}.shared{n}@example.com", company=company) for n in range(SHARED)]
        people += [person(n, email=f"run{run}.file{k}.own{n}@example.com", company=company) for n in range(OWN)]
        rng.shuffle(people)  # no two files list the emails in the same order
        files.append(csv_bytes(*people))
    return files


_worker_engine = None


def _import_in_worker(url: str, data: bytes, name: str, barrier, merge_slice: int | None = None) -> ImportResult | str:
    """One importer process: its own engine, started with the others through the barrier.
    merge_slice: the rows of each slice of its merge (core.storage.commit), the default if None."""
    global _worker_engine
    _worker_engine = _worker_engine or make_engine(url)
    if merge_slice is not None:
        commit.MERGE_SLICE, commit.MERGE_SLICES = merge_slice, (merge_slice, merge_slice)
    else:
        commit.MERGE_SLICE, commit.MERGE_SLICES = DEFAULT_SLICING
    barrier.wait()
    try:
        return import_file(_worker_engine, data, name, "load")
    except Exception as error:  # noqa: BLE001 - reported by the test
        return f"{name}: {error!r}"


def _run_at_once(pool, url: str, barrier, files: list[bytes],
                 slices: tuple[int | None, ...] = (None,)) -> tuple[list, list]:
    futures = [pool.submit(_import_in_worker, url, data, f"load{k}.csv", barrier, slices[k % len(slices)])
               for k, data in enumerate(files)]
    outcomes = [future.result(timeout=300) for future in futures]
    return ([o for o in outcomes if isinstance(o, ImportResult)],
            [o for o in outcomes if not isinstance(o, ImportResult)])


@pytest.mark.timeout(900)
def test_sixteen_overlapping_importers_twenty_times_never_fail_nor_deadlock(engine, database_url):
    _overlap(engine, database_url, RUNS, random.Random(9))


@pytest.mark.timeout(900)
def test_overlapping_importers_whose_merge_slices_end_at_different_emails_never_deadlock(engine, database_url):
    """Each importer merges its file in slices of its own size, so that while one holds the
    contacts of a slice, another's slice reaches past them. A merge's locks must follow one order
    across its slices, whatever their bounds: a merge that locked a slice's stored contacts before
    inserting its new emails would take them out of that order, and could deadlock here."""
    _overlap(engine, database_url, SLICED_RUNS, random.Random(11), SLICES)


def _overlap(engine, database_url: str, runs: int, rng: random.Random, slices: tuple[int | None, ...] = (None,)) -> None:
    """runs rounds of IMPORTERS importers at once over the same contacts (importer k merging in
    slices of slices[k % len(slices)] rows): every import completes, and the server counts no
    deadlock."""
    deadlocks_before = _deadlocks(engine)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(IMPORTERS, mp_context=context) as pool:
        barrier = manager.Barrier(IMPORTERS)
        for run in range(runs):
            _check_run(run, *_run_at_once(pool, database_url, barrier, _files(run, rng), slices), engine)
    assert _deadlocks(engine) - deadlocks_before == 0
    assert count(engine, "contacts") == KNOWN + runs * (SHARED + IMPORTERS * OWN)


def _check_run(run: int, results: list, failures: list, engine) -> None:
    assert not failures, f"run {run}: {failures[0]}"
    assert len(results) == IMPORTERS and all(r.status == "completed" for r in results)
    assert all(r.total_rows == KNOWN + SHARED + OWN for r in results)
    new_shared = sum(r.inserted for r in results) - IMPORTERS * OWN - (KNOWN if run == 0 else 0)
    assert new_shared == SHARED, f"run {run}: each shared email is inserted exactly once"
    assert len(links(engine, results[-1].import_id)) == KNOWN + SHARED + OWN
