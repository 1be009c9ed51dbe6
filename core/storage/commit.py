"""The commit: the valid rows of a report written in ONE transaction (stage with COPY, merge with
sql/functions/merge.sql, link each contact to the import, store the rejected rows, complete the
import). On failure nothing of it is visible and the import is marked failed with the reason."""
from __future__ import annotations

import json
import logging
import time
from uuid import UUID
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.storage import audit_log
from core.storage.guard import ChangeGuard
from core.rows.counts import Counts
from core.errors import CommitFailed, ImportClosed, ImportConsoleError, StatusChangeRefused, TotalRowsMismatch
from core.storage.records import (add_batch_counts, change_status, check_change, clock_now, import_uuid, lock_import,
                          mark_failed)
from core.progress import Progress, ignore_progress
from core.storage.personal_data import without_suppressed
from core.storage.staging import (SMALL_STAGE, analyze_stage, drop_stage, reason, retry_deadlocks, stage_rows,
                                  shard_runs, to_csv, write_shard_by_shard)
from core.rows.clean_batch import CleanBatch
from core.rows.validation import ValidationReport

if TYPE_CHECKING:  # storage takes an actor to record it, and never checks its role
    from core.access import Actor

log = logging.getLogger(__name__)


# The merge goes slice by slice so that the commit's progress moves at least every 2 s (issue 10):
# the first slice's emails, what a slice should take, and the bounds of a slice's size. A slice
# costs next to nothing of its own now that it probes the email index rather than read all of
# contacts (1M rows, re-import: 39.2 s in slices, 39.8 s in one call; bench/README.md).
MERGE_SLICE = 25_000
MERGE_SECONDS = 1.2
MERGE_SLICES = (10_000, 250_000)
# A commit that inserts at least this many contacts refreshes the planner's statistics of contacts
# after it (refresh_statistics).
ANALYZE_AFTER = 100_000
INTERRUPTED = "interrupted: the commit was stopped before it finished; nothing of it was saved"
Written = Callable[[Connection, "ImportResult"], None]


@dataclass(frozen=True)
class ImportResult:
    """What a commit (or one batch) did, in the counts of core.rows.counts."""

    import_id: str
    status: str
    inserted: int
    updated: int      # stored contacts whose values changed
    invalid: int
    duplicates: int
    total_rows: int   # the contacts linked: inserted + updated + unchanged
    unchanged: int = 0  # stored contacts linked as they were
    file_rows: int = 0  # the rows the file held (the batch's, for a batch)
    skipped: int = 0    # rows the user chose to leave out
    already_there: int = 0  # stored contacts an import that only creates left as they were
    not_found: int = 0      # rows whose email is not stored, left out by an import that only updates
    fixes: dict[str, int] = field(default_factory=dict)  # one-click fixes made: kind -> rows (core.rows.quick_fixes)
    suppressed: int = 0     # rows whose email is on the suppression list, never written

    @property
    def counts(self) -> Counts:
        return Counts(rows=self.file_rows, invalid=self.invalid, skipped=self.skipped, duplicates=self.duplicates,
                      suppressed=self.suppressed,
                      inserted=self.inserted, updated=self.updated, unchanged=self.unchanged,
                      already_there=self.already_there, not_found=self.not_found)

    def as_dict(self) -> dict:
        return asdict(self)


def commit_import(engine: Engine, import_id: str, report: ValidationReport | CleanBatch,
                  on_progress: Progress | None = None, file_name: str | None = None,
                  complete: bool = True, fixable: pd.DataFrame | None = None, *,
                  actor: Actor, on_written: Written | None = None, guard: ChangeGuard | None = None) -> ImportResult:
    """Steps 2 and 3 of the seed's flow in ONE transaction (file_name: the file being committed,
    when it differs from the one the import was created with, as on a retry). A deadlock is
    retried (writers lock contacts in one order, so only Citus, whose workers lock in parallel,
    can meet one); a refused status change (the import is completed or reverted) changes nothing;
    any other failure, or an interruption (the page rerun by its user, Ctrl-C), marks the import
    failed with its reason. complete=False adds a batch to an import in `processing` and leaves it so (the
    HTTP API's flow: several calls, then PUT completed); its counts add up over the batches.
    fixable: the rejected rows as the file held them, stored for History's error file
    (core.rows.error_file.fixable_rows). actor: who commits (needs the importer role), recorded in the
    audit trail in the commit's transaction (a batch too). on_written: called last in the commit's
    transaction, with it and the result (an API request's answer is recorded so). guard: refuse
    (LargeChange, nothing written) an import that changes too many stored contacts unconfirmed."""
    notify = on_progress or ignore_progress
    try:
        return retry_deadlocks(f"committing import {import_id}",
                               lambda: _commit_once(engine, import_id, report, notify, file_name, complete, fixable,
                                                    actor, on_written, guard))
    except ImportConsoleError:
        raise
    except Exception as error:
        log.exception("commit of import %s failed", import_id)
        _record_failure(engine, import_id, reason(error), complete)
        raise CommitFailed(import_id, reason(error)) from error
    except BaseException:
        _record_failure(engine, import_id, INTERRUPTED, complete)
        raise


