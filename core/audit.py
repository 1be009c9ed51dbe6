"""The audit trail (issue 13): who did what and when, append-only (sql/016_access.sql refuses any
change or removal). An action's row is written in the action's own transaction, so there is never
an import committed, undone or attached without its row, nor a row for one that rolled back."""
from __future__ import annotations

import json
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.access import AccessRefused, Actor, can
from core.errors import ImportNotFound
from core.records import import_uuid

log = logging.getLogger(__name__)

COLUMNS = ["at", "actor", "role", "via", "action", "import_id", "campaign", "subject", "detail"]
LIMIT = 10_000


def record(conn: Connection, actor: Actor, action: str, *, import_id=None, campaign: str | None = None,
           subject: str | None = None, detail: dict | None = None) -> None:
    conn.execute(sa.text(
        "INSERT INTO audit_log (actor, role, via, action, import_id, campaign, subject, detail) "
        "VALUES (:actor, :role, :via, :action, :import_id, :campaign, :subject, CAST(:detail AS jsonb))"),
        {"actor": actor.name, "role": actor.role, "via": actor.via, "action": action,
         "import_id": None if import_id is None else import_uuid(import_id), "campaign": campaign,
         "subject": subject, "detail": json.dumps(detail or {})})


def record_now(engine: Engine, actor: Actor, action: str, **what) -> None:
    """An action with no transaction of its own (a refusal): written at once. A failure to write it
    is logged, never raised: the refusal stands either way."""
    try:
        with engine.begin() as conn:
            record(conn, actor, action, **what)
    except Exception:
        log.exception("could not write the audit row of %s by %s", action, actor.name)


def check(engine: Engine, actor: Actor, action: str, import_id=None) -> None:
    """core.access.require, with a refusal written to the trail, for the admins to see who tried
    what."""
    if can(actor, action):
        return
    try:
        named = None if import_id is None else import_uuid(import_id)
    except ImportNotFound:
        named = None  # not an import id: the refusal is recorded without one
    record_now(engine, actor, "refused", import_id=named, subject=action)
    raise AccessRefused(actor, action)


def trail(engine: Engine, import_id: str | None = None, limit: int = LIMIT) -> pd.DataFrame:
    """The trail, oldest first: of one import, or all of it (the last `limit` rows)."""
    where = "WHERE import_id = :id" if import_id is not None else ""
    query = (f"SELECT * FROM (SELECT id, at, actor, role, via, action, import_id::text AS import_id, campaign, "
             f"subject, detail FROM audit_log {where} ORDER BY id DESC LIMIT :limit) newest ORDER BY id")
    params = {"limit": limit, **({"id": import_uuid(import_id)} if import_id is not None else {})}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), params).mappings().all()
    frame = pd.DataFrame(rows, columns=["id", *COLUMNS])
    frame["detail"] = frame["detail"].map(_said)
    return frame.drop(columns="id")


def _said(detail: dict | None) -> str:
    """{"inserted": 2, "updated": 0} -> "inserted 2 · updated 0"."""
    return " · ".join(f"{key} {value}" for key, value in (detail or {}).items())
