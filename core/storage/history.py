"""The import history: imports newest first with filters, one import's record, its rejected rows
and its contacts. It changes nothing but this: listing imports first settles those whose commit
died (core.storage.records.abandon_stale_imports), so that no reader sees them `processing` forever."""
from __future__ import annotations

import io
from typing import BinaryIO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.storage.campaigns import campaign_uuid
from core.rows.error_file import errors_column
from core.errors import ImportNotFound
from core.files.exporting import error_file_name, to_export_csv
from core.fields import FIELDS
from core.progress import Progress, ignore_progress
from core.storage.records import abandon_stale_imports, import_uuid

IMPORT_COLUMNS = ["id", "status", "source", "file_name", "created_by", "created_at", "completed_at",
                  "file_rows", "total_rows", "inserted", "updated", "unchanged", "invalid", "duplicates",
                  "campaign_id", "campaign", "error", "mode", "already_there", "not_found", "rules", "fixes",
                  "follows", "follows_file", "suppressed",
                  "rejected_expired_at", "previous_expired_at"]
IMPORT_SELECT = """
    SELECT i.id::text AS id, i.status, i.source, i.file_name, i.created_by, i.created_at,
           i.completed_at, i.file_rows, i.total_rows, i.inserted, i.updated, i.unchanged, i.invalid, i.duplicates,
           i.campaign_id::text AS campaign_id, c.name AS campaign, i.error, i.mode, i.already_there, i.not_found, i.rules,
           i.fixes, i.follows::text AS follows, f.file_name AS follows_file, i.suppressed,
           i.rejected_expired_at, i.previous_expired_at
    FROM imports i LEFT JOIN campaigns c ON c.id = i.campaign_id LEFT JOIN imports f ON f.id = i.follows"""


def list_imports(engine: Engine, status: str | None = None, source: str | None = None,
                 campaign_id: str | None = None, search: str | None = None,
                 limit: int = 1000, offset: int = 0) -> pd.DataFrame:
    """import_records as a table, for the console's pages and the CLI."""
    return pd.DataFrame(import_records(engine, status, source, campaign_id, search, limit, offset),
                        columns=IMPORT_COLUMNS)


def import_records(engine: Engine, status: str | None = None, source: str | None = None,
                   campaign_id: str | None = None, search: str | None = None,
                   limit: int = 1000, offset: int = 0, after: tuple | None = None) -> list[dict]:
    """Imports, newest first, filtered by status, source, campaign and file-name text, each with
    its values as the database holds them (None where there is none: a table would make a missing
    time NaT and the counts beside a missing one floats, which the HTTP API cannot answer with).
    after: the (created_at, id) of the last import of the page before, instead of an offset (a
    cursor: any page costs what the first does).
    Imports whose commit died (its process killed, its server restarted) are first marked failed,
    so that no reader sees them `processing` forever."""
    abandon_stale_imports(engine)
    where, params = [], {"limit": limit, "offset": offset}
    if status:
        where.append("i.status = :status")
        params["status"] = status
    if source:
        where.append("i.source = :source")
        params["source"] = source
    if campaign_id:
        where.append("i.id IN (SELECT import_id FROM campaign_imports WHERE campaign_id = :campaign)")
        params["campaign"] = campaign_uuid(campaign_id)
    if search:
        where.append("i.file_name ILIKE :search")
        params["search"] = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if after is not None:
        where.append("(i.created_at, i.id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = after[0], import_uuid(after[1])
    query = IMPORT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    query += " ORDER BY i.created_at DESC, i.id DESC LIMIT :limit OFFSET :offset"
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(query), params).mappings()]


def get_import(engine: Engine, import_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(sa.text(IMPORT_SELECT + " WHERE i.id = :id"),
                           {"id": import_uuid(import_id)}).mappings().first()
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
            "WHERE import_id = :id ORDER BY row_number, column_name"), {"id": import_uuid(import_id)}).all()
    return pd.DataFrame(rows, columns=["row", "column", "reason", "value"])