def _record_failure(engine: Engine, import_id: str, why: str, complete: bool) -> None:
    """Mark the import failed, unless a batch failed after earlier ones were written: that import
    holds contacts, so it stays `processing` and the batch can be sent again."""
    if not complete and _batches_stand(engine, import_id):
        log.warning("a batch of import %s failed (%s); its earlier batches stand", import_id, why)
        return
    mark_failed(engine, import_id, why)


def _batches_stand(engine: Engine, import_id: str) -> bool:
    try:
        with engine.connect() as conn:
            return _linked(conn, import_id) > 0
    except sa.exc.OperationalError:
        # The server is away: leave the import processing rather than call written batches failed
        # (the sweep marks an import with none abandoned after a day).
        return True


def _updated_before(conn: Connection, key: UUID) -> int:
    """The stored contacts the import's earlier batches changed."""
    return conn.execute(sa.text("SELECT updated FROM imports WHERE id = :id"), {"id": key}).scalar_one()


def _linked(conn: Connection, import_id: str) -> int:
    """How many contacts the import links."""
    return conn.execute(sa.text("SELECT count(*) FROM import_contacts WHERE import_id = :id"),
                        {"id": import_uuid(import_id)}).scalar_one()


def complete_import(engine: Engine, import_id: str, total_rows: int | None = None, *, actor: Actor) -> None:
    """The seed's step 3: an import the API filled in batches marked completed, by its owner (or an
    admin). A total_rows that is not the number of contacts linked is refused (the server keeps
    its own count); completing a completed import again changes nothing; a failed or reverted
    import cannot be completed."""
    with engine.begin() as conn:
        record = lock_import(conn, import_id)
        if record.status == "completed" and total_rows is None:
            return
        linked = _linked(conn, import_id)
        if total_rows is not None and total_rows != linked:
            raise TotalRowsMismatch(import_id, total_rows, linked)
        if record.status == "completed":
            return
        if record.status != "processing":
            raise StatusChangeRefused(import_id, record.status, "completed")
        change_status(conn, import_id, "completed", total_rows=linked)
        # an import completed without a batch changed no contact: it takes its place in the order
        # of changes (undo's) when it completed
        conn.execute(sa.text("UPDATE imports SET changed_at = COALESCE(changed_at, completed_at) WHERE id = :id"),
                     {"id": import_uuid(import_id)})
        audit_log.record(conn, actor, "committed", import_id=import_id, detail={"contacts": linked})


