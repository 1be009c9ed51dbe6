"""A small OpenID Connect provider for the sign-in tests: discovery, an authorize endpoint that
signs in whoever the test says (no login form), a token endpoint that checks the client's secret
and the code, and a JWKS. The console talks to it through Streamlit's st.login (Authlib), exactly
as to Google or Okta: the ID token is RS256-signed, with the nonce, audience and issuer checked."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "contact-import-console"


class Provider:
    def __init__(self, client_secret: str):
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.email = "nobody@example.com"  # who the next sign-in is; the test sets it
        self.codes: dict[str, dict] = {}
        self.issuer = ""

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": "test", "use": "sig", "alg": "RS256"}]}

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def authorize(self, query: dict) -> str:
        """Where the browser goes next: back to the console with a code."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": query.get("nonce"), "email": self.email}
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def token(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        sent_secret = form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            sent_secret = base64.b64decode(authorization[6:]).decode().split(":", 1)[1]
        grant = self.codes.pop(form.get("code", ""), None)
        if sent_secret != self.client_secret or grant is None:
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": grant["email"], "email": grant["email"],
                  "email_verified": True, "iat": now, "exp": now + 300, "nonce": grant["nonce"]}
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "test"})
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                     "id_token": id_token}


def _handler(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - the http.server API
            url = urlparse(self.path)
            if url.path == "/.well-known/openid-configuration":
                return self._json(200, provider.metadata())
            if url.path == "/jwks":
                return self._json(200, provider.jwks())
            if url.path == "/authorize":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self.send_response(302)
                self.send_header("Location", provider.authorize(query))
                self.end_headers()
                return None
            return self._json(404, {"error": "not_found"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path != "/token":
                return self._json(404, {"error": "not_found"})
            return self._json(*provider.token(form, self.headers.get("Authorization")))
    return Handler


@contextmanager
def oidc_provider(client_secret: str) -> Iterator[Provider]:
    provider = Provider(client_secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
