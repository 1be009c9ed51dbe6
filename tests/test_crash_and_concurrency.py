"""Crashes and concurrency against real PostgreSQL (issue 5).

- A process killed with SIGKILL in the middle of a commit leaves no contact, link or error row of
  its import; the import is then found abandoned, marked failed, and can be committed again.
- Eight imports whose emails overlap, run at once, all complete with every link present.
- Importing the same file twice, even at the same time, never creates a duplicate contact.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.storage.database import is_citus
from core.storage.embedded import PROJECT_ROOT
from core.errors import CommitFailed
from core.storage.records import create_import, mark_failed
from core.storage.history import get_import, list_imports
from core.importing import import_file
from core import importing
from core.storage.records import abandon_stale_imports
from tests.helpers import ADMIN, contacts, count, csv_bytes, holding, links, person


WORKER = PROJECT_ROOT / "tests" / "crash_worker.py"


def _rows_of(import_id: str, engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE import_id = :i"),
                                    {"i": import_id}).scalar_one()
                for table in ("import_contacts", "import_errors")}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", ["upserting", "finishing", "completing"])
def test_a_process_killed_mid_commit_leaves_nothing_and_the_import_can_be_retried(
        stage, database_url, engine, tmp_path):
    # "upserting": rows staged with COPY; "finishing": contacts upserted and linked; "completing": the
    # error report stored too; none of it committed.
    path = tmp_path / "people.csv"
    data = csv_bytes(person(1), person(2), person(3, email="broken"))
    path.write_bytes(data)
    worker = subprocess.Popen([sys.executable, str(WORKER), database_url, stage, str(path)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import_id = worker.stdout.readline().strip()
        assert import_id, worker.stderr.read()
        # While the commit holds its import, nobody may call it abandoned.
        assert abandon_stale_imports(engine, older_than=timedelta(0)) == []
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
        worker.stderr.close()
    # The server notices the closed connection, rolls the transaction back and frees the row.
    deadline = time.monotonic() + 30
    abandoned = []
    while not abandoned and time.monotonic() < deadline:
        abandoned = abandon_stale_imports(engine, older_than=timedelta(0))
        time.sleep(0.05)
    assert abandoned == [import_id]
    assert count(engine, "contacts") == 0
    assert _rows_of(import_id, engine) == {"import_contacts": 0, "import_errors": 0}
    if is_citus(engine):
        assert _left_on_workers(engine) == {"rows": 0, "prepared transactions": 0}
    stored = get_import(engine, import_id)
    assert stored["status"] == "failed" and stored["error"].startswith("abandoned")

    draft = importing.open_retry(engine, import_id, data, "people.csv")
    result = importing.commit(engine, draft)
    assert (result.status, result.inserted, result.invalid) == ("completed", 2, 1)
    assert sorted(contacts(engine)) == ["person1@example.com", "person2@example.com"]
    assert abandon_stale_imports(engine, older_than=timedelta(0)) == []


def test_a_fresh_processing_import_is_not_abandoned_before_the_timeout(engine):
    import_id = create_import(engine, "slow user", "people.csv")
    assert abandon_stale_imports(engine, older_than=timedelta(minutes=30)) == []
    assert get_import(engine, import_id)["status"] == "processing"


@pytest.mark.timeout(120)
def _import_at_once(engine, files: list[bytes], source: str, timeout: float) -> dict:
    """Import every file from its own thread, all released at once; the results by file, after
    asserting that none failed."""
    results, failures = {}, []
    barrier = threading.Barrier(len(files))

    def run(k: int) -> None:
        try:
            barrier.wait()
            results[k] = import_file(engine, files[k], f"file{k}.csv", source)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not failures
    return results


def test_eight_concurrent_imports_with_overlapping_emails_all_complete_with_every_link(engine):
    # Import k holds persons k*5 .. k*5+14: each email is shared by up to three imports, and the
    # files list them in different orders so that lock order is not given by the files.
    files = []
    for k in range(8):
        people = [person(n, company=f"Company {k}") for n in range(k * 5, k * 5 + 15)]
        files.append(csv_bytes(*(people if k % 2 else reversed(people))))
    results = _import_at_once(engine, files, "concurrency", timeout=90)
    assert all(r.status == "completed" and r.total_rows == 15 for r in results.values())
    for result in results.values():
        assert len(links(engine, result.import_id)) == 15
    assert count(engine, "contacts") == 7 * 5 + 15
    assert sum(r.inserted for r in results.values()) == 7 * 5 + 15


@pytest.mark.timeout(180)
def test_undoing_interleaved_imports_newest_first_gives_back_every_contact_as_it_was(engine):
    """Undo is exact after imports that ran at once over shared contacts (issue 20 pins this before
    writers stop queueing on one lock): each import changes some stored contacts, adds new ones
    that others add too, and merges metadata; undone newest first, they leave the contacts exactly
    as they were before any of them, field by field."""
    stored = [person(n, company="Before", metadata='{"kept": 1}') for n in range(30)]
    import_file(engine, csv_bytes(*stored), "before.csv", "interleaved")
    before = contacts(engine)
    files = []
    for k in range(8):
        changed = [person(n, company=f"Company {k}", timezone=["Europe/Paris", "Asia/Tokyo"][k % 2],
                          metadata=f'{{"by": {k}}}') for n in range(k * 3, k * 3 + 10)]
        added = [person(100 + n, company=f"New {k}") for n in range(k * 2, k * 2 + 6)]
        rows = changed + added
        files.append(csv_bytes(*(rows if k % 2 else reversed(rows))))
    _import_at_once(engine, files, "interleaved", timeout=120)
    assert contacts(engine) != before
    interleaved = list_imports(engine, status="completed")
    interleaved = interleaved[interleaved["file_name"] != "before.csv"].sort_values("completed_at", ascending=False)
    assert len(interleaved) == len(files)
    for import_id in interleaved["id"]:
        importing.undo(engine, str(import_id), ADMIN)
    after = contacts(engine)
    assert after.keys() == before.keys()
    fields = ["id", "full_name", "linkedin_profile", "company", "locale", "timezone", "metadata"]
    assert {e: {f: after[e][f] for f in fields} for e in after} == {e: {f: before[e][f] for f in fields} for e in before}


@pytest.mark.timeout(120)
def test_importing_the_same_file_twice_at_once_never_creates_duplicates(engine):
    data = csv_bytes(*(person(n) for n in range(40)))
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        barrier.wait()
        results.append(import_file(engine, data, "same.csv", "twice"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted((r.inserted, r.unchanged) for r in results) == [(0, 40), (40, 0)]
    again = import_file(engine, data, "same.csv", "twice")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 40)
    assert count(engine, "contacts") == 40
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(DISTINCT email) FROM contacts")).scalar_one() == 40


@pytest.fixture
def icu_engine(database_url):
    """A database whose default collation is ICU's: it orders '.' before '+', byte order the other
    way round ('a.c@x.io' < 'a+z@x.io' under ICU, 'a+z@x.io' < 'a.c@x.io' in bytes)."""
    from sqlalchemy.engine import make_url

    from core.storage.database import make_engine, scratch_database
    name = make_url(database_url).database + "_icu"
    try:
        context = scratch_database(database_url, name,
                                   "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
        url = context.__enter__()
    except sa.exc.DBAPIError as error:
        pytest.skip(f"this PostgreSQL server cannot create an ICU database: {error.orig}")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        context.__exit__(None, None, None)


def _left_on_workers(engine) -> dict:
    """What Citus' workers hold themselves: the rows of every shard of the tables a commit writes,
    read on each shard directly, and the two-phase commits left prepared (after Citus' own
    recovery of those whose coordinator transaction is gone)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT recover_prepared_transactions()"))
        rows = sum(int(r.result) for table in ("contacts", "import_contacts", "import_errors")
                   for r in conn.execute(sa.text(f"SELECT result FROM run_command_on_shards('{table}', "
                                                 "'SELECT count(*) FROM %s')")))
        prepared = sum(int(r.result) for r in conn.execute(sa.text(
            "SELECT result FROM run_command_on_workers('SELECT count(*) FROM pg_prepared_xacts')")))
    return {"rows": rows, "prepared transactions": prepared}