def _commit_once(engine: Engine, import_id: str, report: ValidationReport | CleanBatch, notify: Progress,
                 file_name: str | None, complete: bool, fixable: pd.DataFrame | None,
                 actor: Actor, on_written: Written | None, guard: ChangeGuard | None) -> ImportResult:
    total = report.valid_count
    key = import_uuid(import_id)  # parsed once: every statement below takes it as it is
    with engine.begin() as conn:
        write_shard_by_shard(conn, total)
        record = lock_import(conn, import_id)
        status = record.status
        if complete:
            check_change(import_id, status, "completed")
        elif status != "processing":
            raise ImportClosed(import_id, status)
        report = without_suppressed(conn, report)  # in the transaction: a list changed meanwhile counts
        total = report.valid_count
        if fixable is not None and report.suppressed:
            fixable = fixable[~fixable.index.isin(report.suppressed_rows)]
        if total > SMALL_STAGE:
            # The merge sorts and joins the whole stage; keep that in memory rather than on disk.
            conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        staged = stage_rows(conn, report, notify)  # pos runs 0 .. staged - 1 (the merge's slices)
        inserted, matched, unchanged = _merge(conn, key, staged, notify, record.mode, record.rules)
        drop_stage(conn)
        updated = matched - unchanged
        left_out = total - inserted - matched  # by the mode: the rows neither inserted nor linked
        already_there, not_found = (left_out, 0) if record.mode == "create" else (0, left_out)
        if guard is not None:  # all the import's batches together
            guard.check(conn, updated + (0 if complete else _updated_before(conn, key)), inserted)
        rejected = report.error_report()
        notify("finishing", len(rejected), len(rejected))
        _store_rejections(conn, import_id, rejected, report)
        if fixable is not None:
            _store_fixable_rows(conn, key, fixable, report)
        # Writes to the imports row come last: on Citus imports is a reference table, and a write
        # to it holds every other writer of imports until this transaction ends.
        if file_name is not None:
            conn.execute(sa.text("UPDATE imports SET file_name = :f WHERE id = :id"),
                         {"f": file_name, "id": key})
        if fixable is not None:
            _store_file_headers(conn, key, fixable)
        fixes = report.fixes_applied
        if fixes:
            _add_fixes(conn, key, fixes)
        notify("completing", total, total)
        result = ImportResult(import_id=str(key), status="completed" if complete else "processing",
                              inserted=inserted, updated=updated, invalid=report.invalid,
                              duplicates=len(report.duplicates), total_rows=inserted + matched,
                              unchanged=unchanged, file_rows=report.rows, skipped=report.skipped,
                              already_there=already_there, not_found=not_found, fixes=fixes,
                              suppressed=report.suppressed)
        if complete:
            # completed_at is clock_timestamp(): the time this commit held its locks, so completion
            # order is the order in which imports changed shared contacts (undo relies on it).
            change_status(conn, import_id, "completed", total_rows=result.total_rows, inserted=inserted,
                          updated=updated, unchanged=unchanged, invalid=result.invalid, skipped=result.skipped,
                          duplicates=result.duplicates, error=None, file_rows=report.rows,
                          already_there=already_there, not_found=not_found, suppressed=report.suppressed)
            conn.execute(sa.text("UPDATE imports SET changed_at = completed_at WHERE id = :id"),
                         {"id": key})
            _mark_draft_committed(conn, key)
            audit_log.record(conn, actor, "retried" if status == "failed" else "committed", import_id=import_id,
                         detail={"inserted": inserted, "updated": updated, "unchanged": unchanged,
                                 "invalid": result.invalid, "duplicates": result.duplicates})
        else:
            add_batch_counts(conn, import_id, report.rows, report.invalid, already_there, not_found, report.suppressed)
            audit_log.record(conn, actor, "contacts added", import_id=import_id,
                         detail={"inserted": inserted, "updated": updated, "unchanged": unchanged,
                                 "invalid": result.invalid})
        if on_written is not None:
            on_written(conn, result)
    if inserted >= ANALYZE_AFTER:
        refresh_statistics(engine)
    notify("done", total, total)
    return result


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE contacts, after its transaction: autovacuum would, within a minute or so, and until
    then the planner sizes the table as it was. A review run meanwhile then probed an index once
    per staged row where a hash join was several times faster (on Citus, on every shard). Outside
    the commit's transaction: ANALYZE holds a lock that another ANALYZE waits for."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT refresh_contact_statistics()"))


def _merge(conn: Connection, key: UUID, total: int, notify: Progress, mode: str,
           rules: dict[str, str]) -> tuple[int, int, int]:
    """merge_import_stage over the stage slice after slice, in lock order (pos), so the commit can say
    how far it is; one transaction all the same. Each slice is sized to take about MERGE_SECONDS
    by the time the one before took: the rate varies 5x with the machine's load and with how many
    contacts are stored already."""
    if total > SMALL_STAGE:
        analyze_stage(conn)
    earlier_batch = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM import_contacts WHERE import_id = :id)"),
                                 {"id": key}).scalar_one()
    counts, start, size, runs = [0, 0, 0], 0, MERGE_SLICE, shard_runs(conn)
    notify("upserting", 0, total)
    while start < total:
        began = time.monotonic()
        done = conn.execute(sa.text("SELECT inserted, updated, unchanged "
                                    "FROM merge_import_stage(:id, :a, :b, :e, :r, :mode, CAST(:rules AS jsonb))"),
                            {"id": key, "a": start, "b": min(start + size, total), "e": earlier_batch, "r": runs,
                             "mode": mode, "rules": json.dumps(rules)}).one()
        counts = [c + d for c, d in zip(counts, done)]
        start += size
        notify("upserting", min(start, total), total)
        size = next_slice(size, time.monotonic() - began)
    return tuple(counts)


