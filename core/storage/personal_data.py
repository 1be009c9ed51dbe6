"""People's data (issue 24): erase a person everywhere, keep them from being imported again (the
suppression list), and export everything held about one email.

The suppression list holds keyed hashes, never emails: BLAKE2b keyed with a secret (RFC 7693's
keyed mode, a MAC), over the email in its stored form. The key comes from CONTACT_IMPORT_HASH_KEY;
without it, one is made and kept in the database (hash_keys), so every server of one database
hashes alike. An audit row of an erasure
names the person by the same hash: enough to prove later that an email was erased, not to read it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ImportConsoleError
from core.files.reading import read_contacts
from core.rows.validation import is_email, normalize_value
from core.storage import audit_log

if TYPE_CHECKING:
    from core.access import Actor

KEY_ENV = "CONTACT_IMPORT_HASH_KEY"
DIGEST = 32
ERASED_ANSWER = ("This answer named a person whose data was erased since: its contacts and errors are "
                 "no longer shown.")


def stored_email(email: str) -> str:
    """The email as contacts hold it (trimmed, lower case, an international one in its one form)."""
    return normalize_value("email", str(email))


def _is_address(value: str) -> bool:
    return bool(value) and bool(is_email(pd.Series([value])).iloc[0])


def checked_email(email: str) -> str:
    """The email in its stored form, or a clear refusal when it is not an address."""
    value = stored_email(email)
    if not _is_address(value):
        raise ImportConsoleError(f"{email!r} is not an email address.")
    return value


# --- the key and the hashes ------------------------------------------------------------------------

def hash_key(conn: Connection) -> bytes:
    """The secret the hashes are keyed with: configured, else the database's own (made once)."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return hashlib.blake2b(str(configured).encode(), digest_size=DIGEST).digest()
    kept = conn.execute(sa.text("SELECT key FROM hash_keys WHERE name = 'suppression'")).scalar()
    if kept is None:  # the first list entry's transaction makes it; another server's may win the race
        conn.execute(sa.text("INSERT INTO hash_keys (name, key) VALUES ('suppression', :k) ON CONFLICT (name) DO NOTHING"),
                     {"k": os.urandom(DIGEST)})
        kept = conn.execute(sa.text("SELECT key FROM hash_keys WHERE name = 'suppression'")).scalar_one()
    return bytes(kept)


def email_hash(key: bytes, email: str) -> bytes:
    """The keyed hash of an email in its stored form."""
    return hashlib.blake2b(email.encode(), key=key, digest_size=DIGEST).digest()


def suppressed_rows(conn: Connection, emails: pd.Series) -> np.ndarray:
    """Which of these (stored-form) emails are on the suppression list: a bool per email. Nothing
    is hashed while the list is empty."""
    if not len(emails) or not conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM suppressions)")).scalar_one():
        return np.zeros(len(emails), dtype=bool)
    key = hash_key(conn)
    listed = set(conn.execute(sa.text("SELECT email_hash FROM suppressions")).scalars())
    # email_hash inlined: a 1M-row file calls it 1M times
    return np.fromiter((hashlib.blake2b(e.encode(), key=key, digest_size=DIGEST).digest() in listed
                        for e in emails.to_numpy(dtype=object)), dtype=bool, count=len(emails))


def list_mark(conn: Connection) -> tuple:
    """What the suppression list is now: an entry added or removed changes it."""
    return tuple(conn.execute(sa.text("SELECT count(*), max(added_at) FROM suppressions")).one())


def without_suppressed(conn: Connection, report):
    """The report (or clean batch) without its rows whose email is suppressed, counted as such. A
    report checked against the list as it is now (its review's, at the commit) is not hashed again:
    1M emails take a second."""
    mark = list_mark(conn)
    if getattr(report, "suppression_mark", None) == mark:
        return report
    emails = report.normalized["email"] if hasattr(report, "normalized") else pd.Series(report.emails, dtype=object)
    listed = suppressed_rows(conn, emails)
    checked = report.without(np.flatnonzero(listed)) if listed.any() else report
    if hasattr(checked, "normalized"):
        checked.suppression_mark = mark
    return checked


def emails_in_file(data: bytes, file_name: str) -> tuple[list[str], list[str]]:
    """The emails of an opt-out list (a CSV, .xlsx or JSON file, or one email per line): every
    value of the columns whose values are mostly emails, and a header that is one itself (a list
    without a header). Returns (emails, the values of those columns that are not emails)."""
    file = read_contacts(data, file_name)
    emails, bad = [], []
    for column in file.headers:
        values = file.frame[column].astype(str).map(stored_email)
        values = values[values != ""]
        if _is_address(stored_email(column)):
            emails.append(stored_email(column))
        if values.empty:
            continue
        ok = is_email(values)
        if ok.mean() >= 0.5:
            emails.extend(values[ok])
            bad.extend(values[~ok])
    if not emails:
        raise ImportConsoleError(f"{file_name}: no column of email addresses.")
    return emails, bad


