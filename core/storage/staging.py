"""import_stage, the valid rows that the commit and the review both fill with COPY, and the
deadlock retry that every writer shares.

On one server import_stage is a temp table; on Citus it is a temp view over this staging's rows of
import_stage_rows, which is sharded like contacts (sql/022_distributed_stage.sql), so that each
shard joins only its own rows. The merge and the review read import_stage alike on both.

The valid rows go to PostgreSQL as CSV that pyarrow formats STAGE_CHUNK rows at a time (no Python
loop over rows). sql/functions/merge.sql reads the stage: merge_import_stage to commit it,
review_import_stage to say what the commit would do.
"""
from __future__ import annotations

import logging
import uuid
from typing import Callable, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.fields import FIELDS, ROW
from core.progress import Progress, ignore_progress
from core.rows.clean_batch import CleanBatch
from core.rows.validation import ValidationReport

log = logging.getLogger(__name__)

T = TypeVar("T")

DEADLOCK = "40P01"
ATTEMPTS = 3
# Rows per COPY chunk: each chunk is formatted as CSV by pyarrow in one call.
STAGE_CHUNK = 50_000
STAGE_COLUMNS = ("pos", "row_number", "email", "full_name", "linkedin_profile", "company", "locale",
                 "timezone", "metadata")
# One row per email (validation dedupes). pos: for a commit, the rank of the email in byte order
# (on Citus, for a small stage, in shard order first: write_shard_by_shard), the order in which the
# merge locks and inserts; the commit indexes pos to merge it slice by slice.
STAGE_TABLE = """
CREATE TEMP TABLE import_stage (
    pos integer NOT NULL, row_number integer NOT NULL, email text NOT NULL, full_name text,
    linkedin_profile text, company text, locale text, timezone text, metadata jsonb
) ON COMMIT DROP
"""
# On Citus: this staging's rows of import_stage_rows and import_matched_rows, under the names of
# the temp tables of one server and with their columns first (the key is the tables' last column);
# rows inserted into import_matched get the stage's key.
STAGE_VIEWS = (
    "CREATE TEMP VIEW import_stage AS SELECT * FROM import_stage_rows WHERE stage = '{key}'",
    "CREATE TEMP VIEW import_matched AS SELECT * FROM import_matched_rows WHERE stage = '{key}'",
    "ALTER VIEW import_matched ALTER COLUMN stage SET DEFAULT '{key}'",
)
CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
# A stage of at most this many rows is merged in one slice, read whole: its index on pos and its
# statistics (ANALYZE) would cost a small batch more than they save (core.storage.commit).
SMALL_STAGE = 10_000
SHARD_ENDS = "shard_ends"  # conn.info: where a small stage's shards end on Citus (write_shard_by_shard)