def import_error_csv(engine: Engine, import_id: str) -> tuple[str, bytes]:
    """The import's error file as History downloads it, and its name: the rows to fix as its file
    held them (import_error_file), or, for an import that kept none, its list of errors."""
    record = get_import(engine, import_id)
    fixable = import_error_file(engine, import_id)
    rows = fixable if fixable is not None else import_errors(engine, import_id)
    return error_file_name(record["file_name"]), to_export_csv(rows)


def import_error_file(engine: Engine, import_id: str) -> pd.DataFrame | None:
    """The rows the import left out for a problem, as its file held them, plus an errors column
    (core.rows.error_file); None for an import that did not keep them (made before, or by the API)."""
    with engine.connect() as conn:
        headers = conn.execute(sa.text("SELECT file_headers FROM imports WHERE id = :id"),
                               {"id": import_uuid(import_id)}).scalar()
        if headers is None:
            return None
        rows = conn.execute(sa.text(
            "SELECT cells || errors FROM import_error_rows WHERE import_id = :id ORDER BY row_number"),
            {"id": import_uuid(import_id)}).scalars().all()
    return pd.DataFrame(rows, columns=[*headers, errors_column(headers)])


IMPORT_CONTACTS_SELECT = (
    "SELECT l.row_number AS row, l.action, c.id::text AS id, c.full_name, c.email, "
    "c.linkedin_profile, c.company, c.locale, c.timezone, c.metadata::text, l.previous::text "
    "FROM import_contacts l JOIN contacts c ON c.email = l.email AND c.id = l.contact_id "
    "WHERE l.import_id = :id ORDER BY l.row_number")
IMPORT_CONTACT_COLUMNS = ["row", "action", "id", *FIELDS, "previous"]
EXPORT_CHUNK = 50_000  # rows fetched and written to CSV at a time by a download


def import_contacts(engine: Engine, import_id: str, limit: int | None = 100, offset: int = 0) -> pd.DataFrame:
    """The contacts linked to an import, in source row order, one page at a time. metadata and
    previous come as JSON text, as stored: a value that PostgreSQL holds but Python cannot parse
    (a 9,000-digit number, a very deep nesting) must not break the page (issue 9, point 5)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(IMPORT_CONTACTS_SELECT + " LIMIT :limit OFFSET :offset"),
                            {"id": import_uuid(import_id), "limit": limit, "offset": offset}).all()
    return pd.DataFrame(rows, columns=IMPORT_CONTACT_COLUMNS)


def import_contacts_csv(engine: Engine, import_id: str, on_progress: Progress | None = None,
                        out: BinaryIO | None = None) -> bytes | None:
    """Every contact linked to an import as a formula-safe CSV download (core.files.exporting),
    built EXPORT_CHUNK rows at a time: on_progress("exporting", rows written, the import's rows).
    out: a file to write it to instead of returning it (a large download, kept on disk)."""
    total = get_import(engine, import_id)["total_rows"] or 0
    return _streamed_csv(engine, IMPORT_CONTACTS_SELECT, {"id": import_uuid(import_id)}, IMPORT_CONTACT_COLUMNS,
                         total, on_progress, out)


def campaign_contacts_csv(engine: Engine, campaign_id: str, on_progress: Progress | None = None,
                          expected: int = 0, out: BinaryIO | None = None) -> bytes | None:
    """Every contact of a campaign's imports as a formula-safe CSV download; on_progress hears
    ("exporting", rows written, expected): the caller's count (list_campaigns'), not counted again.
    out: as import_contacts_csv's."""
    query, params, order = _contacts_query(campaign_id=campaign_id)
    return _streamed_csv(engine, f"{query} ORDER BY {order}", params, CONTACT_COLUMNS, expected, on_progress, out)


