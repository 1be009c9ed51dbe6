"""Undo an import, atomically: delete the contacts it inserted and give the fields it updated their
`previous` values back — except where a later import changed the same contact or field, which is
reported instead of overwritten. "Later" is by changed_at, when an import last changed contacts
(its commit, or the HTTP API's last batch, which may come well before the API completes it); an
import the API is still filling counts too. Reverted imports no longer count, and the values they
wrote are not given back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.storage import audit_log
from core.errors import ImportConsoleError, UndoFailed
from core.fields import FIELDS
from core.storage.records import change_status, check_change, import_uuid, lock_import
from core.storage.staging import reason, retry_deadlocks

if TYPE_CHECKING:  # storage takes an actor to record it, and never checks its role
    from core.access import Actor

log = logging.getLogger(__name__)

RESTORABLE = [f for f in FIELDS if f != "email"]

# Undos take turns (UNDO_LOCK, an advisory lock): only an undo deletes contacts, so a contact this
# undo finds stays until it locks it. Merges do not take that lock; the undo waits for the merges
# that hold its contacts, and they for it, through the contacts' row locks.
UNDO_LOCK = "SELECT pg_advisory_xact_lock(4711003)"
# The contacts this import touched. Each statement goes by (email, contact_id): email is the key
# Citus shards contacts and import_contacts by (issue 12), contact_id tells a contact from one that
# an undo deleted and a later import made again with the same email.
LINKS = """
CREATE TEMP TABLE undo_links ON COMMIT DROP AS
SELECT l.contact_id, l.email, l.action, COALESCE(l.previous, '{}'::jsonb) AS previous
FROM import_contacts l
WHERE l.import_id = :id
"""
# Those contacts locked in the writers' order, the byte order of the email, as a merge locks them
# (sql/functions/merge.sql): an upsert whose every row conflicts, so it inserts nothing, and whose
# DO UPDATE changes nothing but locks the row, FOR UPDATE since it names the key (the undo deletes
# some). One statement on both servers: Citus has no SELECT ... FOR UPDATE over many shards. What
# the statements below read, no other writer can change until this undo ends.
LOCK_CONTACTS = """
INSERT INTO contacts AS c
SELECT k.* FROM contacts k
WHERE (k.email, k.id) IN (SELECT email, contact_id FROM undo_links)
ORDER BY k.email COLLATE "C"
ON CONFLICT (email) DO UPDATE SET email = c.email WHERE false
"""
# For each of those contacts: the fields later imports changed, and whether any later import linked it.
LATER = """
CREATE TEMP TABLE undo_later ON COMMIT DROP AS
SELECT l.contact_id, l.email,
       array_remove(array_agg(DISTINCT k.key), NULL) AS fields,
       min(i.file_name) AS by_file
FROM import_contacts l
JOIN imports i ON i.id = l.import_id
LEFT JOIN LATERAL jsonb_object_keys(COALESCE(l.previous, '{}'::jsonb)) AS k(key) ON true
WHERE (l.email, l.contact_id) IN (SELECT email, contact_id FROM undo_links)
  AND i.id <> :id AND i.status IN ('completed', 'processing') AND i.changed_at > :changed_at
GROUP BY l.contact_id, l.email
"""
# Values written by imports already reverted must not come back (issue 9, point 10). Where this
# import's `previous` holds a value that a run of reverted imports wrote (no completed import
# changed the field between them and this one), the value to give back is the one from before the
# oldest of that run: its own `previous`.
BEFORE_REVERTED = """
UPDATE undo_links u SET previous = u.previous || earlier.values
FROM (
    SELECT contact_id, jsonb_object_agg(key, value) AS values
    FROM (
        SELECT DISTINCT ON (l.contact_id, k.key) l.contact_id, k.key, k.value, i.changed_at
        FROM undo_links u
        JOIN import_contacts l ON l.email = u.email AND l.contact_id = u.contact_id AND l.action = 'updated'
        JOIN imports i ON i.id = l.import_id AND i.status = 'reverted' AND i.changed_at < :changed_at
                          AND i.previous_expired_at IS NULL
        CROSS JOIN LATERAL jsonb_each(l.previous) AS k(key, value)
        WHERE u.action = 'updated' AND u.previous ? k.key
          AND NOT EXISTS (
              SELECT 1 FROM import_contacts l2 JOIN imports i2 ON i2.id = l2.import_id
              WHERE l2.email = l.email AND l2.contact_id = l.contact_id
                AND i2.status IN ('completed', 'processing') AND i2.id <> :id
                AND i2.changed_at > i.changed_at AND i2.changed_at < :changed_at
                AND (l2.action = 'inserted' OR l2.previous ? k.key))
        ORDER BY l.contact_id, k.key, i.changed_at
    ) oldest
    GROUP BY contact_id
) earlier
WHERE u.contact_id = earlier.contact_id AND u.action = 'updated'
"""
CONFLICTS = """
SELECT u.email, '' AS field, 'kept: a later import (' || COALESCE(later.by_file, 'no file') ||
       ') also holds this contact' AS reason
FROM undo_links u JOIN undo_later later USING (contact_id) WHERE u.action = 'inserted'
UNION ALL
SELECT u.email, f.key, 'not restored: a later import (' || COALESCE(later.by_file, 'no file') ||
       ') changed it' AS reason
