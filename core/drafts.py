"""Drafts that outlive the browser session (issue 10, point 5): an import wizard's draft kept on the
server, named by a random token that the console puts in its URL, so that a refresh, a second tab
or a tab opened tomorrow resumes it. What is kept is what the person decided, not what was computed:
the uploaded file (on disk, under drafts_dir), the reading options, the mapping, the fixes made by
hand, the rows skipped, the step, the source and campaign. Resuming reads the file again and
applies those; a draft left alone for EXPIRE_AFTER is deleted with its file."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import audit, importing
from core.access import Actor, can
from core.embedded import PROJECT_ROOT
from core.fields import FIELDS, ROW
from core.history import get_import

log = logging.getLogger(__name__)

EXPIRE_AFTER = timedelta(days=1)
ORPHAN_AFTER = 3600.0  # seconds before a file no draft names is deleted
TOKEN_BYTES = 18  # 144 random bits: the token is what gives access to a draft


def drafts_dir() -> Path:
    """Where drafts' files are kept: CONTACT_IMPORT_DRAFTS_DIR, else .data/drafts (git-ignored)."""
    folder = Path(os.environ.get("CONTACT_IMPORT_DRAFTS_DIR", PROJECT_ROOT / ".data" / "drafts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _file_of(token: str) -> Path:
    if not token.replace("-", "").replace("_", "").isalnum():  # never a path from the URL
        raise ValueError("not a draft token")
    return drafts_dir() / f"{token}.upload"


def save_draft(engine: Engine, token: str, draft: importing.Draft, wizard: dict,
               saved: str | None = None) -> str:
    """Keep the draft's decisions and (once) its file under token; wizard: the page's step,
    source and campaign. Returns what was kept, as text: given back as saved, an unchanged draft
    is not written again (the console calls this on every rerun)."""
    path = _file_of(token)
    if not path.exists():
        shutil.copyfile(draft.upload.path, path)
    state = {"wizard": wizard, "read_options": draft.read_options, "mapping": draft.mapping,
             "skipped": {str(row): why for row, why in draft.skipped.items()},
             "edits": None if draft.edits is None else draft.edits[[ROW, *FIELDS]].to_dict("records"),
             "edits_mapping": draft.edits_mapping, "import_id": draft.import_id,
             "source": draft.source, "campaign": draft.campaign}
    kept = json.dumps(state, sort_keys=True)
    if kept == saved:
        return kept
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO drafts (token, created_by, file_name, state) VALUES (:t, :u, :f, CAST(:s AS jsonb)) "
            "ON CONFLICT (token) DO UPDATE SET state = EXCLUDED.state, updated_at = now()"),
            {"t": token, "u": draft.created_by, "f": draft.file_name, "s": kept})
    return kept


def load_draft(engine: Engine, token: str, actor: Actor) -> tuple[importing.Draft, dict] | None:
    """The draft kept under token, read again from its file with its decisions applied (validated
    and reviewed when it had got that far), and its wizard state; None if there is none (never
    made, expired, or committed since). Another user's draft is an admin's to open (else
    AccessRefused): the token is not the only key to it."""
    try:
        path = _file_of(token)
    except ValueError:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT created_by, file_name, state FROM drafts WHERE token = :t AND updated_at > now() - :age"),
            {"t": token, "age": EXPIRE_AFTER}).first()
    if row is None or not path.exists():
        return None
    if not _owns(actor, row.created_by):
        audit.check(engine, actor, "see all drafts")
    state = row.state
    if state["import_id"] and get_import(engine, state["import_id"])["status"] == "completed":
        delete_draft(engine, token)  # committed meanwhile (from another tab): History has it
        return None
    draft = importing.open_file(engine, path, row.file_name, source=state["source"], campaign=state["campaign"],
                                created_by=row.created_by, actor=actor, **state["read_options"])
    draft.mapping = {field: list(columns) for field, columns in state["mapping"].items()}
    draft.skipped = {int(r): why for r, why in state["skipped"].items()}
    draft.import_id = state["import_id"]
    if state["edits"] is not None:
        draft.edits = pd.DataFrame(state["edits"], columns=[ROW, *FIELDS]).astype({ROW: int})
        draft.edits_mapping = state["edits_mapping"]
    if state["wizard"].get("step") in ("review", "commit"):
        importing.validate_draft(draft)
        importing.review(engine, draft)
    return draft, state["wizard"]


def _owns(actor: Actor, owner: str | None) -> bool:
    return (owner or "").lower() == actor.name.lower()


def list_drafts(engine: Engine, actor: Actor) -> pd.DataFrame:
    """The drafts not expired, newest first: the actor's own, or everyone's for an admin."""
    every = can(actor, "see all drafts")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT token, file_name, created_by, updated_at, state->'wizard'->>'step' AS step FROM drafts "
            "WHERE updated_at > now() - :age AND (:every OR lower(created_by) = lower(:me)) "
            "ORDER BY updated_at DESC LIMIT 200"), {"age": EXPIRE_AFTER, "every": every, "me": actor.name}).all()
    return pd.DataFrame(rows, columns=["token", "file_name", "created_by", "updated_at", "step"])


def delete_draft(engine: Engine, token: str) -> None:
    """Forget a draft (committed, or started over) and its file."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM drafts WHERE token = :t"), {"t": token})
    try:
        _file_of(token).unlink(missing_ok=True)
    except ValueError:
        pass


def expire_drafts(engine: Engine, older_than: timedelta = EXPIRE_AFTER) -> int:
    """Delete the drafts unchanged for older_than, and their files (and files no draft names, left
    by a server stopped between the two); returns how many drafts went."""
    with engine.begin() as conn:
        gone = conn.execute(sa.text("DELETE FROM drafts WHERE updated_at <= now() - :age RETURNING token"),
                            {"age": older_than}).scalars().all()
        kept = set(conn.execute(sa.text("SELECT token FROM drafts")).scalars())
    for token in gone:
        _file_of(token).unlink(missing_ok=True)
    for path in drafts_dir().glob("*.upload"):
        # A file is copied just before its row is written: leave young files alone.
        if path.stem not in kept and time.time() - path.stat().st_mtime > ORPHAN_AFTER:
            path.unlink(missing_ok=True)
    if gone:
        log.info("expired %d import drafts", len(gone))
    return len(gone)
