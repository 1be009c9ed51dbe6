"""The import_progress table: how far a running commit is, written from another connection than the
commit's (whose writes are invisible until it ends), so any tab, process or server can show it."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.storage.records import import_uuid


def write(engine: Engine, import_id: str, stage: str, done: int, total: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO import_progress (import_id, stage, done, total) VALUES (:id, :s, :d, :t) "
            "ON CONFLICT (import_id) DO UPDATE SET stage = EXCLUDED.stage, done = EXCLUDED.done, "
            "total = EXCLUDED.total, updated_at = now()"),
            {"id": import_uuid(import_id), "s": stage, "d": done, "t": total})


def clear(engine: Engine, import_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM import_progress WHERE import_id = :id"), {"id": import_uuid(import_id)})


def stored_progress(engine: Engine, import_id: str) -> dict | None:
    """How far the running commit of this import is, as its process last wrote it: stage, done,
    total, seconds_ago; None when no commit of it runs."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT stage, done, total, extract(epoch FROM now() - updated_at) AS seconds_ago "
            "FROM import_progress WHERE import_id = :id"), {"id": import_uuid(import_id)}).mappings().first()
    return dict(row) if row else None
