"""The import record and its status machine: creating an import, and every change of its status.

An import is `processing` from its creation until its commit ends: `completed`, or `failed` with
the reason (nothing of it was written). A failed import can be committed again (a retry). A
completed import can be undone once: `reverted` is final. Nothing else is allowed: every status
change goes through change_status, which refuses the others with a message and changes nothing
(abandon_stale_imports, the sweep, only settles `processing` imports nobody commits: `failed`, or
`completed` for an API import whose batches linked contacts). An import is made under the id its
draft chose (create_import), so one draft never makes two imports.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
import time
from datetime import timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ImportConsoleError, ImportNotFound, StatusChangeRefused, plural

log = logging.getLogger(__name__)

STATUSES = ("processing", "completed", "failed", "reverted")
TRANSITIONS: dict[str, frozenset[str]] = {
    "processing": frozenset({"completed", "failed"}),
    "failed": frozenset({"completed", "failed"}),   # a retry, which may fail again
    "completed": frozenset({"reverted"}),
    "reverted": frozenset(),
}
# An import that stayed `processing` this long with no commit holding it was abandoned. A commit
# locks its import's row a moment after creating it, so a few minutes leave a wide margin.
ABANDONED_AFTER = timedelta(minutes=5)
# The HTTP API creates an import first and adds contacts in later calls (the seed's flow).
API_ABANDONED_AFTER = timedelta(days=1)
# How long a failed commit waits for the database to come back (a restart) to record why it failed.
WAIT_FOR_SERVER = 30.0
ABANDONED_REASON = ("abandoned: the import stayed in 'processing' for more than {minutes} minutes "
                    "with no commit running (the session or server stopped); nothing of it was saved. "
                    "Commit it again to retry.")


def can_change(current: str, wanted: str) -> bool:
    """Whether the status machine allows current -> wanted.

    >>> can_change("failed", "completed"), can_change("reverted", "completed")
    (True, False)
    """
    return wanted in TRANSITIONS.get(current, frozenset())


def current_user() -> str:
    """Who runs the import when no identity provider says: CONTACT_IMPORT_USER, else the OS user."""
    return os.environ.get("CONTACT_IMPORT_USER") or getpass.getuser()


def import_uuid(value) -> UUID:
    """An import id as a UUID; anything else is an import that does not exist."""
    try:
        return UUID(str(value))
    except ValueError:
        raise ImportNotFound(value) from None


def create_import(engine: Engine, source: str, file_name: str | None,
                  created_by: str | None = None, created_via: str = "service", import_id: str | None = None,
                  mode: str = "upsert", rules: dict[str, str] | None = None, follows: str | None = None) -> str:
    """Step 1 of the seed's flow: an import in status `processing` (created_via "api": by the
    HTTP API, which adds its contacts in later calls). import_id: the id a draft chose for the
    import it becomes; an import of that id made already is left as it is (the primary key makes
    one import of a draft, however many tabs commit it; a failed one takes this mode and these
    rules, for its retry). mode: one of MODES, and rules: field -> one of RULES, for all its
    batches. follows: the import whose error file the new import's file is."""
    source = (source or "").strip()
    if not source:
        raise ImportConsoleError("Say where the contacts come from (the import's source), e.g. 'HubSpot'.")
    check_mode(mode)
    rules = check_rules(rules or {})
    if "\x00" in source + (file_name or "") + (created_by or ""):
        raise ImportConsoleError("An import's source, file name and creator cannot hold a NUL character.")
    chosen = import_uuid(import_id) if import_id is not None else uuid4()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO imports (id, source, file_name, created_by, created_via, mode, rules, follows) "
            "VALUES (:id, :s, :f, :u, :v, :m, CAST(:r AS jsonb), :follows) "
            # a retry of a failed import commits with the mode and rules its review showed
            "ON CONFLICT (id) DO UPDATE SET mode = EXCLUDED.mode, rules = EXCLUDED.rules "
            "WHERE imports.status = 'failed'"),
            {"id": chosen, "s": source, "f": file_name, "u": created_by or current_user(), "v": created_via,
             "m": mode, "r": json.dumps(rules), "follows": import_uuid(follows) if follows else None})
    return str(chosen)


