"""Drafts that outlive the browser session and the server (issue 10, point 5; issue 19): an import
wizard's draft kept in the database, named by a random token that the console puts in its URL, so
that a refresh, a second tab, a tab opened tomorrow or another console server resumes it. What is
kept is what the person decided, not what was computed: the uploaded file (in draft_files, in
parts), the reading options, the mapping, the fixes made by hand (validated or not yet), the rows
skipped, the step, the source and campaign. Resuming reads the file again and applies those.

A draft and the import it becomes share one id (drafts.import_id): the commit marks the draft
committed in its own transaction and drops its file, and the draft's link then says so (Committed)
instead of offering the file again. A draft left alone for EXPIRE_AFTER is deleted; a committed
one's row (no file) is kept COMMITTED_KEPT for its links."""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import audit, importing
from core.access import Actor, can
from core.fields import FIELDS, ROW

log = logging.getLogger(__name__)

EXPIRE_AFTER = timedelta(days=1)
COMMITTED_KEPT = timedelta(days=30)
TOKEN_BYTES = 18  # 144 random bits: the token is what gives access to a draft
FILE_PART = 1 << 20  # bytes per row of draft_files


@dataclass(frozen=True)
class Committed:
    """What a committed draft's link leads to: its import, in History."""

    import_id: str
    file_name: str


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _valid_token(token: str) -> bool:
    return bool(token) and token.replace("-", "").replace("_", "").isalnum() and len(token) <= 64


def _frame_records(frame: pd.DataFrame | None) -> list | None:
    return None if frame is None else frame[[ROW, *FIELDS]].to_dict("records")


def _records_frame(records: list | None) -> pd.DataFrame | None:
    if records is None:
        return None
    return pd.DataFrame(records, columns=[ROW, *FIELDS]).astype({ROW: int})


def save_draft(engine: Engine, token: str, draft: importing.Draft, wizard: dict,
               saved: str | None = None) -> str:
    """Keep the draft's decisions and (when its row is made) its file under token; wizard: the
    page's step, source and campaign. Returns what was kept, as text: given back as saved, an
    unchanged draft is not written again (the console calls this on every rerun). A committed
    draft is never written again."""
    state = {"wizard": wizard, "read_options": draft.read_options, "mapping": draft.mapping,
             "skipped": {str(row): why for row, why in draft.skipped.items()},
             "edits": _frame_records(draft.edits), "pending": _frame_records(draft.pending),
             "edits_mapping": draft.edits_mapping, "pending_mapping": draft.pending_mapping, "retry": draft.retry,
             "source": draft.source, "campaign": draft.campaign}
    kept = json.dumps(state, sort_keys=True)
    if kept == saved:
        return kept
    with engine.begin() as conn:
        made = conn.execute(sa.text(
            "INSERT INTO drafts (token, import_id, created_by, file_name, state) "
            "VALUES (:t, :i, :u, :f, CAST(:s AS jsonb)) "
            "ON CONFLICT (token) DO UPDATE SET state = EXCLUDED.state, updated_at = now() "
            "WHERE drafts.committed_at IS NULL RETURNING (xmax = 0) AS made"),
            {"t": token, "i": draft.import_id, "u": draft.created_by, "f": draft.file_name, "s": kept}).scalar()
        if made:
            _store_file(conn, token, draft.upload.path)
    return kept


def _store_file(conn: sa.Connection, token: str, path: Path) -> None:
    """The upload, streamed into draft_files part by part (never held whole in memory)."""
    cursor = conn.connection.driver_connection.cursor()
    with path.open("rb") as source, cursor.copy("COPY draft_files (token, part, data) FROM STDIN") as copy:
        part = 0
        while chunk := source.read(FILE_PART):
            copy.write_row((token, part, chunk))
            part += 1