def _waiting_backends(engine) -> int:
    """Sessions waiting for a lock: on the server, or on Citus' workers too (citus_lock_waits
    names them by their coordinator session)."""
    with engine.connect() as conn:
        if is_citus(engine):
            return conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT citus_calculate_gpid(n.nodeid, l.pid) FROM pg_locks l "
                "  JOIN pg_dist_node n ON n.groupid = 0 WHERE NOT l.granted "
                "UNION SELECT waiting_gpid FROM citus_lock_waits) waiting")).scalar_one()
        return conn.execute(sa.text("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")).scalar_one()


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.timeout(120)
def test_an_undo_and_an_import_over_the_same_contacts_at_once_never_deadlock(icu_engine, caplog):
    """Defect 3 of issue 8: undo locked in the database's collation, the commit in byte order.

    A third transaction holds 'a.c@x.io'; the undo starts and waits, then the import starts and
    waits. Locking in one order, the undo holds 'a+z@x.io' (first in byte order) and the import
    queues behind it. Locking in ICU order, the undo would hold nothing, the import would take
    'a+z@x.io', and releasing 'a.c@x.io' would make a deadlock."""
    with icu_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 'a.c@x.io' < 'a+z@x.io'")).scalar_one()
    people = [person(1, email="a+z@x.io"), person(2, email="a.c@x.io"), person(3)]
    first = import_file(icu_engine, csv_bytes(*people), "first.csv", "icu")
    later = csv_bytes(*[dict(p, company="Later") for p in people])
    caplog.set_level("WARNING", logger="core.storage.staging")
    failures = []

    def run(action) -> threading.Thread:
        def guarded():
            try:
                action()
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)
        thread = threading.Thread(target=guarded)
        thread.start()
        return thread

    with icu_engine.connect() as holder:
        holder.execute(sa.text("SELECT 1 FROM contacts WHERE email = 'a.c@x.io' FOR UPDATE"))
        undo = run(lambda: importing.undo(icu_engine, first.import_id, ADMIN))
        _wait_for(lambda: _waiting_backends(icu_engine) == 1)
        commit = run(lambda: import_file(icu_engine, later, "later.csv", "icu"))
        _wait_for(lambda: _waiting_backends(icu_engine) == 2)
        holder.rollback()
    undo.join(timeout=60)
    commit.join(timeout=60)
    assert failures == []
    assert not [r.getMessage() for r in caplog.records if "deadlock" in r.getMessage()]
    assert get_import(icu_engine, first.import_id)["status"] == "reverted"
    assert {c["company"] for c in contacts(icu_engine).values()} == {"Later"}