# What an import may do to contacts (sql/023_import_modes.sql): create and update, only create (the
# stored contacts of its emails are left as they are: "already there"), only update (emails not
# stored are left out: "not found").
MODES = {"upsert": "create and update", "create": "create only", "update": "update only"}


# What an import may do to a stored value, field by field (sql/024_field_rules.sql); a field left
# out is overwritten.
RULES = {"overwrite": "overwrite a stored value with a non-empty cell", "fill": "fill only an empty stored value",
         "keep": "never change a stored value"}
RULED_FIELDS = ("full_name", "linkedin_profile", "company", "locale", "timezone", "metadata")


def check_rules(rules: dict[str, str]) -> dict[str, str]:
    """rules without the fields that are overwritten (the default); refuses an unknown field or rule."""
    for field_name, rule in rules.items():
        if field_name not in RULED_FIELDS:
            raise ImportConsoleError(f"{field_name!r} takes no rule: rules are for {', '.join(RULED_FIELDS)} "
                                     "(the email is what finds a stored contact).")
        if rule not in RULES:
            raise ImportConsoleError(f"{rule!r} is not a rule for {field_name}: choose "
                                     + "; ".join(f"{name} ({what})" for name, what in RULES.items()) + ".")
    return {field_name: rule for field_name, rule in rules.items() if rule != "overwrite"}


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ImportConsoleError(f"{mode!r} is not an import mode: choose {', '.join(MODES)} "
                                 f"({'; '.join(f'{m}: {what}' for m, what in MODES.items())}).")


# Held by whoever changes an import (a commit, for its whole transaction): an advisory lock per
# import, not the imports row's lock, because on Citus (issue 12) imports is a reference table,
# where SELECT ... FOR UPDATE locks the whole table and would run commits one after another.
IMPORT_LOCK = 4_711_003


def lock_import(conn: Connection, import_id: str) -> sa.Row:
    """The import's status, completed_at, changed_at, created_by, created_via, mode, rules and
    previous_expired_at, locked until the transaction ends."""
    import_key = import_uuid(import_id)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock, hashtext(:id))"),
                 {"lock": IMPORT_LOCK, "id": str(import_key)})
    row = conn.execute(sa.text("SELECT status, completed_at, changed_at, created_by, created_via, mode, rules, "
                               "previous_expired_at FROM imports WHERE id = :id"),
                       {"id": import_key}).first()
    if row is None:
        raise ImportNotFound(import_id)
    return row