def next_slice(size: int, seconds: float) -> int:
    """The size of the next slice of the merge: about MERGE_SECONDS of work at the rate of the last
    one, at most twice or half as large, within MERGE_SLICES.

    >>> next_slice(50_000, 0.6), next_slice(50_000, 4.8), next_slice(50_000, 1.2)
    (100000, 25000, 50000)
    """
    wanted = size * MERGE_SECONDS / max(seconds, 1e-3)
    smallest, largest = MERGE_SLICES
    return int(min(max(wanted, size / 2, smallest), size * 2, largest))


def _mark_draft_committed(conn: Connection, key: UUID) -> None:
    """The console's draft of this import (core.importing.drafts) is committed with it: its link now says so,
    and its file goes."""
    conn.execute(sa.text("UPDATE drafts SET committed_at = now() WHERE import_id = :id AND committed_at IS NULL"),
                 {"id": key})
    conn.execute(sa.text("DELETE FROM draft_files WHERE token IN (SELECT token FROM drafts WHERE import_id = :id)"),
                 {"id": key})


def _store_rejections(conn: Connection, import_id: str, rejected: pd.DataFrame, report) -> None:
    """The error report's lines, each with its row's email (an erasure finds them by it)."""
    if rejected.empty:
        return
    table = pa.table({
        "import_id": pa.array([str(import_id)] * len(rejected), pa.large_string()),
        "row_number": pa.array(rejected["row"].astype("int64").to_numpy()),
        "column_name": pa.array(rejected["column"].astype(str).to_numpy(dtype=object), pa.large_string()),
        "reason": pa.array(rejected["reason"].astype(str).to_numpy(dtype=object), pa.large_string()),
        "value": pa.array(rejected["value"].astype(str).str.replace("\x00", "", regex=False)
                          .to_numpy(dtype=object), pa.large_string()),
        "email": pa.array(_without_nul(report.emails_of(rejected["row"])), pa.large_string()),
    })
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy("COPY import_errors (import_id, row_number, column_name, reason, value, email) "
                     "FROM STDIN (FORMAT csv)") as copy:
        copy.write(to_csv(table))


def _add_fixes(conn: Connection, key: UUID, fixes: dict[str, int]) -> None:
    """The one-click fixes a batch made, added to the import's (kind -> rows)."""
    conn.execute(sa.text(
        "UPDATE imports SET fixes = (SELECT jsonb_object_agg(kind, rows) FROM ("
        "  SELECT kind, sum(rows::bigint) AS rows FROM ("
        "    SELECT * FROM jsonb_each_text(imports.fixes) UNION ALL SELECT * FROM jsonb_each_text(CAST(:f AS jsonb))"
        "  ) AS each (kind, rows) GROUP BY kind) AS summed) "
        "WHERE id = :id"), {"f": json.dumps(fixes), "id": key})


def _store_file_headers(conn: Connection, key: UUID, fixable: pd.DataFrame) -> None:
    """The file's headers on the import, for its error file."""
    conn.execute(sa.text("UPDATE imports SET file_headers = :h WHERE id = :id"),
                 {"h": [str(h) for h in fixable.columns[:-1]], "id": key})


def _store_fixable_rows(conn: Connection, key: UUID, fixable: pd.DataFrame, report) -> None:
    """Each rejected row's cells, errors and email."""
    *headers, errors = fixable.columns
    if fixable.empty:
        return
    cells = fixable[headers].astype(str).apply(lambda column: column.str.replace("\x00", "", regex=False))
    emails = _without_nul(report.emails_of(fixable.index))
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy("COPY import_error_rows (import_id, row_number, cells, errors, email) FROM STDIN") as copy:
        for row, values, said, email in zip(fixable.index, cells.itertuples(index=False, name=None), fixable[errors],
                                            emails):
            copy.write_row((str(key), int(row), list(values), said, email))


def _without_nul(values: list[str]) -> list[str]:
    return [value.replace("\x00", "") for value in values]