@pytest.mark.timeout(60)
def test_an_email_a_concurrent_import_inserts_meanwhile_is_updated_and_linked(engine):
    """The merge's step 1: the other transaction's row is not visible when the commit staged its
    rows, so the insert meets it (and waits for it); the merge then locks, links and updates it
    instead, on both servers."""
    results, failures = [], []
    data = csv_bytes(person(1), person(2, company="Mine"), person(3))
    with engine.connect() as other:
        other.execute(sa.text("INSERT INTO contacts (email, full_name, linkedin_profile, company) "
                              "VALUES ('person2@example.com', 'Other', 'https://linkedin.com/in/o', 'Other')"))
        worker = threading.Thread(target=lambda: _collect(results, failures, import_file, engine, data, "f.csv", "t"))
        worker.start()
        _wait_for(lambda: _waiting_backends(engine) == 1)
        other.commit()
    worker.join(timeout=30)
    assert failures == []
    assert (results[0].inserted, results[0].updated) == (2, 1)
    assert [(l["email"], l["action"], l["previous"]) for l in links(engine, results[0].import_id)] == [
        ("person1@example.com", "inserted", None),
        ("person2@example.com", "updated", {"company": "Other", "full_name": "Other",
                                            "linkedin_profile": "https://linkedin.com/in/o"}),
        ("person3@example.com", "inserted", None)]
    assert contacts(engine)["person2@example.com"]["company"] == "Mine"


@pytest.mark.timeout(120)
def test_writers_of_other_contacts_never_wait_and_writers_of_a_shared_one_wait_for_it(engine):
    """Issue 20: no writers' lock. While another writer holds person 1 (inserted, not committed),
    an import and an undo of other contacts go through; an import that shares person 1 waits for
    it, then goes on."""
    earlier = import_file(engine, csv_bytes(person(5), person(6)), "earlier.csv", "t")
    results, failures = [], []
    with holding(engine, person(1)["email"]) as release:
        unrelated = import_file(engine, csv_bytes(person(2), person(3)), "unrelated.csv", "t")
        assert importing.undo(engine, earlier.import_id, ADMIN).deleted == 2
        shared = threading.Thread(target=_collect, args=(results, failures, import_file, engine,
                                                         csv_bytes(person(1), person(4)), "shared.csv", "t"))
        shared.start()
        _wait_for(lambda: _waiting_backends(engine) == 1)
        assert shared.is_alive() and not results
        release()
    shared.join(timeout=60)
    assert failures == [] and (unrelated.inserted, results[0].inserted) == (2, 2)
    assert sorted(contacts(engine)) == [person(n)["email"] for n in (1, 2, 3, 4)]


