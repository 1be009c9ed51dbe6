"""Small helpers shared by the database tests."""
from __future__ import annotations

import json
from contextlib import contextmanager

import sqlalchemy as sa

from core.access import Actor
from core.storage.database import has_citus
from core.fields import FIELDS

HEADER = ",".join(FIELDS)


def csv_bytes(*rows: dict) -> bytes:
    """A CSV with every field as header; missing values are empty cells."""
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
    lines = [HEADER] + [",".join(cell(row.get(f, "")) for f in FIELDS) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def person(n: int, **overrides) -> dict:
    return {"full_name": f"Person {n}", "email": f"person{n}@example.com",
            "linkedin_profile": f"https://linkedin.com/in/person{n}", **overrides}


def contacts(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM contacts ORDER BY email")).mappings().all()
    return {row["email"]: dict(row) for row in rows}


def links(engine, import_id: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT c.email, l.action, l.row_number, l.previous FROM import_contacts l "
            "JOIN contacts c ON c.email = l.email AND c.id = l.contact_id WHERE l.import_id = :i "
            "ORDER BY l.row_number"),
            {"i": import_id}).mappings()]


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def metadata(value: str) -> dict:
    return json.loads(value)


def prepare(data: bytes, file_name: str, **read_options):
    """A draft of the file, read, mapped as suggested and validated (no database)."""
    from core import importing
    draft = importing.open_file(None, data, file_name, **read_options)
    importing.validate_draft(draft)
    return draft


# Callers of the service, as the entry points make them (core.access)
ADMIN = Actor("ana@example.com", "admin", "service")
IMPORTER = Actor("ivy@example.com", "importer", "service")


@contextmanager
def refusing(engine, table: str, operation: str, message: str):
    """A trigger that makes every `operation` (INSERT, DELETE) on table fail with message, for
    the tests of what a failure half-way leaves; on Citus too, where triggers on distributed
    tables must be allowed first."""
    with engine.begin() as conn:
        _allow_triggers(conn)
        conn.execute(sa.text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                             f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"))
        conn.execute(sa.text(f"CREATE TRIGGER refuse BEFORE {operation} ON {table} "
                             "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            _allow_triggers(conn)
            conn.execute(sa.text(f"DROP TRIGGER refuse ON {table}"))
            conn.execute(sa.text("DROP FUNCTION refuse()"))


def _allow_triggers(conn) -> None:
    if has_citus(conn):
        conn.execute(sa.text("SET LOCAL citus.enable_unsafe_triggers TO on"))


@contextmanager
def holding(engine, *emails: str):
    """A writer that has inserted these emails and not ended, as a concurrent import holds
    them: a merge of any of them waits for it. Yields the function that ends it (rolled back,
    so the merge then inserts them itself); leaving the block ends it too."""
    conn = engine.connect()
    conn.execute(sa.text("INSERT INTO contacts (email, full_name, linkedin_profile) "
                         "SELECT e, 'Held', '' FROM unnest(CAST(:emails AS text[])) AS e"),
                 {"emails": list(emails)})
    try:
        yield conn.close
    finally:
        conn.close()


@contextmanager
def statements_sent(engine):
    """The (statement, parameters) that engine sends to the server within the block."""
    sent = []

    def record(conn, cursor, statement, parameters, context, many):
        sent.append((statement, parameters))
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def open_tab(at, import_id: str, label: str):
    """Open a tab of an import's details in History's AppTest (only the open tab runs)."""
    from pages.history import tabs_key
    at.session_state[tabs_key(import_id)] = label
    return at.run()
