"""What every route needs: the import service (core.importing's facade, bound to the server's
database) and the caller, authenticated by X-API-Key or by a Bearer JWT (api.tokens)."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Iterator

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.limits import SLOTS
from api.tokens import JwtSettings, jwt_settings, token_actor
from core.access import Actor, Policy, load_secrets, policy_from
from core.errors import ImportConsoleError
from core.importing import Service, connect

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="A key from `python -m core api-keys create NAME`")
_bearer = HTTPBearer(auto_error=False, description="A JWT signed with the configured key (see README)")


log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _service() -> Service:
    return connect()


def service() -> Service:
    """The import service on the server's database (DATABASE_URL, else the embedded one); tests
    override it."""
    return _service()


@lru_cache(maxsize=1)
def settings() -> JwtSettings:
    """Read once per process; tests override it."""
    return jwt_settings()


def policy() -> Policy:
    """The [roles] of the secrets, read at each request (a person removed from [roles] is refused at
    once, as in the console); tests override it. A broken file is the server's fault: 500, and
    what is wrong goes to the log, not to a caller who may not even have a key."""
    try:
        return policy_from(load_secrets())
    except ImportConsoleError:
        log.exception("the secrets' [roles] cannot be read")
        raise HTTPException(500, "The server's settings cannot be read; nothing was done. Tell the admins.") from None


def caller(key: str | None = Security(_api_key), bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
           svc: Service = Depends(service), jwt: JwtSettings = Depends(settings),
           roles: Policy = Depends(policy)) -> Iterator[Actor]:
    """Who made the request, with their role: the key's, or the token's. Unknown, revoked, expired
    and forged credentials all get the same answer, so that a caller learns nothing from it. The
    request holds one of its caller's slots (api.limits) until it is answered."""
    owner = _authenticated(key, bearer, svc, jwt, roles)
    with SLOTS.held(owner.caller):
        yield owner


def _authenticated(key: str | None, bearer: HTTPAuthorizationCredentials | None, svc: Service, jwt: JwtSettings,
                   roles: Policy) -> Actor:
    owner = svc.key_actor(key) if key else None
    if owner is None and bearer is not None:
        owner = token_actor(bearer.credentials, jwt, roles)
    if owner is None:
        raise HTTPException(401, "Missing or invalid credentials: send X-API-Key or a Bearer token.",
                            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key", Bearer'})
    svc.check_role(owner, "view history")  # every route needs a role, the least is importer
    return owner