def import_owner(engine: Engine, import_id: str) -> tuple[str | None, str]:
    """Who created an import, and through what (created_by, created_via)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT created_by, created_via FROM imports WHERE id = :id"),
                           {"id": import_uuid(import_id)}).first()
    if row is None:
        raise ImportNotFound(import_id)
    return row.created_by, row.created_via


def check_change(import_id: str, current: str, wanted: str) -> None:
    if not can_change(current, wanted):
        raise StatusChangeRefused(import_id, current, wanted)


def clock_now(conn: Connection):
    """The server's clock_timestamp(), read by itself: Citus refuses a volatile function inside an
    UPDATE of a distributed or reference table (imports is one)."""
    return conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()


def change_status(conn: Connection, import_id: str, wanted: str, **columns) -> str:
    """Lock the import, check the change against TRANSITIONS, and make it with the given columns
    (counts, error, …); returns the former status. A refused change raises StatusChangeRefused."""
    current = lock_import(conn, import_id).status
    check_change(import_id, current, wanted)
    assignments = "".join(f", {name} = :{name}" for name in columns)
    stamp = {"completed": ", completed_at = :now", "failed": ", completed_at = now()",
             "reverted": ", reverted_at = now()"}[wanted]
    conn.execute(sa.text(f"UPDATE imports SET status = :wanted{assignments}{stamp} WHERE id = :id"),
                 {"wanted": wanted, "id": import_uuid(import_id), "now": clock_now(conn), **columns})
    return current


def mark_failed(engine: Engine, import_id: str, reason: str, wait_for_server: float = WAIT_FOR_SERVER) -> bool:
    """Record a failed commit's reason, if the status machine allows it (a commit refused because
    the import is completed or reverted leaves it as it is); returns whether it was marked. While
    the server cannot be reached (it is restarting), tries again for wait_for_server seconds;
    after that the import stays `processing` until abandon_stale_imports marks it."""
    deadline, pause = time.monotonic() + wait_for_server, 0.25
    while True:
        try:
            with engine.begin() as conn:
                change_status(conn, import_id, "failed", error=reason)
            return True
        except (StatusChangeRefused, ImportNotFound):
            return False
        except sa.exc.OperationalError as error:
            if time.monotonic() + pause > deadline:
                log.warning("could not record that import %s failed (%s); it will be marked abandoned "
                            "after %s", import_id, str(error.orig).strip().splitlines()[0], ABANDONED_AFTER)
                return False
            time.sleep(pause)
            pause = min(pause * 2, 4.0)


def contacts_mark(engine: Engine) -> tuple:
    """A mark that moves whenever an import or an undo changes stored contacts (each sets a time
    and a count moves with it): equal marks mean no such change in between."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT count(changed_at), max(changed_at), count(reverted_at), max(reverted_at) FROM imports")).one())


def linked_counts(conn: Connection, import_id: str) -> tuple[int, int, int]:
    """inserted, updated, unchanged of an import, counted from its links (core.rows.counts): what an
    import filled in several batches holds, a contact that two batches touched counted once."""
    return tuple(conn.execute(sa.text(
        "SELECT count(*) FILTER (WHERE action = 'inserted'), "
        "       count(*) FILTER (WHERE action = 'updated' AND previous <> CAST('{}' AS jsonb)), "
        "       count(*) FILTER (WHERE action = 'updated' AND previous = CAST('{}' AS jsonb)) "
        "FROM import_contacts WHERE import_id = :id"), {"id": import_uuid(import_id)}).one())


def add_batch_counts(conn: Connection, import_id: str, rows: int, invalid: int, already_there: int = 0,
                     not_found: int = 0, suppressed: int = 0) -> None:
    """A batch's rows added to its import's counts, and the contacts counted again from the links,
    so that the counts add up over the batches: a row whose email an earlier batch linked is a
    duplicate (the later row wins), as within one file. already_there, not_found: the batch's rows
    that the import's mode left out."""
    inserted, updated, unchanged = linked_counts(conn, import_id)
    conn.execute(sa.text(
        "UPDATE imports SET file_rows = COALESCE(file_rows, 0) + :rows, invalid = invalid + :invalid, "
        "inserted = :inserted, updated = :updated, unchanged = :unchanged, total_rows = :linked, "
        "already_there = already_there + :there, not_found = not_found + :missing, "
        "suppressed = suppressed + :suppressed, "
        "duplicates = COALESCE(file_rows, 0) + :rows - invalid - :invalid - skipped - :linked "
        "  - already_there - :there - not_found - :missing - suppressed - :suppressed, "
        "changed_at = :now WHERE id = :id"),
        {"id": import_uuid(import_id), "rows": rows, "invalid": invalid, "inserted": inserted, "updated": updated,
         "unchanged": unchanged, "linked": inserted + updated + unchanged, "there": already_there,
         "missing": not_found, "suppressed": suppressed, "now": clock_now(conn)})