def suppress(engine: Engine, emails, actor: Actor, source: str) -> tuple[int, list[str]]:
    """Put these emails on the suppression list (as keyed hashes): (how many were new, the entries
    that are not email addresses, left out)."""
    values = pd.Series([stored_email(raw) for raw in emails], dtype=object)
    values = values[values != ""]
    ok = is_email(values) if len(values) else pd.Series(dtype=bool)
    good, bad = values[ok].tolist(), values[~ok].tolist()
    with engine.begin() as conn:
        key = hash_key(conn)
        hashes = sorted({email_hash(key, email) for email in good})
        added = _add_hashes(conn, hashes, actor, "opt-out", source)
        audit_log.record(conn, actor, "suppressed", subject=source, detail={"emails": len(hashes), "new": added})
    return added, bad


def _add_hashes(conn: Connection, hashes: list[bytes], actor: Actor, reason: str, source: str) -> int:
    if not hashes:
        return 0
    return conn.execute(sa.text(
        "INSERT INTO suppressions (email_hash, added_by, reason, source) "
        "SELECT h, :by, :reason, :source FROM unnest(CAST(:hashes AS bytea[])) AS h ON CONFLICT DO NOTHING"),
        {"hashes": hashes, "by": actor.name, "reason": reason, "source": source}).rowcount


def is_suppressed(engine: Engine, email: str) -> bool:
    with engine.begin() as conn:
        return bool(suppressed_rows(conn, pd.Series([checked_email(email)]))[0])


def suppression_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM suppressions")).scalar_one()


# --- erase -----------------------------------------------------------------------------------------

@dataclass
class Erasure:
    email_hash: str      # hex: what the audit trail keeps
    contacts: int        # 0 or 1
    links: int           # the imports that linked the contact (their previous values go with them)
    rejected_rows: int   # rows of imports' error reports and error files
    drafts: int          # unfinished imports whose file held the email, deleted
    answers: int         # recorded API answers that named it, cut down to their counts

    def as_dict(self) -> dict:
        return asdict(self)


def erase(engine: Engine, email: str, actor: Actor) -> Erasure:
    """Erase everything held about this email, in one transaction, and suppress it so that no
    later import writes it again. An undo of an older import cannot bring it back: its links, with
    their previous values, go too."""
    email = checked_email(email)
    with engine.begin() as conn:
        key = hash_key(conn)
        hashed = email_hash(key, email)
        params = {"e": email}
        links = conn.execute(sa.text("DELETE FROM import_contacts WHERE email = :e"), params).rowcount
        contacts = conn.execute(sa.text("DELETE FROM contacts WHERE email = :e"), params).rowcount
        rejected = _erase_rejected_rows(conn, email)
        drafts = _erase_drafts(conn, email)
        answers = _cut_answers(conn, email)
        _add_hashes(conn, [hashed], actor, "erased", "erasure")
        done = Erasure(hashed.hex(), contacts, links, rejected, drafts, answers)
        audit_log.record(conn, actor, "erased", subject=f"email hash {hashed.hex()[:16]}", detail=done.as_dict())
    return done


# A rejected row's email as its file wrote it (normalized), which may wrap the address: mailto:,
# quotes, "Name <…>". It holds the person's address when the address stands in it whole: nothing
# that could belong to a longer address either side (ann@x.io is not in joann@x.io). strpos first:
# the regular expression runs on the few rows that contain the text at all.
HOLDS = "(strpos(email, :e) > 0 AND email ~ :pattern)"
_ADDRESS_CHARS = "a-z0-9!#$%&'*+/=?^_`{|}~.-"


def email_pattern(email: str) -> str:
    """The email, whole, in PostgreSQL's regular expressions (the column is lower case)."""
    return f"(^|[^{_ADDRESS_CHARS}]){re.escape(email)}($|[^a-z0-9.-])"


def _erase_rejected_rows(conn: Connection, email: str) -> int:
    """The rows of imports' error reports whose email is this one: every problem line of such a
    row, and the row as its file held it. Rows written before rows carried their email are found
    by their cells."""
    rows = conn.execute(sa.text(
        f"SELECT import_id, row_number FROM import_errors WHERE {HOLDS} "
        f"UNION SELECT import_id, row_number FROM import_error_rows WHERE {HOLDS} "
        "UNION SELECT import_id, row_number FROM import_errors "
        "      WHERE email IS NULL AND column_name = 'email' AND lower(btrim(value)) = :e "
        "UNION SELECT import_id, row_number FROM import_error_rows "
        "      WHERE email IS NULL AND EXISTS (SELECT 1 FROM unnest(cells) AS c WHERE lower(btrim(c)) = :e)"),
        {"e": email, "pattern": email_pattern(email)}).all()
    if not rows:
        return 0
    by_import: dict = {}
    for row in rows:
        by_import.setdefault(row.import_id, []).append(row.row_number)
    for import_id, numbers in by_import.items():  # by the column Citus shards them by: one shard each
        for table in ("import_errors", "import_error_rows"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE import_id = :id AND row_number = ANY(:n)"),
                         {"id": import_id, "n": numbers})
    return len(rows)


