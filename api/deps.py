"""What every route needs: the database engine and the caller, authenticated by X-API-Key."""
from __future__ import annotations

from functools import lru_cache

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine

from core.api_keys import key_owner
from core.database import make_engine

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key from `python -m core api-keys create NAME`")


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return make_engine()


def engine() -> Engine:
    """The server's engine (DATABASE_URL, else the embedded database); tests override it."""
    return _engine()


def caller(key: str | None = Security(_api_key), db: Engine = Depends(engine)) -> str:
    """The name of the key that made the request. Unknown and revoked keys get the same answer,
    so that a caller cannot tell which keys exist."""
    owner = key_owner(db, key) if key else None
    if owner is None:
        raise HTTPException(401, "Missing or invalid credentials: send X-API-Key.",
                            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    return owner