def stage_rows(conn: Connection, report: ValidationReport | CleanBatch, notify: Progress = ignore_progress,
               *, in_lock_order: bool = True) -> int:
    """COPY the report's valid rows into import_stage, STAGE_CHUNK rows at a time; returns how many.

    in_lock_order: rows go in email byte order and pos is that rank (what the merge needs); the
    review, which locks nothing, keeps the file's order and saves the sort."""
    fields = ["email", *[f for f in FIELDS if f != "email"]]
    notify("preparing", 0, report.valid_count)
    table = report.valid_table()
    total = table.num_rows
    if in_lock_order:
        notify("sorting", 0, total)
    order = _lock_order(conn, table["email"]) if in_lock_order else None
    notify("staging", 0, total)
    cursor = conn.connection.driver_connection.cursor()
    key = _open_stage(conn, cursor)
    names = [*STAGE_COLUMNS, *["stage"] * (key is not None)]
    with cursor.copy(f"COPY {'import_stage_rows' if key else 'import_stage'} ({', '.join(names)}) "
                     "FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, total, STAGE_CHUNK):
            chunk = (table.take(order[start:start + STAGE_CHUNK]) if order is not None
                     else table.slice(start, STAGE_CHUNK))
            columns = [pa.array(np.arange(start, start + chunk.num_rows, dtype=np.int32)),
                       chunk[ROW].cast(pa.int64()),
                       # An empty cell becomes NULL: the merge then keeps the stored value.
                       *[empty_as_null(chunk[field]) for field in fields]]
            if key is not None:
                columns.append(pa.repeat(pa.scalar(key), chunk.num_rows))
            copy.write(to_csv(pa.table(columns, names=names)))
            notify("staging", start + chunk.num_rows, total)
    if in_lock_order and total > SMALL_STAGE and key is None:  # import_stage_rows has its index
        cursor.execute("CREATE INDEX ON import_stage (pos)")
    notify("staging", total, total)
    return total


def _lock_order(conn: Connection, emails: pa.ChunkedArray) -> pa.Array:
    """The stage's rows in the order the merge locks them: by email in byte order (UTF-8 byte
    order is code point order). When the transaction writes shard by shard, by shard first; where
    each shard's run ends goes to conn.info[SHARD_ENDS], for the merge (shard_runs)."""
    if not conn.info.get(SHARD_ENDS):
        return pc.sort_indices(emails)
    shards = pa.array(conn.execute(sa.text(
        "SELECT get_shard_id_for_distribution_column('contacts', e) FROM unnest(CAST(:emails AS text[])) e"),
        {"emails": emails.to_pylist()}).scalars().all(), pa.int64())
    order = pc.sort_indices(pa.table({"shard": shards, "email": emails}),
                            sort_keys=[("shard", "ascending"), ("email", "ascending")])
    runs = pc.value_counts(shards.take(order))  # in order of first appearance: the shards' order
    conn.info[SHARD_ENDS] = np.cumsum(runs.field("counts").to_numpy()).tolist()
    return order


def _open_stage(conn: Connection, cursor) -> str | None:
    """Make import_stage: a temp table (None), or on Citus the view over a new stage key (the key)."""
    if not on_citus(conn):
        cursor.execute(STAGE_TABLE)
        return None
    key = str(uuid.uuid4())
    for statement in STAGE_VIEWS:
        cursor.execute(statement.format(key=key))
    conn.info["stage"] = key
    return key


def write_shard_by_shard(conn: Connection, rows: int) -> None:
    """On Citus, a transaction that will merge at most SMALL_STAGE rows writes without the hold on
    every shard that Citus' deadlock prevention takes for a multi-shard write until the
    transaction ends: otherwise it queues behind a large commit, which holds them all (issue 20).
    Its stage is then locked one shard at a time, in shard order (a statement per shard: Citus
    runs one statement's shards side by side, on both workers at once), so small writers lock
    contacts in one order, by shard and then by email, and cannot deadlock with each other. A
    large commit locks its shards side by side: a small writer that shares its contacts can meet
    it in a deadlock, which Citus breaks by cancelling the younger transaction (usually the small
    one), and retry_deadlocks runs it again. Call first in the transaction."""
    conn.info.pop(SHARD_ENDS, None)  # conn.info outlives a transaction that failed
    if rows <= SMALL_STAGE and on_citus(conn):
        conn.execute(sa.text("SET LOCAL citus.enable_deadlock_prevention = off"))
        conn.info[SHARD_ENDS] = True  # stage_rows puts where each shard's rows end


def shard_runs(conn: Connection) -> list[int] | None:
    """Where the merge's locking must stop and start again (after each shard's rows, in the order
    staged: merge_import_stage's p_runs), None when it may lock the stage in one statement. Asked
    once, after stage_rows."""
    ends = conn.info.pop(SHARD_ENDS, None)
    return ends if isinstance(ends, list) else None


def analyze_stage(conn: Connection) -> None:
    """Statistics of the temp table, which has none until analyzed. Not on Citus: ANALYZE of the
    shared import_stage_rows would hold a lock that other stagings' ANALYZE waits for until this
    transaction ends, and each shard's planner sizes its part of the stage from its pages."""
    if not on_citus(conn):
        conn.execute(sa.text("ANALYZE import_stage"))


def drop_stage(conn: Connection) -> None:
    """Before a transaction that staged rows commits: on Citus its rows and its view go (on one
    server the temp table goes with the transaction)."""
    key = conn.info.pop("stage", None) if on_citus(conn) else None
    if key is not None:
        # Citus lets one multi-shard write at a time hold a shard, to its transaction's end,
        # unless told it cannot deadlock: no other transaction touches this stage's rows. (Citus
        # modifies no view of its tables, so the rows go by their key.)
        conn.execute(sa.text("SET LOCAL citus.enable_deadlock_prevention = off"))
        for table in ("import_stage_rows", "import_matched_rows"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE stage = :key"), {"key": key})
        conn.execute(sa.text("DROP VIEW import_stage, import_matched"))


def on_citus(conn: Connection) -> bool:
    """Whether conn is to a Citus coordinator (core.storage.database marks such connections)."""
    return bool(conn.connection.info.get("citus"))


def empty_as_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    column = column.cast(pa.large_string())
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.large_string()), column)


def to_csv(table: pa.Table) -> bytes:
    """CSV that COPY reads back exactly: NULL as an unquoted empty field, text always quoted."""
    out = pa.BufferOutputStream()
    pa_csv.write_csv(table, out, CSV_OPTIONS)
    return out.getvalue().to_pybytes()


def retry_deadlocks(what: str, attempt: Callable[[], T]) -> T:
    """attempt() again, up to ATTEMPTS times, when PostgreSQL chose its transaction as a deadlock
    victim (rolled back whole, so a new attempt starts clean). Writers of contacts lock them in
    one order, so on one server this is a safety net; on Citus, where the workers of one
    statement lock in parallel, two large overlapping commits can meet one. Each retry is
    logged."""
    for number in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except sa.exc.OperationalError as error:
            if sqlstate(error) != DEADLOCK or number == ATTEMPTS:
                raise
            log.warning("deadlock %s, retrying (attempt %d)", what, number)
    raise AssertionError("unreachable")


def sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def reason(error: Exception) -> str:
    """The first line of an error, for the import's `error` column and the user's message."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    first = (text[0] if text else type(original).__name__)[:500]
    if getattr(error, "connection_invalidated", False):
        return f"the connection to the database was lost ({first}); try again when it is back"
    return first
