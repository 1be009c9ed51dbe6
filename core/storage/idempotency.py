"""Idempotency keys (issue 21): a request an API caller sends with an Idempotency-Key is done once,
however often it is sent. The first request claims the key; the transaction that writes its
contacts (or creates its import) also records its answer, so a retry is answered from the record
and writes nothing, even when the first died between writing and answering. A key sent with
another request is refused (KeyReused); one whose request is still running is refused for now
(KeyInProgress). A claim whose process is gone, or older than STALE, may be taken over by a retry,
and the takeover changes its token: the first request, if it still lives, can then no longer
record its answer (settle raises ClaimLost), so its transaction rolls back instead of writing twice.
A request refused for its content (nothing written) gives its key back (release_key).
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.errors import ClaimLost, KeyInProgress, KeyReused
from core.files.spool import alive as process_alive

KEPT = timedelta(hours=24)
STALE = timedelta(minutes=15)  # longer than the largest request takes to commit
HERE = socket.gethostname()


@dataclass(frozen=True)
class Claim:
    caller: str
    key: str
    token: UUID
    import_id: str  # the id a new import of the request takes


@dataclass(frozen=True)
class Replay:
    status: int
    answer: dict


def claim_key(engine: Engine, caller: str, key: str, fingerprint: str) -> Claim | Replay:
    """The key claimed for this request, or the answer of the request that used it first."""
    holder = f"{HERE}:{os.getpid()}"
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM idempotency_keys WHERE caller = :c AND claimed_at < now() - :kept"),
                     {"c": caller, "kept": KEPT})
        token, import_id = uuid4(), uuid4()
        made = conn.execute(sa.text(
            "INSERT INTO idempotency_keys (caller, key, fingerprint, token, import_id, claimed_by) "
            "VALUES (:c, :k, :f, :t, :i, :h) ON CONFLICT (caller, key) DO NOTHING RETURNING import_id"),
            {"c": caller, "k": key, "f": fingerprint, "t": token, "i": import_id, "h": holder}).first()
        if made is not None:
            return Claim(caller, key, token, str(import_id))
        found = conn.execute(sa.text(
            "SELECT fingerprint, import_id, claimed_by, claimed_at < now() - :stale AS old, status, answer "
            "FROM idempotency_keys WHERE caller = :c AND key = :k FOR UPDATE"),
            {"c": caller, "k": key, "stale": STALE}).one()
        if found.fingerprint != fingerprint:
            raise KeyReused(key)
        if found.status is not None:
            return Replay(found.status, found.answer)
        if not (found.old or holder_gone(found.claimed_by)):
            raise KeyInProgress(key)
        conn.execute(sa.text("UPDATE idempotency_keys SET token = :t, claimed_by = :h, claimed_at = now() "
                             "WHERE caller = :c AND key = :k"), {"t": token, "h": holder, "c": caller, "k": key})
        return Claim(caller, key, token, str(found.import_id))


def settle(conn: Connection, held: Claim, status: int, answer: dict) -> None:
    """Record the request's answer, in the transaction that wrote what it answers for."""
    done = conn.execute(sa.text(
        "UPDATE idempotency_keys SET status = :s, answer = CAST(:a AS jsonb) "
        "WHERE caller = :c AND key = :k AND token = :t AND status IS NULL"),
        {"s": status, "a": _json(answer), "c": held.caller, "k": held.key, "t": held.token})
    if done.rowcount != 1:
        raise ClaimLost(held.key)


def release_key(engine: Engine, held: Claim) -> None:
    """Give the key back: its request wrote nothing (refused, or failed and rolled back)."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM idempotency_keys WHERE caller = :c AND key = :k AND token = :t "
                             "AND status IS NULL"), {"c": held.caller, "k": held.key, "t": held.token})


def holder_gone(holder: str) -> bool:
    """Whether the process holder ("host:pid") names is known to be gone."""
    host, _, pid = holder.rpartition(":")
    if host != HERE or not pid.isdigit():
        return False  # another machine's: only STALE tells
    return not process_alive(int(pid))


def record_answer(engine: Engine, held: Claim, status: int, answer: dict) -> None:
    """settle in a transaction of its own, for a request whose writing was idempotent by itself
    (an import created under the claim's import_id)."""
    with engine.begin() as conn:
        settle(conn, held, status, answer)


def _json(answer: dict) -> str:
    return json.dumps(answer, default=str)
