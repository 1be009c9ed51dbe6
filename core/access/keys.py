"""API keys for the HTTP API: made (shown once), listed, revoked, and checked on every request.

A key is 256 random bits, so a plain SHA-256 of it is enough to store (no salt or slow hash is
needed against guessing, unlike a password); the comparison happens in PostgreSQL by that hash.
"""
from __future__ import annotations

import hashlib
import secrets

import pandas as pd
from sqlalchemy.engine import Engine

from core.access import IMPORTER, ROLES, Actor, check
from core.errors import ImportConsoleError
from core.storage import keys

PREFIX = "cic_"  # tells a leaked key apart from other secrets (secret scanners match on it)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, name: str, actor: Actor, role: str = IMPORTER) -> str:
    """A new key named name, for callers with role; returns the key, which is never shown again.
    Making keys is an admin's action."""
    check(engine, actor, "manage keys")
    if role not in ROLES:
        raise ImportConsoleError(f"A key's role is {' or '.join(ROLES)}, not {role!r}.")
    name = (name or "").strip()
    if not name or "\x00" in name:
        raise ImportConsoleError("Give the key a name, e.g. the system that will use it ('HubSpot sync').")
    key = PREFIX + secrets.token_urlsafe(32)
    if not keys.insert_key(engine, name, _hash(key), role, actor):
        raise ImportConsoleError(f"An active key is named {name!r}; revoke it first, or pick another name.")
    return key


def list_keys(engine: Engine, actor: Actor) -> pd.DataFrame:
    check(engine, actor, "manage keys")
    return keys.key_rows(engine)


def revoke_key(engine: Engine, name: str, actor: Actor) -> None:
    check(engine, actor, "manage keys")
    if not keys.revoke(engine, name, actor):
        raise ImportConsoleError(f"No active key is named {name!r}.")


def key_actor(engine: Engine, key: str) -> Actor | None:
    """The caller an active key stands for (its name and role), recording its use; None for an
    unknown or revoked key."""
    found = keys.use_key(engine, _hash(key)) if key else None
    return Actor(found.name, found.role, "api") if found else None
