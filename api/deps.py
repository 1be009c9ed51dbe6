"""What every route needs: the database engine and the caller, authenticated by X-API-Key or by
a Bearer JWT (api.tokens)."""
from __future__ import annotations

from functools import lru_cache

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from api.tokens import JwtSettings, jwt_settings, token_subject
from core.api_keys import key_owner
from core.database import make_engine

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="A key from `python -m core api-keys create NAME`")
_bearer = HTTPBearer(auto_error=False, description="A JWT signed with the configured key (see README)")


# Paging past this is refused (422): PostgreSQL's OFFSET is a bigint, and no list is that long.
MAX_OFFSET = 2**31 - 1


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return make_engine()


def engine() -> Engine:
    """The server's engine (DATABASE_URL, else the embedded database); tests override it."""
    return _engine()


@lru_cache(maxsize=1)
def settings() -> JwtSettings:
    """Read once per process; tests override it."""
    return jwt_settings()


def caller(key: str | None = Security(_api_key), bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
           db: Engine = Depends(engine), jwt: JwtSettings = Depends(settings)) -> str:
    """Who made the request: the key's name, or the token's subject. Unknown, revoked, expired and
    forged credentials all get the same answer, so that a caller learns nothing from it."""
    owner = key_owner(db, key) if key else None
    if owner is None and bearer is not None:
        owner = token_subject(bearer.credentials, jwt)
    if owner is None:
        raise HTTPException(401, "Missing or invalid credentials: send X-API-Key or a Bearer token.",
                            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key", Bearer'})
    return owner