def _streamed_csv(engine: Engine, query: str, params: dict, columns: list[str], total: int,
                  on_progress: Progress | None, out: BinaryIO | None) -> bytes | None:
    """The rows of one query (one snapshot, one sort), fetched and written a chunk at a time, so a
    page can say how far a large download has come; the id column left out. Returns the bytes,
    or None once written to out."""
    on_progress = on_progress or ignore_progress
    sink, done = out or io.BytesIO(), 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=EXPORT_CHUNK).execute(sa.text(query), params)
        for rows in result.partitions(EXPORT_CHUNK):
            frame = pd.DataFrame(rows, columns=columns).drop(columns=["id"])
            sink.write(to_export_csv(frame, bom=not done, header=not done))
            done += len(rows)
            on_progress("exporting", done, total)
    if not done:
        sink.write(to_export_csv(pd.DataFrame(columns=columns).drop(columns=["id"])))
    return None if out is not None else sink.getvalue()


CONTACT_SELECT = ("SELECT c.id::text AS id, c.full_name, c.email, c.linkedin_profile, c.company, c.locale, "
                  "c.timezone, c.metadata::text AS metadata, c.created_at, c.updated_at FROM contacts c")
CONTACT_COLUMNS = ["id", *FIELDS, "created_at", "updated_at"]


def list_contacts(engine: Engine, import_id: str | None = None, email: str | None = None,
                  limit: int | None = 100, offset: int = 0, campaign_id: str | None = None,
                  after: str | None = None) -> pd.DataFrame:
    """Stored contacts, one page at a time: those an import linked, those of a campaign's imports
    (both by email), the one with this email (compared as stored: trimmed, lower case), or all
    (newest first: ids are time-ordered). metadata is the stored JSON text (see import_contacts).
    after: the sort key (email, or id for all) of the last contact of the page before, instead of
    an offset; each order is an index's, so any page costs what the first does, on Citus too."""
    query, params, order = _contacts_query(import_id, email, campaign_id, after)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"{query} ORDER BY {order} LIMIT :limit OFFSET :offset"),
                            {**params, "limit": limit, "offset": offset}).mappings().all()
    return pd.DataFrame(rows, columns=CONTACT_COLUMNS)


def _contacts_query(import_id: str | None = None, email: str | None = None, campaign_id: str | None = None,
                    after: str | None = None) -> tuple[str, dict, str]:
    """list_contacts' query, its parameters and its order."""
    where, params = [], {}
    joined, order, key = "", "c.id DESC", "c.id < CAST(:after AS uuid)"
    if import_id is not None:
        joined = " JOIN import_contacts l ON l.email = c.email AND l.contact_id = c.id"
        where.append("l.import_id = :import_id")
        # the key on both sides of the join: the planner does not carry an inequality across it,
        # and a merge join then read a shard's contacts from the first email to the key
        order, key, params["import_id"] = "l.email", "l.email > :after AND c.email > :after", import_uuid(import_id)
    elif campaign_id is not None:
        where.append("(c.email, c.id) IN (SELECT l.email, l.contact_id FROM import_contacts l JOIN campaign_imports ci "
                     "ON ci.import_id = l.import_id WHERE ci.campaign_id = :campaign)")
        order, key, params["campaign"] = "c.email", "c.email > :after", campaign_uuid(campaign_id)
    if email is not None:
        where.append("c.email = :email")
        params["email"] = email.strip().lower()
    if after is not None:
        where.append(key)
        params["after"] = after
    return CONTACT_SELECT + joined + (" WHERE " + " AND ".join(where) if where else ""), params, order


def contacts_by_email(engine: Engine, emails: list[str]) -> list[dict]:
    """id, email and full_name of the stored contacts of these (normalized) emails, by email."""
    with engine.connect() as conn:
        return contacts_by_email_in(conn, emails)


def contacts_by_email_in(conn: Connection, emails: list[str]) -> list[dict]:
    """contacts_by_email as a transaction sees them (one that is writing them)."""
    rows = conn.execute(sa.text("SELECT id::text AS id, email, full_name FROM contacts "
                                "WHERE email = ANY(:emails) ORDER BY email"), {"emails": emails}).mappings().all()
    return [dict(row) for row in rows]
