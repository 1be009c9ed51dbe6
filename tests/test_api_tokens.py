"""Bearer JWTs on the API (issue 11): what is accepted, and every way a token is refused."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from api import api, deps
from api.tokens import JwtSettings
from core.importing import Service
from core.storage.history import get_import

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
AUDIENCE, ISSUER = "contact-import-api", "https://id.example"


def _rsa() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
            private.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode())


RSA_PRIVATE, RSA_PUBLIC = _rsa()


def _claims(**changes) -> dict:
    now = int(time.time())
    return {"sub": "crm-sync", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 300, **changes}


@pytest.fixture
def client_with(engine):
    def make(settings: JwtSettings) -> TestClient:
        api.dependency_overrides[deps.service] = lambda: Service(engine)
        api.dependency_overrides[deps.settings] = lambda: settings
        return TestClient(api)
    yield make
    api.dependency_overrides.clear()


def _status(client: TestClient, token: str) -> int:
    return client.get("/imports", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_valid_hs256_token_is_accepted_and_its_subject_recorded(client_with, engine):
    client = client_with(JwtSettings(secret=SECRET, audience=AUDIENCE, issuer=ISSUER))
    token = jwt.encode(_claims(), SECRET, algorithm="HS256")
    created = client.post("/imports/", json={"source": "CRM"}, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    assert get_import(engine, created.json()["id"])["created_by"] == "crm-sync"


@pytest.mark.parametrize("claims", [
    {"exp": int(time.time()) - 3600},            # expired
    {"nbf": int(time.time()) + 3600},            # not valid yet
    {"aud": "another-api"},                      # wrong audience
    {"iss": "https://evil.example"},             # wrong issuer
    {"exp": None},                               # no expiry at all
    {"sub": ""},                                 # nobody
    {"sub": "crm\x00sync"},                      # a NUL: no name the audit trail can store
    {"sub": "crm\nsync"},                        # a line break: a forged second line in logs
    {"sub": "x" * 256},                          # longer than any name
    {"exp": str(int(time.time()) + 300)},        # a time written as text (issue 21, point 6)
    {"exp": True},                               # a boolean is not a time
    {"nbf": "0"},                                # nor is text, where a time is optional
], ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "no-exp", "no-subject", "nul-in-subject",
        "newline-in-subject", "long-subject", "exp-as-text", "exp-as-boolean", "nbf-as-text"])
def test_tokens_with_bad_claims_are_refused(client_with, claims):
    client = client_with(JwtSettings(secret=SECRET, audience=AUDIENCE, issuer=ISSUER))
    payload = {k: v for k, v in _claims(**claims).items() if v is not None}
    assert _status(client, jwt.encode(payload, SECRET, algorithm="HS256")) == 401


def test_alg_none_another_secret_and_garbage_are_refused(client_with):
    client = client_with(JwtSettings(secret=SECRET, audience=AUDIENCE, issuer=ISSUER))
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    assert _status(client, f"{header.decode()}.{body.decode()}.") == 401
    assert _status(client, jwt.encode(_claims(), "another-secret-of-enough-length-for-hs", algorithm="HS256")) == 401
    assert _status(client, "not-a-token") == 401


def test_rs256_and_es256_tokens_verify_against_the_configured_public_key(client_with):
    client = client_with(JwtSettings(public_key=RSA_PUBLIC, audience=AUDIENCE, issuer=ISSUER))
    assert _status(client, jwt.encode(_claims(), RSA_PRIVATE, algorithm="RS256")) == 200
    ec_private = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    client = client_with(JwtSettings(public_key=ec_public, audience=AUDIENCE, issuer=ISSUER))
    assert _status(client, jwt.encode(_claims(), ec_private, algorithm="ES256")) == 200


def test_an_hs256_token_signed_with_the_public_key_is_refused(client_with):
    # Algorithm confusion: the public key is public, so it must never serve as an HMAC secret.
    client = client_with(JwtSettings(public_key=RSA_PUBLIC, audience=AUDIENCE, issuer=ISSUER))
    assert _status(client, _hmac_token(_claims(), RSA_PUBLIC.encode())) == 401


def _hmac_token(claims: dict, secret: bytes) -> str:
    """An HS256 token made by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + part(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_without_jwt_settings_a_bearer_token_is_refused(client_with):
    client = client_with(JwtSettings())
    assert _status(client, jwt.encode(_claims(), SECRET, algorithm="HS256")) == 401


@pytest.fixture
def jwks_url():
    """A JWKS endpoint on a local port serving RSA_PUBLIC under kid 'k1'."""
    public = serialization.load_pem_public_key(RSA_PUBLIC.encode())
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public)), "kid": "k1", "use": "sig", "alg": "RS256"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_tokens_verify_against_a_jwks_url_by_their_kid(client_with, jwks_url):
    client = client_with(JwtSettings(jwks_url=jwks_url, audience=AUDIENCE, issuer=ISSUER))
    assert _status(client, jwt.encode(_claims(), RSA_PRIVATE, algorithm="RS256", headers={"kid": "k1"})) == 200
    other_private, _ = _rsa()
    assert _status(client, jwt.encode(_claims(), other_private, algorithm="RS256", headers={"kid": "k1"})) == 401
    assert _status(client, jwt.encode(_claims(), RSA_PRIVATE, algorithm="RS256", headers={"kid": "nope"})) == 401