@pytest.mark.timeout(120)
def test_a_small_import_goes_through_while_a_large_commit_holds_every_shard(engine):
    """Issue 20, on Citus: each statement of a large merge writes to every shard of contacts, and
    Citus lets such a multi-shard write hold each shard until its transaction ends. A small
    import (at most SMALL_STAGE rows) writes shard by shard, without that hold, so it neither
    waits for it nor queues other writers behind it; one that shares a held contact still waits
    for that contact alone."""
    results, failures = [], []
    with holding(engine, person(1)["email"]) as release, engine.connect() as large:
        large.execute(sa.text("UPDATE contacts SET company = company WHERE company = 'no such company'"))
        small = threading.Thread(target=_collect, args=(results, failures, import_file, engine,
                                                        csv_bytes(person(2), person(3)), "small.csv", "t"))
        small.start()
        _wait_for(lambda: results or failures or _waiting_backends(engine) > 0)
        small.join(timeout=60)
        assert failures == [] and [r.inserted for r in results] == [2]
        shared = threading.Thread(target=_collect, args=(results, failures, import_file, engine,
                                                         csv_bytes(person(1), person(4)), "shared.csv", "t"))
        shared.start()
        _wait_for(lambda: _waiting_backends(engine) == 1)
        assert shared.is_alive() and len(results) == 1
        release()
        large.rollback()
    shared.join(timeout=60)
    assert failures == [] and [r.inserted for r in results] == [2, 2]
    assert sorted(contacts(engine)) == [person(n)["email"] for n in (1, 2, 3, 4)]


def _collect(results: list, failures: list, action, *args) -> None:
    try:
        results.append(action(*args))
    except Exception as error:  # noqa: BLE001 - the test reports it
        failures.append(error)


def _terminate_open_transactions(engine) -> None:
    with engine.begin() as conn:  # another connection of the pool: the commit holds its own
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND state = 'idle in transaction'"))


def test_a_connection_lost_mid_commit_is_one_line_and_the_import_is_marked_failed(engine):
    # What a server restart does to a running commit (issue 9, point 9), on this connection only.
    draft = importing.open_file(engine, csv_bytes(person(1), person(2)), "people.csv", source="restart")

    def lose_the_connection(stage: str, done: int, total: int) -> None:
        if stage == "upserting":
            _terminate_open_transactions(engine)

    with pytest.raises(CommitFailed) as failed:
        importing.commit(engine, draft, lose_the_connection)
    message = str(failed.value)
    assert "\n" not in message and "the connection to the database was lost" in message
    stored = get_import(engine, draft.import_id)
    assert stored["status"] == "failed" and stored["error"].startswith("the connection to the database was lost")
    assert count(engine, "contacts") == 0


def test_a_failure_the_server_cannot_record_yet_is_retried_then_left_to_the_sweep(caplog):
    unreachable = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none",
                                   connect_args={"connect_timeout": 1})
    started = time.monotonic()
    assert mark_failed(unreachable, "00000000-0000-0000-0000-000000000000", "boom", wait_for_server=1.0) is False
    assert time.monotonic() - started < 10
    assert "will be marked abandoned" in caplog.text


def test_listing_imports_marks_commits_that_died_as_failed(engine):
    import_id = create_import(engine, "someone", "died.csv")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET created_at = now() - interval '1 hour' WHERE id = :i"),
                     {"i": import_id})
    listed = list_imports(engine).set_index("id").loc[import_id]
    assert listed["status"] == "failed"
    assert get_import(engine, import_id)["error"].startswith("abandoned")


@pytest.mark.timeout(120)
def test_a_contact_deleted_while_a_re_import_waits_to_lock_it_is_inserted_again(engine):
    """A stored contact that a transaction deletes, and that a re-import of it waits for, is gone
    when the lock comes: the re-import inserts it. Nothing is lost, nothing is counted twice, and
    no error reaches the user. (A merge that read its stored contacts as it locked them would
    miss it: bench/README.md, "A merge that reads as it locks".)"""
    people = [person(n) for n in range(1, 6)]
    first = import_file(engine, csv_bytes(*people), "first.csv", "t")
    results, failures = [], []
    with engine.connect() as eraser:
        eraser.execute(sa.text("DELETE FROM contacts WHERE email = :e"), {"e": person(3)["email"]})
        again = threading.Thread(target=_collect, args=(
            results, failures, import_file, engine,
            csv_bytes(*(dict(p, company="Again") for p in people)), "again.csv", "t"))
        again.start()
        _wait_for(lambda: _waiting_backends(engine) == 1)
        assert again.is_alive() and not results
        eraser.commit()
    again.join(timeout=60)
    assert failures == []
    assert (first.inserted, results[0].inserted, results[0].updated) == (5, 1, 4)
    stored = contacts(engine)
    assert sorted(stored) == [p["email"] for p in people]
    assert {c["company"] for c in stored.values()} == {"Again"}
    assert len(links(engine, results[0].import_id)) == 5
