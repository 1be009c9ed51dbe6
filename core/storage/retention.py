"""Retention (issue 24): personal data kept only as long as it is needed. Rejected rows' values
(an import's error report and error file), the values an import replaced (what its undo gives
back) and drafts' files expire after periods that are settings; a daily sweep (sweep) deletes them.

What expires is the values. An import keeps its counts, its error lines' row, column and reason,
and which fields it changed on which contacts (later undos of other imports need that); an undo
of an import whose previous values expired says, field by field, what it can no longer restore.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import ImportConsoleError

log = logging.getLogger(__name__)

# setting -> (what it keeps, default days)
SETTINGS = {"CONTACT_IMPORT_KEEP_REJECTED_DAYS": ("rejected rows' values", 90),
            "CONTACT_IMPORT_KEEP_PREVIOUS_DAYS": ("the values imports replaced (for undo)", 90),
            "CONTACT_IMPORT_KEEP_DRAFTS_DAYS": ("drafts and their files", 1)}


def days(setting: str) -> float:
    """A retention period in days, from its setting or its default; refused unless positive."""
    what, default = SETTINGS[setting]
    text = os.environ.get(setting, "").strip()
    try:
        value = float(text) if text else float(default)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ImportConsoleError(f"{setting}={text!r}: say how many days to keep {what}, a number above 0.")
    return value


def period(setting: str) -> timedelta:
    return timedelta(days=days(setting))


@dataclass
class Swept:
    rejected_imports: int   # imports whose rejected rows' values went
    rejected_rows: int
    previous_imports: int   # imports whose replaced values went
    previous_links: int

    def as_dict(self) -> dict:
        return asdict(self)


# The imports whose data of one kind is older than its period and still held.
_DUE = ("SELECT id FROM imports WHERE {stamp} IS NULL AND status <> 'processing' "
        "AND COALESCE(completed_at, created_at) <= now() - :age")


def sweep(engine: Engine) -> Swept:
    """Delete what is past its period: rejected rows' values, previous values (the drafts go with
    core.importing.expire_drafts, which the same sweep runs). One transaction; run daily."""
    with engine.begin() as conn:
        rejected = conn.execute(sa.text(_DUE.format(stamp="rejected_expired_at")),
                                {"age": period("CONTACT_IMPORT_KEEP_REJECTED_DAYS")}).scalars().all()
        rows = 0
        if rejected:
            rows = conn.execute(sa.text("DELETE FROM import_error_rows WHERE import_id = ANY(:ids)"),
                                {"ids": rejected}).rowcount
            rows = max(rows, conn.execute(sa.text(
                "UPDATE import_errors SET value = NULL, email = NULL WHERE import_id = ANY(:ids) "
                "AND (value IS NOT NULL OR email IS NOT NULL)"), {"ids": rejected}).rowcount)
            conn.execute(sa.text("UPDATE imports SET rejected_expired_at = now() WHERE id = ANY(:ids)"),
                         {"ids": rejected})
        replaced = conn.execute(sa.text(_DUE.format(stamp="previous_expired_at")),
                                {"age": period("CONTACT_IMPORT_KEEP_PREVIOUS_DAYS")}).scalars().all()
        links = 0
        if replaced:
            # the fields stay (keys with no value): a later undo of another import asks which changed
            links = conn.execute(sa.text(
                "UPDATE import_contacts SET previous = "
                "  (SELECT jsonb_object_agg(k, NULL) FROM jsonb_object_keys(previous) AS k) "
                "WHERE import_id = ANY(:ids) AND previous IS NOT NULL AND previous <> '{}'::jsonb"),
                {"ids": replaced}).rowcount
            conn.execute(sa.text("UPDATE imports SET previous_expired_at = now() WHERE id = ANY(:ids)"),
                         {"ids": replaced})
    swept = Swept(len(rejected), rows, len(replaced), links)
    if rejected or replaced:
        log.info("retention sweep: %s", swept.as_dict())
    return swept
