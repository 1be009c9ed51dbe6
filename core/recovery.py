"""Imports left in 'processing' by a crashed or abandoned session (issue 5).

A commit holds a row lock on its import (SELECT ... FOR UPDATE in core.imports) for the whole
transaction. So an import in 'processing' whose row is NOT locked is not being committed by anyone:
if it is older than the timeout, its process died or its user walked away. Such an import is
marked 'failed' with a reason, and nothing of it was written (the commit is one transaction).
commit_import accepts a failed import, so the same import can be committed again (retried).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.imports import ImportResult, Progress, commit_import
from core.validation import ValidationReport

ABANDONED_AFTER = timedelta(minutes=30)
ABANDONED_REASON = ("abandoned: the import stayed in 'processing' for more than {minutes} minutes "
                    "with no commit running (the session or server stopped); nothing of it was saved. "
                    "Commit it again to retry.")


def abandon_stale_imports(engine: Engine, older_than: timedelta = ABANDONED_AFTER) -> list[str]:
    """Mark as failed every 'processing' import older than older_than that no commit holds; returns
    their ids. Safe to call from every history page view and from several processes at once."""
    minutes = max(0, round(older_than.total_seconds() / 60))
    with engine.begin() as conn:
        return [str(i) for i in conn.execute(sa.text(
            "UPDATE imports SET status = 'failed', error = :reason, completed_at = now() "
            "WHERE id IN (SELECT id FROM imports WHERE status = 'processing' "
            "             AND created_at < now() - make_interval(secs => :seconds) "
            "             FOR UPDATE SKIP LOCKED) "
            "RETURNING id"),
            {"reason": ABANDONED_REASON.format(minutes=minutes),
             "seconds": older_than.total_seconds()}).scalars()]


def retry_import(engine: Engine, import_id: str, report: ValidationReport,
                 on_progress: Progress | None = None) -> ImportResult:
    """Commit a failed (or abandoned) import again with the rows of its file, read anew."""
    return commit_import(engine, import_id, report, on_progress)