FROM undo_links u JOIN undo_later later USING (contact_id)
JOIN LATERAL jsonb_object_keys(u.previous) AS f(key) ON f.key = ANY(later.fields)
WHERE u.action = 'updated'
ORDER BY 1, 2
"""
# The contacts this import inserted, and those it updated whose inserting import is reverted,
# unless a completed import still holds them: found first, then deleted by their keys.
TO_DELETE = """
CREATE TEMP TABLE undo_delete ON COMMIT DROP AS
SELECT u.email, u.contact_id FROM undo_links u
WHERE u.action = 'inserted'
   OR (u.email, u.contact_id) IN (
      SELECT l.email, l.contact_id FROM import_contacts l JOIN imports i ON i.id = l.import_id
      WHERE (l.email, l.contact_id) IN (SELECT email, contact_id FROM undo_links)
        AND l.action = 'inserted' AND i.status = 'reverted')
EXCEPT
SELECT l.email, l.contact_id FROM import_contacts l JOIN imports i ON i.id = l.import_id
WHERE (l.email, l.contact_id) IN (SELECT email, contact_id FROM undo_links)
  AND i.status IN ('completed', 'processing') AND i.id <> :id
"""
DELETE_INSERTED = """
DELETE FROM contacts c USING undo_delete d WHERE c.email = d.email AND c.id = d.contact_id
"""
# The values to give back: a field of `previous` that no later import changed.
TO_RESTORE = """
CREATE TEMP TABLE undo_restore ON COMMIT DROP AS
SELECT u.email, u.contact_id, u.previous, COALESCE(later.fields, '{}') AS later_fields
FROM undo_links u LEFT JOIN undo_later later USING (contact_id)
WHERE u.action = 'updated'
  AND EXISTS (SELECT 1 FROM jsonb_object_keys(u.previous) AS k(key)
              WHERE NOT (k.key = ANY(COALESCE(later.fields, '{}'))))
"""


def _restore_statement() -> str:
    def restore(field: str) -> str:
        value = "r.previous->'metadata'" if field == "metadata" else f"r.previous->>'{field}'"
        return (f"{field} = CASE WHEN r.previous ? '{field}' AND NOT ('{field}' = ANY(r.later_fields)) "
                f"THEN {value} ELSE c.{field} END")
    return (f"UPDATE contacts c SET {', '.join(restore(f) for f in RESTORABLE)}, updated_at = now() "
            "FROM undo_restore r WHERE c.email = r.email AND c.id = r.contact_id")


@dataclass
class UndoResult:
    import_id: str
    deleted: int
    restored: int
    conflicts: pd.DataFrame  # email, field, reason


def undo_import(engine: Engine, import_id: str, actor: Actor) -> UndoResult:
    """Revert a completed import in one transaction (retried if it loses a deadlock), if actor is
    an admin (else AccessRefused). A refused status change raises StatusChangeRefused; any other
    failure UndoFailed: nothing changed."""
    try:
        return retry_deadlocks(f"undoing import {import_id}", lambda: _undo_once(engine, import_id, actor))
    except ImportConsoleError:
        raise
    except Exception as error:
        log.exception("undo of import %s failed", import_id)
        raise UndoFailed(import_id, reason(error)) from error


def _undo_once(engine: Engine, import_id: str, actor: Actor) -> UndoResult:
    with engine.begin() as conn:
        record = lock_import(conn, import_id)
        check_change(import_id, record.status, "reverted")
        params = {"id": import_uuid(import_id), "changed_at": record.changed_at}
        conn.execute(sa.text(UNDO_LOCK))
        conn.execute(sa.text(LINKS), params)
        expired = _expired_values(conn, record.previous_expired_at)
        if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM undo_links)")).scalar_one():
            deleted, restored, conflicts = _revert_contacts(conn, params)
            conflicts = pd.concat([conflicts, expired], ignore_index=True) if len(expired) else conflicts
        else:  # an import that linked nothing (an API import completed empty) changed nothing to revert
            deleted, restored, conflicts = 0, 0, pd.DataFrame(columns=["email", "field", "reason"])
        change_status(conn, import_id, "reverted")
        audit_log.record(conn, actor, "undone", import_id=import_id,
                     detail={"deleted": deleted, "restored": restored, "kept": len(conflicts)})
    return UndoResult(import_id=str(import_uuid(import_id)), deleted=deleted, restored=restored, conflicts=conflicts)


def _expired_values(conn: Connection, expired_at) -> pd.DataFrame:
    """For an import whose replaced values the retention sweep deleted: each field it changed, as
    not restored and why; its links then give nothing back (their fields hold no value)."""
    if expired_at is None:
        return pd.DataFrame(columns=["email", "field", "reason"])
    said = (f"not restored: the value before this import was deleted on {expired_at:%Y-%m-%d}, "
            "after the retention period (CONTACT_IMPORT_KEEP_PREVIOUS_DAYS)")
    expired = pd.DataFrame(conn.execute(sa.text(
        "SELECT u.email, k.key AS field, :said AS reason FROM undo_links u "
        "CROSS JOIN LATERAL jsonb_object_keys(u.previous) AS k(key) WHERE u.action = 'updated' ORDER BY 1, 2"),
        {"said": said}).all(), columns=["email", "field", "reason"])
    conn.execute(sa.text("UPDATE undo_links SET previous = '{}'::jsonb WHERE action = 'updated'"))
    return expired


def _revert_contacts(conn: Connection, params: dict) -> tuple[int, int, pd.DataFrame]:
    """The undo of the contacts in undo_links: (deleted, restored, the changes kept and why)."""
    conn.execute(sa.text(LOCK_CONTACTS))
    conn.execute(sa.text(LATER), params)
    conn.execute(sa.text(BEFORE_REVERTED), params)
    conflicts = pd.DataFrame(conn.execute(sa.text(CONFLICTS)).all(), columns=["email", "field", "reason"])
    conn.execute(sa.text(TO_RESTORE))
    restored = conn.execute(sa.text(_restore_statement())).rowcount
    conn.execute(sa.text(TO_DELETE), params)
    deleted = conn.execute(sa.text(DELETE_INSERTED)).rowcount
    return deleted, restored, conflicts
