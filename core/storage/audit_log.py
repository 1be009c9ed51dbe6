"""The audit trail's storage (issue 13): who did what and when, append-only (sql/016_access.sql
refuses any change or removal). Deciding who may do what is core.access's. An action's row is written in the action's own transaction, so there is never
an import committed, undone or attached without its row, nor a row for one that rolled back."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.storage.records import import_uuid

if TYPE_CHECKING:
    from core.access import Actor

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


def record_refusal(engine: Engine, actor: Actor, action: str, import_id) -> None:
    """The same refusal (actor, action, import, way in) at most once a minute: a script retrying
    with a key that lacks the role must not grow the trail without bound."""
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO audit_log (actor, role, via, action, import_id, subject) "
                "SELECT :actor, :role, :via, 'refused', :import_id, :subject WHERE NOT EXISTS ("
                "  SELECT 1 FROM audit_log WHERE action = 'refused' AND actor = :actor AND subject = :subject "
                "  AND via = :via AND import_id IS NOT DISTINCT FROM CAST(:import_id AS uuid) "
                "  AND at > clock_timestamp() - interval '1 minute')"),
                {"actor": actor.name, "role": actor.role, "via": actor.via, "import_id": import_id,
                 "subject": action})
    except Exception:
        log.exception("could not write the audit row of a refusal of %s to %s", action, actor.name)


def trail(engine: Engine, import_id: str | None = None, limit: int | None = LIMIT) -> pd.DataFrame:
    """The trail, oldest first: of one import, or all of it; the newest `limit` rows (None: all);
    each row naming an import with its file name too."""
    where = "WHERE import_id = :id" if import_id is not None else ""
    query = (f"SELECT * FROM (SELECT id, at, actor, role, via, action, import_id::text AS import_id, campaign, "
             f"subject, detail FROM audit_log {where} ORDER BY id DESC LIMIT :limit) newest ORDER BY id")
    params = {"limit": limit, **({"id": import_uuid(import_id)} if import_id is not None else {})}
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), params).mappings().all()
        frame = pd.DataFrame(rows, columns=["id", *COLUMNS])
        files = _file_names(conn, frame["import_id"].dropna().unique().tolist())
    frame["detail"] = frame["detail"].map(_said)
    frame.insert(COLUMNS.index("import_id") + 2, "file_name", frame["import_id"].map(files))
    return frame.drop(columns="id")


def _file_names(conn, import_ids: list[str]) -> dict[str, str]:
    """The file name of each import a row names (read apart: on Citus the trail stays on the
    coordinator and imports is a reference table)."""
    if not import_ids:
        return {}
    rows = conn.execute(sa.text("SELECT id::text, file_name FROM imports WHERE id = ANY(CAST(:ids AS uuid[]))"),
                        {"ids": import_ids}).all()
    return {import_id: name for import_id, name in rows}


def size(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()


def _said(detail: dict | None) -> str:
    """{"inserted": 2, "updated": 0} -> "inserted 2 · updated 0"."""
    return " · ".join(f"{key} {value}" for key, value in (detail or {}).items())
