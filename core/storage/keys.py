"""The api_keys table: keys stored by their hash (core.access.keys makes and checks them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.storage import audit_log

if TYPE_CHECKING:
    from core.access import Actor

KEY_COLUMNS = ["name", "role", "created_at", "last_used_at", "revoked_at"]


def insert_key(engine: Engine, name: str, key_hash: str, role: str, actor: Actor) -> bool:
    """A new key row with its audit row; False when an active key holds the name."""
    with engine.begin() as conn:
        # A revoked key's name may be given to its replacement.
        conn.execute(sa.text("DELETE FROM api_keys WHERE name = :n AND revoked_at IS NOT NULL"), {"n": name})
        made = conn.execute(sa.text("INSERT INTO api_keys (name, key_hash, role) VALUES (:n, :h, :r) "
                                    "ON CONFLICT (name) DO NOTHING"), {"n": name, "h": key_hash, "r": role}).rowcount
        if made:
            audit_log.record(conn, actor, "key created", subject=name, detail={"role": role})
    return bool(made)


def key_rows(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {', '.join(KEY_COLUMNS)} FROM api_keys ORDER BY created_at, name")).all()
    return pd.DataFrame(rows, columns=KEY_COLUMNS)


def revoke(engine: Engine, name: str, actor: Actor) -> bool:
    """Revoke the active key of this name, with its audit row; False when there is none."""
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE api_keys SET revoked_at = now() WHERE name = :n "
                                    "AND revoked_at IS NULL"), {"n": name}).rowcount
        if done:
            audit_log.record(conn, actor, "key revoked", subject=name)
    return bool(done)


# A key's last use is recorded to the minute (the key list shows minutes): a request within a
# minute of the last recorded one reads the key and writes nothing, so a busy integration's calls
# do not each wait for a commit to disk, nor queue on its key's row.
USE_RECORDED_EVERY = "1 minute"


def use_key(engine: Engine, key_hash: str) -> sa.Row | None:
    """The active key of this hash (name, role), its use recorded; None for none."""
    with engine.begin() as conn:
        found = conn.execute(sa.text(
            "SELECT name, role, last_used_at IS NULL OR last_used_at < now() - CAST(:every AS interval) AS stale "
            "FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"),
            {"h": key_hash, "every": USE_RECORDED_EVERY}).first()
        if found is not None and found.stale:
            conn.execute(sa.text("UPDATE api_keys SET last_used_at = now() WHERE key_hash = :h"), {"h": key_hash})
    return found
