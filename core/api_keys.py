"""API keys for the HTTP API: made (shown once), listed, revoked, and checked on every request.

A key is 256 random bits, so a plain SHA-256 of it is enough to store (no salt or slow hash is
needed against guessing, unlike a password); the comparison happens in PostgreSQL by that hash.
"""
from __future__ import annotations

import hashlib
import secrets

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import audit
from core.access import ROLES, Actor, IMPORTER
from core.errors import ImportConsoleError

PREFIX = "cic_"  # tells a leaked key apart from other secrets (secret scanners match on it)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, name: str, actor: Actor, role: str = IMPORTER) -> str:
    """A new key named name, for callers with role; returns the key, which is never shown again.
    Making keys is an admin's action."""
    audit.check(engine, actor, "manage keys")
    if role not in ROLES:
        raise ImportConsoleError(f"A key's role is {' or '.join(ROLES)}, not {role!r}.")
    name = (name or "").strip()
    if not name or "\x00" in name:
        raise ImportConsoleError("Give the key a name, e.g. the system that will use it ('HubSpot sync').")
    key = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        # A revoked key's name may be given to its replacement.
        conn.execute(sa.text("DELETE FROM api_keys WHERE name = :n AND revoked_at IS NOT NULL"), {"n": name})
        made = conn.execute(sa.text("INSERT INTO api_keys (name, key_hash, role) VALUES (:n, :h, :r) "
                                    "ON CONFLICT (name) DO NOTHING"), {"n": name, "h": _hash(key), "r": role}).rowcount
        if made:
            audit.record(conn, actor, "key created", subject=name, detail={"role": role})
    if not made:
        raise ImportConsoleError(f"An active key is named {name!r}; revoke it first, or pick another name.")
    return key


def list_keys(engine: Engine, actor: Actor) -> pd.DataFrame:
    audit.check(engine, actor, "manage keys")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, role, created_at, last_used_at, revoked_at FROM api_keys "
                                    "ORDER BY created_at, name")).all()
    return pd.DataFrame(rows, columns=["name", "role", "created_at", "last_used_at", "revoked_at"])


def revoke_key(engine: Engine, name: str, actor: Actor) -> None:
    audit.check(engine, actor, "manage keys")
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE api_keys SET revoked_at = now() WHERE name = :n "
                                    "AND revoked_at IS NULL"), {"n": name}).rowcount
        if done:
            audit.record(conn, actor, "key revoked", subject=name)
    if not done:
        raise ImportConsoleError(f"No active key is named {name!r}.")


def key_actor(engine: Engine, key: str) -> Actor | None:
    """The caller an active key stands for (its name and role), recording its use; None for an
    unknown or revoked key."""
    if not key:
        return None
    with engine.begin() as conn:
        found = conn.execute(sa.text("UPDATE api_keys SET last_used_at = now() WHERE key_hash = :h "
                                     "AND revoked_at IS NULL RETURNING name, role"), {"h": _hash(key)}).first()
    return Actor(found.name, found.role, "api") if found else None
