"""Idempotency-Key on the API's writes (issue 21): a client that timed out may send the same
request again with the same key and get the first answer, with nothing written twice
(core.storage.idempotency keeps the answer in the transaction that wrote). The same key with another
request is 422; while the first is still being answered, 409 with Retry-After. Keys are the
caller's own (another key's never collide) and kept 24 hours. A request that was refused, and so
wrote nothing, gives its key back for a corrected retry."""
from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import Header, HTTPException
from fastapi.responses import JSONResponse

from core.importing import Replay

KEY_HEADER = Header(default=None, alias="Idempotency-Key", max_length=255,
                    description="Any unique text (a UUID, say), to send this request again safely: "
                                "a retry with the same key and body gets the first answer and writes nothing.")


def check_key(key: str | None) -> None:
    if key is not None and (not key or not key.isprintable() or not key.isascii()):
        raise HTTPException(400, "An Idempotency-Key is 1 to 255 printable ASCII characters.")


def fingerprint(*parts: str | None) -> str:
    """What makes two requests the same request."""
    return hashlib.sha256("\x1f".join(part or "" for part in parts).encode()).hexdigest()


def file_digest(path: Path) -> str:
    with path.open("rb") as body:
        return hashlib.file_digest(body, "sha256").hexdigest()


def replayed(replay: Replay) -> JSONResponse:
    return JSONResponse(replay.answer, status_code=replay.status, headers={"Idempotent-Replayed": "true"})
