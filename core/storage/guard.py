"""A guard on large changes (issue 22): an import that would change more than a share of the
stored contacts and more than a number of them is written only when its caller repeats the number
(or says "any"). The check runs inside the commit's transaction, after the merge, on the counts
the merge made, so a refused import is rolled back whole and nothing of it stays.

Settings (environment): CONTACT_IMPORT_GUARD_SHARE (default 0.2) and CONTACT_IMPORT_GUARD_COUNT
(default 1000); the console always guards, the CLI and the API only when
CONTACT_IMPORT_GUARD_CLI or CONTACT_IMPORT_GUARD_API is on, so that today's scripts keep their
answers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ImportConsoleError, LargeChange

ANY = "any"


@dataclass(frozen=True)
class ChangeGuard:
    share: float
    count: int
    confirmed: int | str | None = None   # the number the caller repeats, ANY, or None
    confirm_with: str = ""               # how the caller confirms, said in the refusal

    def check(self, conn: Connection, changed: int, inserted: int) -> None:
        """Refuse (LargeChange) when `changed` stored contacts is over both bounds and not
        confirmed; inserted: the contacts this transaction added (not stored before it)."""
        if changed <= self.count or self.confirmed == ANY:
            return
        stored = _stored(conn) - inserted
        if changed > self.share * stored and self.confirmed != changed:
            raise LargeChange(changed, stored, self.confirm_with)

    def would_stop(self, changed: int, stored: int) -> bool:
        """Whether a change of this size needs a confirmation (the console asks before the commit)."""
        return changed > self.count and changed > self.share * stored


def guard_for(door: str, confirmed: int | str | None = None, confirm_with: str = "") -> ChangeGuard | None:
    """The guard of a door ("console", "cli", "api") under the settings; None when it is off."""
    if door != "console" and os.environ.get(f"CONTACT_IMPORT_GUARD_{door.upper()}", "").lower() not in ("1", "on",
                                                                                                       "true", "yes"):
        return None
    return ChangeGuard(share=float(os.environ.get("CONTACT_IMPORT_GUARD_SHARE", "0.2")),
                       count=int(os.environ.get("CONTACT_IMPORT_GUARD_COUNT", "1000")),
                       confirmed=confirmed, confirm_with=confirm_with)


def parse_confirmation(text: str | None) -> int | str | None:
    """--confirm-changes / confirm_changes: a number, "any", or nothing."""
    if text is None:
        return None
    if text.strip().lower() == ANY:
        return ANY
    try:
        return int(text.replace(",", "").strip())
    except ValueError:
        raise ImportConsoleError(f"{text!r} confirms no change: give the number of stored contacts the import "
                                 "changes, as the refusal named it, or 'any'.") from None


def stored_contacts(engine: Engine) -> int:
    with engine.connect() as conn:
        return _stored(conn)


def _stored(conn: Connection) -> int:
    return conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()