def _erase_drafts(conn: Connection, email: str) -> int:
    """Delete the drafts (unfinished, or committed and kept a while) whose file or fixes hold the
    email: the whole draft, as a file cannot lose one person and stay the file its owner uploaded."""
    tokens = [token for token, in conn.execute(sa.text("SELECT token FROM drafts"))
              if draft_mentions(conn, token, email)]
    if tokens:
        conn.execute(sa.text("DELETE FROM drafts WHERE token = ANY(:t)"), {"t": tokens})
    return len(tokens)


def draft_mentions(conn: Connection, token: str, email: str) -> bool:
    """Whether a draft (kept, or committed and kept a while) holds the email, in any case: in its
    decisions (rows fixed by hand) or its file. A text file is searched as bytes in the encodings
    files come in (0.1 s for 150 MB; parsing it would take seconds); a workbook, whose cells are
    compressed, or an international address is looked for in the file as the wizard reads it."""
    state = conn.execute(sa.text("SELECT state::text, file_name FROM drafts WHERE token = :t"), {"t": token}).first()
    if state is None:
        return False
    if email in state[0].lower():
        return True
    data = b"".join(conn.execute(sa.text("SELECT data FROM draft_files WHERE token = :t ORDER BY part"),
                                 {"t": token}).scalars())
    if email.isascii() and not data.startswith(b"PK"):
        lowered = data.lower()  # ASCII letters only, in UTF-8, Latin encodings and UTF-16 alike
        return any(email.encode(codec) in lowered for codec in ("utf-8", "utf-16-le", "utf-16-be"))
    try:
        frame = read_contacts(data, state[1], **(json.loads(state[0]).get("read_options") or {})).frame
    except ImportConsoleError:
        return email.encode() in data.lower()
    return any(frame[column].astype(str).str.lower().str.contains(email, regex=False).any()
               for column in frame.columns)


def _cut_answers(conn: Connection, email: str) -> int:
    """Recorded API answers (Idempotency-Key replays, async jobs) that name the email keep their
    counts and lose their contacts and errors."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", email) + "%"
    cut = 0
    for table in ("idempotency_keys", "api_jobs"):
        cut += conn.execute(sa.text(
            f"UPDATE {table} SET answer = (answer - 'details' - 'errors') "
            "|| jsonb_build_object('details', '[]'::jsonb, 'errors', '[]'::jsonb, 'erased', CAST(:note AS text)) "
            "WHERE answer IS NOT NULL AND lower(answer::text) LIKE :p"), {"p": pattern, "note": ERASED_ANSWER}).rowcount
    return cut


# --- export ------------------------------------------------------------------------------------------

def person_data(engine: Engine, email: str) -> dict:
    """Everything held about one email, as JSON-ready values: the contact, each import that
    linked it (with the values it replaced), the rows imports rejected, the unfinished imports
    whose file holds it, whether it is suppressed."""
    email = checked_email(email)
    with engine.begin() as conn:
        contact = conn.execute(sa.text("SELECT * FROM contacts WHERE email = :e"), {"e": email}).mappings().first()
        links = conn.execute(sa.text(
            "SELECT l.import_id, i.file_name, i.source, i.created_at, i.status, l.action, l.row_number, l.previous "
            "FROM import_contacts l JOIN imports i ON i.id = l.import_id WHERE l.email = :e "
            "ORDER BY i.created_at"), {"e": email}).mappings().all()
        rejected = conn.execute(sa.text(
            "SELECT e.import_id, e.row_number, e.column_name, e.reason, e.value FROM import_errors e "
            f"WHERE {HOLDS.replace('email', 'e.email')} ORDER BY e.import_id, e.row_number, e.column_name"),
            {"e": email, "pattern": email_pattern(email)}).mappings().all()
        cells = conn.execute(sa.text(
            "SELECT r.import_id, r.row_number, i.file_headers, r.cells FROM import_error_rows r "
            f"JOIN imports i ON i.id = r.import_id WHERE {HOLDS.replace('email', 'r.email')} "
            "ORDER BY i.created_at, r.row_number"), {"e": email, "pattern": email_pattern(email)}).mappings().all()
        suppressed = bool(suppressed_rows(conn, pd.Series([email]))[0])
        drafts = [dict(row) for row in conn.execute(sa.text(
            "SELECT token, file_name, created_by, updated_at, committed_at FROM drafts")).mappings()
            if draft_mentions(conn, row["token"], email)]
    return _json_ready({
        "email": email, "contact": dict(contact) if contact else None, "imports": [dict(r) for r in links],
        "rejected": [dict(r) for r in rejected],
        "rejected_rows": [{"import_id": r["import_id"], "row_number": r["row_number"],
                           "cells": dict(zip(r["file_headers"] or [], r["cells"]))} for r in cells],
        "unfinished_imports": [{k: v for k, v in d.items() if k != "token"} for d in drafts],
        "suppressed": suppressed})


def _json_ready(value):
    return json.loads(json.dumps(value, default=str))
