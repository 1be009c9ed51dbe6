"""The import service: create an import, commit it in one transaction, attach it to a campaign,
and read the history. Each public function takes the engine and owns its transaction.
"""
from __future__ import annotations

import getpass
import logging
import os
from dataclasses import asdict, dataclass
from typing import Callable
from uuid import UUID

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import (CampaignNotFound, CommitFailed, ImportAlreadyCommitted,
                         ImportConsoleError, ImportNotFound)
from core.fields import FIELDS, ROW
from core.validation import ValidationReport

log = logging.getLogger(__name__)

# on_progress(stage, done, total): stages are "staging", "upserting", "finishing", "done".
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 10_000
DEADLOCK = "40P01"
COMMIT_ATTEMPTS = 3

# The set-based upsert (sql/003_fast_import_stage.sql). apply_import_stage (002) reads the same
# stage and gives the same result, slower; tests compare the two.
UPSERT_FUNCTION = "merge_import_stage"
# Rows per COPY chunk: each chunk is formatted as CSV by pyarrow in one call.
STAGE_CHUNK = 50_000
STAGE_COLUMNS = ("pos", "row_number", "email", "full_name", "linkedin_profile", "company", "locale",
                 "timezone", "metadata")
# One row per email (validation dedupes). pos: rank of the email in byte order, the order in
# which the upsert locks and inserts. No index: the upsert reads the stage whole.
STAGE_TABLE = """
CREATE TEMP TABLE import_stage (
    pos integer NOT NULL, row_number integer NOT NULL, email text NOT NULL, full_name text,
    linkedin_profile text, company text, locale text, timezone text, metadata jsonb
) ON COMMIT DROP
"""
CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    status: str
    inserted: int
    updated: int
    invalid: int
    duplicates: int
    total_rows: int

    def as_dict(self) -> dict:
        return asdict(self)


def current_user() -> str:
    """Who runs the import when no identity provider says: CONTACT_IMPORT_USER, else the OS user."""
    return os.environ.get("CONTACT_IMPORT_USER") or getpass.getuser()


def create_import(engine: Engine, source: str, file_name: str | None,
                  created_by: str | None = None) -> str:
    """Step 1 of the seed's flow: an import in status `processing`."""
    source = (source or "").strip()
    if not source:
        raise ImportConsoleError("Say where the contacts come from (the import's source), e.g. 'HubSpot'.")
    with engine.begin() as conn:
        return str(conn.execute(sa.text(
            "INSERT INTO imports (source, file_name, created_by) VALUES (:s, :f, :u) RETURNING id"),
            {"s": source, "f": file_name, "u": created_by or current_user()}).scalar_one())


def rename_import_file(engine: Engine, import_id: str, file_name: str) -> None:
    """Another file was uploaded for an import not committed yet: it keeps one record, not two."""
    with engine.begin() as conn:
        renamed = conn.execute(sa.text(
            "UPDATE imports SET file_name = :f WHERE id = :id AND status IN ('processing', 'failed')"),
            {"f": file_name, "id": _uuid(import_id)}).rowcount
    if not renamed:
        raise ImportAlreadyCommitted(import_id, "completed or reverted")


def commit_import(engine: Engine, import_id: str, report: ValidationReport,
                  on_progress: Progress | None = None) -> ImportResult:
    """Steps 2 and 3 of the seed's flow in ONE transaction: stage the valid rows with COPY, upsert
    them, link each to the import, store the rejected rows, and complete the import. On failure
    nothing of it is visible and the import is marked failed with the reason."""
    notify = on_progress or (lambda stage, done, total: None)
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            return _commit_once(engine, import_id, report, notify)
        except ImportConsoleError:
            raise
        except sa.exc.OperationalError as error:
            if _sqlstate(error) == DEADLOCK and attempt < COMMIT_ATTEMPTS:
                log.warning("deadlock committing import %s, retrying (attempt %d)", import_id, attempt)
                continue
            raise _fail(engine, import_id, error) from error
        except Exception as error:
            raise _fail(engine, import_id, error) from error
    raise AssertionError("unreachable")


