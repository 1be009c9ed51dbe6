"""Bearer JWTs (issue 11): verified with PyJWT against a configured HS256 secret, or an RS256/ES256
public key or JWKS URL. exp is required, nbf, iss and aud are checked, and the algorithm must be
the one the configured key is for: `alg: none`, and an HS256 token made with a public key as its
secret (algorithm confusion), are refused.

Settings come from the environment (CONTACT_IMPORT_JWT_SECRET, _PUBLIC_KEY, _JWKS_URL, _AUDIENCE,
_ISSUER) or from .streamlit/secrets.toml, section [api.jwt] (secret, public_key, jwks_url,
audience, issuer); never from code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import jwt

from core.access import Actor, Policy, load_secrets, token_role
ASYMMETRIC = ("RS256", "ES256")
# A namespaced claim: an issuer's plain "role" claim means something of its own.
ROLE_CLAIM = "contact_import_role"
LEEWAY_SECONDS = 30  # clocks of the token's issuer and of this server differ a little
MAX_SUBJECT = 255


@dataclass(frozen=True)
class JwtSettings:
    secret: str | None = None
    public_key: str | None = None
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.public_key or self.jwks_url)


def jwt_settings() -> JwtSettings:
    section = load_secrets().get("api", {}).get("jwt", {})
    names = ("secret", "public_key", "jwks_url", "audience", "issuer")
    return JwtSettings(**{n: os.environ.get(f"CONTACT_IMPORT_JWT_{n.upper()}") or section.get(n) for n in names})


def token_actor(token: str, settings: JwtSettings, policy: Policy) -> Actor | None:
    """The caller a valid token stands for, else None (whatever the reason), with the role
    core.access.token_role gives it."""
    claims = _valid_claims(token, settings)
    if claims is None:
        return None
    return Actor(claims["sub"], token_role(claims["sub"], claims.get(ROLE_CLAIM), policy), "api")


def _valid_claims(token: str, settings: JwtSettings) -> dict | None:
    """The token's claims when it is valid under settings and has a subject, else None."""
    if not settings.configured:
        return None
    try:
        key, algorithm = _verification_key(token, settings)
        if key is None:
            return None
        claims = jwt.decode(token, key, algorithms=[algorithm], audience=settings.audience,
                            issuer=settings.issuer, leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "sub"]})
    except (jwt.PyJWTError, ValueError):
        return None
    # PyJWT takes a time written as text ("exp": "1893456000"); a token that does is not one
    # this API issued a contract for (issue 21, point 6).
    if not all(_is_time(claims[name]) for name in ("exp", "nbf", "iat") if name in claims):
        return None
    return claims if _is_name(claims.get("sub")) else None


def _is_time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_name(subject) -> bool:
    """A subject the audit trail and the imports can record as who acted: text, not blank, at most
    MAX_SUBJECT characters, nothing unprintable (a NUL cannot be stored, a line break forges
    log lines)."""
    return (isinstance(subject, str) and subject.strip() != "" and len(subject) <= MAX_SUBJECT
            and subject.isprintable())


def _verification_key(token: str, settings: JwtSettings):
    algorithm = jwt.get_unverified_header(token).get("alg")
    if algorithm == "HS256" and settings.secret:
        return settings.secret, algorithm
    if algorithm in ASYMMETRIC and settings.public_key:
        return settings.public_key, algorithm
    if algorithm in ASYMMETRIC and settings.jwks_url:
        return _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key, algorithm
    return None, algorithm


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