def abandon_stale_imports(engine: Engine, older_than: timedelta = ABANDONED_AFTER) -> list[str]:
    """Settle every `processing` import older than older_than that no commit holds (a commit locks
    its import for its whole transaction, so an unlocked one is not being committed: its process
    died or its user walked away); returns the ids of those marked failed. An import of the HTTP
    API waits API_ABANDONED_AFTER, and one whose batches linked contacts is completed as it stands
    (each batch was committed; its client never said so): its contacts stay, counted and undoable.
    Safe to call from every history page view and from several processes at once."""
    minutes = max(0, round(older_than.total_seconds() / 60))
    api_after = max(older_than, API_ABANDONED_AFTER)
    with engine.begin() as conn:
        # Those whose lock_import nobody holds, kept until this transaction ends; the explicit
        # casts spare Citus guessing the parameters' types.
        stale = conn.execute(sa.text(
            "SELECT id FROM imports WHERE status = 'processing' "
            "AND created_at < now() - make_interval(secs => CASE WHEN created_via = 'api' "
            "    THEN CAST(:api_seconds AS double precision) ELSE CAST(:seconds AS double precision) END) "
            "ORDER BY id"),
            {"seconds": older_than.total_seconds(), "api_seconds": api_after.total_seconds()}).scalars().all()
        if not stale:  # the usual answer: one statement, not four, on every list of imports
            return []
        stale = conn.execute(sa.text(
            "SELECT id FROM unnest(CAST(:ids AS uuid[])) AS stale(id) "
            "WHERE pg_try_advisory_xact_lock(:lock, hashtext(id::text))"),
            {"ids": stale, "lock": IMPORT_LOCK}).scalars().all()
        holding = set(conn.execute(sa.text(
            "SELECT DISTINCT import_id FROM import_contacts WHERE import_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": stale}).scalars())
        for import_id in sorted(holding):
            _complete_abandoned(conn, str(import_id))
        empty = [i for i in stale if i not in holding]
        abandoned = [str(i) for i in conn.execute(sa.text(
            "UPDATE imports SET status = 'failed', completed_at = now(), "
            "       error = CASE WHEN created_via = 'api' THEN CAST(:api_reason AS text) "
            "                    ELSE CAST(:reason AS text) END "
            "WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'processing' RETURNING id"),
            {"reason": ABANDONED_REASON.format(minutes=minutes), "ids": empty,
             "api_reason": ABANDONED_REASON.format(minutes=round(api_after.total_seconds() / 60))}).scalars()]
        if stale:  # the progress its stopped commit last wrote
            conn.execute(sa.text("DELETE FROM import_progress WHERE import_id = ANY(CAST(:ids AS uuid[]))"),
                         {"ids": stale})
        return abandoned


def _complete_abandoned(conn: Connection, import_id: str) -> None:
    """An API import left in processing with contacts linked: completed with what it holds, and the
    audit trail says the sweep did it (not its client)."""
    inserted, updated, unchanged = linked_counts(conn, import_id)
    now = clock_now(conn)
    conn.execute(sa.text(
        "UPDATE imports SET status = 'completed', completed_at = :now, changed_at = :now, error = NULL, "
        "inserted = :inserted, updated = :updated, unchanged = :unchanged, total_rows = :linked "
        "WHERE id = :id AND status = 'processing'"),
        {"id": import_uuid(import_id), "now": now, "inserted": inserted, "updated": updated,
         "unchanged": unchanged, "linked": inserted + updated + unchanged})
    conn.execute(sa.text(
        "INSERT INTO audit_log (actor, role, via, action, import_id, detail) "
        "VALUES ('(sweep)', NULL, 'service', 'committed', :id, CAST(:detail AS jsonb))"),
        {"id": import_uuid(import_id), "detail": json.dumps({
            "why": f"left in processing over {plural(API_ABANDONED_AFTER.days, 'day')} with contacts linked: "
                   "completed as it stands", "inserted": inserted, "updated": updated, "unchanged": unchanged})})