def _commit_once(engine: Engine, import_id: str, report: ValidationReport, notify: Progress) -> ImportResult:
    total = len(report.valid)
    with engine.begin() as conn:
        _lock_for_commit(conn, import_id)
        # The upsert sorts and joins the whole stage; keep that in memory rather than on disk.
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        _stage(conn, report.valid, notify)
        notify("upserting", 0, total)
        inserted, updated = conn.execute(
            sa.text(f"SELECT inserted, updated FROM {UPSERT_FUNCTION}(:id)"), {"id": import_id}).one()
        notify("finishing", total, total)
        _store_rejections(conn, import_id, report.rejected_rows())
        result = ImportResult(import_id=str(import_id), status="completed", inserted=inserted,
                              updated=updated, invalid=report.invalid,
                              duplicates=len(report.duplicates), total_rows=inserted + updated)
        conn.execute(sa.text(
            "UPDATE imports SET status = 'completed', total_rows = :total_rows, inserted = :inserted, "
            "updated = :updated, invalid = :invalid, duplicates = :duplicates, error = NULL, "
            # clock_timestamp, not now(): the time this commit got its locks, so completion order
            # is the order in which imports changed shared contacts (undo relies on it).
            "completed_at = clock_timestamp() WHERE id = :import_id"), result.as_dict())
    notify("done", total, total)
    return result


def _lock_for_commit(conn: Connection, import_id: str) -> None:
    status = conn.execute(sa.text("SELECT status FROM imports WHERE id = :id FOR UPDATE"),
                          {"id": _uuid(import_id)}).scalar_one_or_none()
    if status is None:
        raise ImportNotFound(import_id)
    if status == "completed":
        raise ImportAlreadyCommitted(import_id, status)


def _stage(conn: Connection, valid: pd.DataFrame, notify: Progress) -> None:
    """COPY the valid rows into import_stage in email byte order, STAGE_CHUNK rows at a time, each
    chunk formatted as CSV by pyarrow (no Python loop over rows)."""
    total = len(valid)
    fields = ["email", *[f for f in FIELDS if f != "email"]]
    table = pa.Table.from_pandas(valid[[ROW, *fields]], preserve_index=False)
    order = pc.sort_indices(table["email"])  # byte order of UTF-8 = code point order
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(STAGE_TABLE)
    with cursor.copy(f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, total, STAGE_CHUNK):
            chunk = table.take(order[start:start + STAGE_CHUNK])
            columns = [pa.array(np.arange(start, start + chunk.num_rows, dtype=np.int32)),
                       chunk[ROW].cast(pa.int64()),
                       # An empty cell becomes NULL: the upsert then keeps the stored value.
                       *[_empty_as_null(chunk[field]) for field in fields]]
            copy.write(_csv(pa.table(columns, names=list(STAGE_COLUMNS))))
            notify("staging", start + chunk.num_rows, total)
    notify("staging", total, total)


def _empty_as_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    column = column.cast(pa.large_string())
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.large_string()), column)


def _csv(table: pa.Table) -> bytes:
    """CSV that COPY reads back exactly: NULL as an unquoted empty field, text always quoted."""
    out = pa.BufferOutputStream()
    pa_csv.write_csv(table, out, CSV_OPTIONS)
    return out.getvalue().to_pybytes()


def _store_rejections(conn: Connection, import_id: str, rejected: pd.DataFrame) -> None:
    if rejected.empty:
        return
    table = pa.table({
        "import_id": pa.array([str(import_id)] * len(rejected), pa.large_string()),
        "row_number": pa.array(rejected["row"].astype("int64").to_numpy()),
        "column_name": pa.array(rejected["column"].astype(str).to_numpy(dtype=object), pa.large_string()),
        "reason": pa.array(rejected["reason"].astype(str).to_numpy(dtype=object), pa.large_string()),
        "value": pa.array(rejected["value"].astype(str).str.replace("\x00", "", regex=False)
                          .to_numpy(dtype=object), pa.large_string()),
    })
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy("COPY import_errors (import_id, row_number, column_name, reason, value) "
                     "FROM STDIN (FORMAT csv)") as copy:
        copy.write(_csv(table))


def _fail(engine: Engine, import_id: str, error: Exception) -> CommitFailed:
    log.exception("commit of import %s failed", import_id)
    reason = _reason(error)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET status = 'failed', error = :e, completed_at = now() "
                             "WHERE id = :id AND status <> 'completed'"), {"e": reason, "id": import_id})
    return CommitFailed(import_id, reason)


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__)[:500]


