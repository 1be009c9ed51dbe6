"""The drafts and draft_files tables: a console draft's decisions (as JSON) and its file, in parts
(core.importing.drafts turns them back into a draft)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

FILE_PART = 1 << 20  # bytes per row of draft_files
DRAFT_COLUMNS = ["token", "file_name", "created_by", "created_at", "rows", "updated_at", "step"]


def keep(engine: Engine, token: str, import_id: str, created_by: str | None, file_name: str, state: str,
         file: Path) -> None:
    """Write a draft's state under token; the first time, its file too, in the same transaction. A
    committed draft is never written again."""
    with engine.begin() as conn:
        made = conn.execute(sa.text(
            "INSERT INTO drafts (token, import_id, created_by, file_name, state) "
            "VALUES (:t, :i, :u, :f, CAST(:s AS jsonb)) "
            "ON CONFLICT (token) DO UPDATE SET state = EXCLUDED.state, updated_at = now() "
            "WHERE drafts.committed_at IS NULL RETURNING (xmax = 0) AS made"),
            {"t": token, "i": import_id, "u": created_by, "f": file_name, "s": state}).scalar()
        if made:
            _store_file(conn, token, file)


def _store_file(conn: sa.Connection, token: str, path: Path) -> None:
    """The upload, streamed into draft_files part by part (never held whole in memory)."""
    cursor = conn.connection.driver_connection.cursor()
    with path.open("rb") as source, cursor.copy("COPY draft_files (token, part, data) FROM STDIN") as copy:
        part = 0
        while chunk := source.read(FILE_PART):
            copy.write_row((token, part, chunk))
            part += 1


def stream_file(engine: Engine, token: str, write: Callable[[bytes], None]) -> int:
    """Hand the draft's file to write, part by part; returns how many parts there were."""
    parts = 0
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=4).execute(sa.text(
            "SELECT data FROM draft_files WHERE token = :t ORDER BY part"), {"t": token})
        for (data,) in rows:
            write(data)
            parts += 1
    return parts


def find(engine: Engine, token: str, expire_after: timedelta, committed_kept: timedelta) -> sa.Row | None:
    """The draft's row (import_id, created_by, file_name, state, committed_at) unless expired."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT import_id::text AS import_id, created_by, file_name, state, committed_at FROM drafts "
            "WHERE token = :t AND (updated_at > now() - :age OR committed_at > now() - :kept)"),
            {"t": token, "age": expire_after, "kept": committed_kept}).first()


def open_drafts(engine: Engine, expire_after: timedelta, everyone: bool, me: str) -> pd.DataFrame:
    """The drafts not committed nor expired, newest first: me's, or everyone's."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT token, file_name, created_by, created_at, CAST(state->>'rows' AS bigint) AS rows, updated_at, "
            "state->'wizard'->>'step' AS step FROM drafts "
            "WHERE committed_at IS NULL AND updated_at > now() - :age "
            "AND (:every OR lower(created_by) = lower(:me)) "
            "ORDER BY updated_at DESC LIMIT 200"), {"age": expire_after, "every": everyone, "me": me}).all()
    return pd.DataFrame(rows, columns=DRAFT_COLUMNS)


def owner(engine: Engine, token: str) -> tuple[bool, str | None]:
    """(whether a draft not committed is kept under token, who made it)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT created_by FROM drafts WHERE token = :t AND committed_at IS NULL"),
                           {"t": token}).first()
    return row is not None, row.created_by if row is not None else None


def delete(engine: Engine, token: str) -> None:
    """Forget a draft not committed, and its file."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM drafts WHERE token = :t AND committed_at IS NULL"), {"t": token})


def expire(engine: Engine, older_than: timedelta, committed_kept: timedelta) -> int:
    """Delete drafts unchanged for older_than, and committed ones' rows after committed_kept; a
    committed draft keeps only its row (what tells another tab it was committed) after older_than:
    its file and decisions go."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "DELETE FROM draft_files WHERE token IN (SELECT token FROM drafts WHERE committed_at <= now() - :age)"),
            {"age": older_than})
        conn.execute(sa.text("UPDATE drafts SET state = '{}'::jsonb WHERE committed_at <= now() - :age "
                             "AND state <> '{}'::jsonb"), {"age": older_than})
        return conn.execute(sa.text(
            "DELETE FROM drafts WHERE (committed_at IS NULL AND updated_at <= now() - :age) "
            "OR committed_at <= now() - :kept"), {"age": older_than, "kept": committed_kept}).rowcount