def _load_file(engine: Engine, token: str) -> importing.Upload | None:
    """The draft's file, streamed from the database into a temporary file of its own."""
    upload = importing.Upload()
    parts = 0
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=4).execute(sa.text(
            "SELECT data FROM draft_files WHERE token = :t ORDER BY part"), {"t": token})
        for (data,) in rows:
            upload.append(data)
            parts += 1
    if not parts:
        upload.close()
        return None
    return upload


def load_draft(engine: Engine, token: str, actor: Actor) -> tuple[importing.Draft, dict] | Committed | None:
    """The draft kept under token, read again from its file with its decisions applied (validated
    and reviewed when it had got that far), and its wizard state; Committed when it became an
    import (from any tab or server); None if there is none (never made, or expired). Another
    user's draft is an admin's to open (else AccessRefused): the token is not the only key to it."""
    if not _valid_token(token):
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT import_id::text AS import_id, created_by, file_name, state, committed_at FROM drafts "
            "WHERE token = :t AND (updated_at > now() - :age OR committed_at > now() - :kept)"),
            {"t": token, "age": EXPIRE_AFTER, "kept": COMMITTED_KEPT}).first()
    if row is None:
        return None
    if not _owns(actor, row.created_by):
        audit.check(engine, actor, "see all drafts")
    if row.committed_at is not None:
        return Committed(row.import_id, row.file_name)
    upload = _load_file(engine, token)
    if upload is None:
        return None
    state = row.state
    draft = importing.open_file(engine, upload, row.file_name, source=state["source"], campaign=state["campaign"],
                                created_by=row.created_by, actor=actor, import_id=row.import_id,
                                **state["read_options"])
    draft.retry = bool(state.get("retry"))
    draft.mapping = {field: list(columns) for field, columns in state["mapping"].items()}
    draft.skipped = {int(r): why for r, why in state["skipped"].items()}
    draft.edits = _records_frame(state["edits"])
    draft.edits_mapping = state["edits_mapping"] if draft.edits is not None else None
    if state["wizard"].get("step") in ("review", "commit"):
        importing.validate_draft(draft)
        importing.review(engine, draft)
    draft.pending = _records_frame(state.get("pending"))  # shown in the grid, validated on the next step
    draft.pending_mapping = state.get("pending_mapping") if draft.pending is not None else None
    return draft, state["wizard"]


def _owns(actor: Actor, owner: str | None) -> bool:
    return (owner or "").lower() == actor.name.lower()


def list_drafts(engine: Engine, actor: Actor) -> pd.DataFrame:
    """The drafts not committed nor expired, newest first: the actor's own, or everyone's for an admin."""
    every = can(actor, "see all drafts")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT token, file_name, created_by, updated_at, state->'wizard'->>'step' AS step FROM drafts "
            "WHERE committed_at IS NULL AND updated_at > now() - :age "
            "AND (:every OR lower(created_by) = lower(:me)) "
            "ORDER BY updated_at DESC LIMIT 200"), {"age": EXPIRE_AFTER, "every": every, "me": actor.name}).all()
    return pd.DataFrame(rows, columns=["token", "file_name", "created_by", "updated_at", "step"])


def delete_draft(engine: Engine, token: str) -> None:
    """Forget a draft not committed (started over, or discarded) and its file."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM drafts WHERE token = :t AND committed_at IS NULL"), {"t": token})


def expire_drafts(engine: Engine, older_than: timedelta = EXPIRE_AFTER) -> int:
    """Delete the drafts unchanged for older_than, with their files, and committed drafts' rows
    after COMMITTED_KEPT; returns how many drafts went."""
    with engine.begin() as conn:
        gone = conn.execute(sa.text(
            "DELETE FROM drafts WHERE (committed_at IS NULL AND updated_at <= now() - :age) "
            "OR committed_at <= now() - :kept"), {"age": older_than, "kept": COMMITTED_KEPT}).rowcount
    if gone:
        log.info("expired %d import drafts", gone)
    return gone
