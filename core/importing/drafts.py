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
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Callable

import pandas as pd
from sqlalchemy.engine import Engine

from core import importing
from core.access import Actor, can, check
from core.fields import FIELDS, ROW
from core.storage import drafts as stored
from core.storage.retention import period

log = logging.getLogger(__name__)

EXPIRE_AFTER = period("CONTACT_IMPORT_KEEP_DRAFTS_DAYS")  # a setting (core.storage.retention)
COMMITTED_KEPT = timedelta(days=30)
TOKEN_BYTES = 18  # 144 random bits: the token is what gives access to a draft


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


# Drafts whose first save (the row and the whole file, one transaction) runs in the background in
# this process: token -> its thread. Every other verb on such a token waits for it first.
_storing: dict[str, threading.Thread] = {}
_storing_lock = threading.Lock()


def settle(token: str | None) -> None:
    """Wait until this process has finished storing the draft's file, if it is storing it (before
    anything reads, replaces, deletes or commits the draft)."""
    with _storing_lock:
        thread = _storing.get(token)
    if thread is not None:
        thread.join()


def _storing_now(token: str) -> bool:
    with _storing_lock:
        return token in _storing


def settle_all() -> None:
    """Wait for every draft this process is storing (a test, before it counts drafts)."""
    with _storing_lock:
        threads = list(_storing.values())
    for thread in threads:
        thread.join()


def save_draft(engine: Engine, token: str, draft: importing.Draft, wizard: dict,
               saved: str | None = None, background: bool = False) -> str:
    """Keep the draft's decisions and (when its row is made) its file under token; wizard: the
    page's step, source and campaign. Returns what was kept, as text: given back as saved, an
    unchanged draft is not written again (the console calls this on every rerun). A committed
    draft is never written again. background: a first save (saved is None) writes in a thread, so
    that the page is not held while a large file streams into the database (~2 s at 150 MB), and a
    later save while it runs is skipped (saved comes back unchanged, so the next call writes);
    every other verb on the draft in this process waits for it. A draft whose save failed is only
    not kept."""
    state = {"wizard": wizard, "read_options": draft.read_options, "mapping": draft.mapping,
             "skipped": {str(row): why for row, why in draft.skipped.items()},
             "edits": _frame_records(draft.edits), "pending": _frame_records(draft.pending),
             "edits_mapping": draft.edits_mapping, "pending_mapping": draft.pending_mapping, "retry": draft.retry,
             "source": draft.source, "campaign": draft.campaign, "mode": draft.mode, "rules": draft.rules,
             "fixes": sorted(draft.fixes), "rows": len(draft.file.frame),
             "extras": draft.extras}
    kept = json.dumps(state, sort_keys=True)
    if kept == saved:
        return kept
    if background and _storing_now(token):
        return saved  # not waited for: the page's next run writes what changed meanwhile
    settle(token)
    keep = partial(stored.keep, engine, token, draft.import_id, draft.created_by, draft.file_name, kept,
                   draft.upload.path)
    if background and saved is None:
        _store_in_background(token, keep)
    else:
        keep()
    return kept


def _store_in_background(token: str, keep: Callable[[], None]) -> None:
    def store() -> None:
        try:
            keep()
        except Exception:  # the session still holds the draft; only its link will not open it elsewhere
            log.exception("keeping import draft %s failed", token)
        finally:
            with _storing_lock:
                _storing.pop(token, None)

    thread = threading.Thread(target=store, name=f"draft-{token[:8]}", daemon=True)
    with _storing_lock:
        _storing[token] = thread
    thread.start()


def _load_file(engine: Engine, token: str) -> importing.Upload | None:
    """The draft's file, streamed from the database into a temporary file of its own."""
    upload = importing.Upload()
    if not stored.stream_file(engine, token, upload.append):
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
    settle(token)
    row = stored.find(engine, token, EXPIRE_AFTER, COMMITTED_KEPT)
    if row is None:
        return None
    if not _owns(actor, row.created_by):
        check(engine, actor, "see all drafts")
    if row.committed_at is not None:
        return Committed(row.import_id, row.file_name)
    upload = _load_file(engine, token)
    if upload is None:
        return None
    return _resumed(engine, row, upload, actor)


def _resumed(engine: Engine, row, upload: importing.Upload, actor: Actor) -> tuple[importing.Draft, dict]:
    state = row.state
    draft = importing.open_file(engine, upload, row.file_name, source=state["source"], campaign=state["campaign"],
                                created_by=row.created_by, actor=actor, import_id=row.import_id,
                                mode=state.get("mode", "upsert"), rules=state.get("rules"), fixes=state.get("fixes", ()),
                                **state["read_options"])
    draft.retry = bool(state.get("retry"))
    draft.mapping = {field: list(columns) for field, columns in state["mapping"].items()}
    draft.skipped = {int(r): why for r, why in state["skipped"].items()}
    draft.extras = dict(state.get("extras") or {})
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
    """The drafts not committed nor expired, newest first: the actor's own, or everyone's for an admin.
    A draft whose first save is still running (core.importing.drafts.save_draft) shows once it is
    stored: the list does not wait for other sessions' uploads."""
    return stored.open_drafts(engine, EXPIRE_AFTER, can(actor, "see all drafts"), actor.name)


def discard_draft(engine: Engine, token: str, actor: Actor) -> None:
    """Throw away an unfinished import: one's own, or anyone's for an admin (the refusal recorded)."""
    kept, made_by = stored.owner(engine, token)
    if not kept:
        return
    if not _owns(actor, made_by):
        check(engine, actor, "see all drafts")
    delete_draft(engine, token)


def delete_draft(engine: Engine, token: str) -> None:
    """Forget a draft not committed (started over, or discarded) and its file."""
    settle(token)
    stored.delete(engine, token)


def expire_drafts(engine: Engine, older_than: timedelta = EXPIRE_AFTER) -> int:
    """Delete the drafts unchanged for older_than, with their files, and committed drafts' rows
    after COMMITTED_KEPT; returns how many drafts went."""
    gone = stored.expire(engine, older_than, COMMITTED_KEPT)
    if gone:
        log.info("expired %d import drafts", gone)
    return gone