def _sqlstate(error: sa.exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def _uuid(value) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise ImportNotFound(value) from None


# --- campaigns ---------------------------------------------------------------------------------

def create_campaign(engine: Engine, name: str) -> str:
    """The campaign with this name (any case), created if it does not exist yet."""
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ImportConsoleError("A campaign name must have 1 to 255 characters.")
    with engine.begin() as conn:
        found = conn.execute(sa.text("SELECT id FROM campaigns WHERE lower(name) = lower(:n)"),
                             {"n": name}).scalar_one_or_none()
        if found:
            return str(found)
        return str(conn.execute(sa.text(
            "INSERT INTO campaigns (name) VALUES (:n) ON CONFLICT (lower(name)) DO UPDATE "
            "SET name = campaigns.name RETURNING id"), {"n": name}).scalar_one())


def attach_to_campaign(engine: Engine, import_id: str, campaign_id: str) -> None:
    """Step 4 of the seed's flow; idempotent. Records campaign_imports and imports.campaign_id."""
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM imports WHERE id = :id FOR UPDATE"),
                        {"id": _uuid(import_id)}).first() is None:
            raise ImportNotFound(import_id)
        if conn.execute(sa.text("SELECT 1 FROM campaigns WHERE id = :id"),
                        {"id": _campaign_uuid(campaign_id)}).first() is None:
            raise CampaignNotFound(campaign_id)
        conn.execute(sa.text("INSERT INTO campaign_imports (campaign_id, import_id) VALUES (:c, :i) "
                             "ON CONFLICT DO NOTHING"), {"c": campaign_id, "i": import_id})
        conn.execute(sa.text("UPDATE imports SET campaign_id = :c WHERE id = :i"),
                     {"c": campaign_id, "i": import_id})


def _campaign_uuid(value) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise CampaignNotFound(value) from None


def list_campaigns(engine: Engine) -> pd.DataFrame:
    """Campaigns with how many imports and distinct contacts they hold."""
    query = """
        SELECT c.id::text AS id, c.name, c.created_at,
               count(DISTINCT ci.import_id) AS imports, count(DISTINCT ic.contact_id) AS contacts
        FROM campaigns c
        LEFT JOIN campaign_imports ci ON ci.campaign_id = c.id
        LEFT JOIN import_contacts ic ON ic.import_id = ci.import_id
        GROUP BY c.id ORDER BY c.created_at DESC, c.name"""
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(query)).mappings().all(),
                            columns=["id", "name", "created_at", "imports", "contacts"])


# --- history -----------------------------------------------------------------------------------

IMPORT_COLUMNS = ["id", "status", "source", "file_name", "created_by", "created_at", "completed_at",
                  "total_rows", "inserted", "updated", "invalid", "duplicates", "campaign_id",
                  "campaign", "error"]
IMPORT_SELECT = """
    SELECT i.id::text AS id, i.status, i.source, i.file_name, i.created_by, i.created_at,
           i.completed_at, i.total_rows, i.inserted, i.updated, i.invalid, i.duplicates,
           i.campaign_id::text AS campaign_id, c.name AS campaign, i.error
    FROM imports i LEFT JOIN campaigns c ON c.id = i.campaign_id"""


def list_imports(engine: Engine, status: str | None = None, source: str | None = None,
                 campaign_id: str | None = None, search: str | None = None,
                 limit: int = 1000) -> pd.DataFrame:
    """Imports, newest first, filtered by status, source, campaign and file-name text."""
    where, params = [], {"limit": limit}
    if status:
        where.append("i.status = :status")
        params["status"] = status
    if source:
        where.append("i.source = :source")
        params["source"] = source
    if campaign_id:
        where.append("i.id IN (SELECT import_id FROM campaign_imports WHERE campaign_id = :campaign)")
        params["campaign"] = _campaign_uuid(campaign_id)
    if search:
        where.append("i.file_name ILIKE :search")
        params["search"] = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = IMPORT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    query += " ORDER BY i.created_at DESC, i.id LIMIT :limit"
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(query), params).mappings().all(), columns=IMPORT_COLUMNS)


def get_import(engine: Engine, import_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(sa.text(IMPORT_SELECT + " WHERE i.id = :id"),
                           {"id": _uuid(import_id)}).mappings().first()
    if row is None:
        raise ImportNotFound(import_id)
    return dict(row)


def recent_sources(engine: Engine, limit: int = 20) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT source FROM imports GROUP BY source ORDER BY max(created_at) DESC LIMIT :l"),
            {"l": limit}).scalars())


def import_errors(engine: Engine, import_id: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT row_number AS row, column_name AS column, reason, value FROM import_errors "
            "WHERE import_id = :id ORDER BY row_number, column_name"), {"id": _uuid(import_id)}).all()
    return pd.DataFrame(rows, columns=["row", "column", "reason", "value"])


def import_contacts(engine: Engine, import_id: str, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """The contacts linked to an import, in source row order, one page at a time."""
    columns = ["row", "action", "id", *FIELDS, "previous"]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT l.row_number AS row, l.action, c.id::text AS id, c.full_name, c.email, "
            "c.linkedin_profile, c.company, c.locale, c.timezone, c.metadata, l.previous "
            "FROM import_contacts l JOIN contacts c ON c.id = l.contact_id WHERE l.import_id = :id "
            "ORDER BY l.row_number LIMIT :limit OFFSET :offset"),
            {"id": _uuid(import_id), "limit": limit, "offset": offset}).all()
    return pd.DataFrame(rows, columns=columns)
