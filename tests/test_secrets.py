"""Secrets never leak (issue 13): the sign-in provider's secrets, the JWT secret, API keys, bearer
tokens and the database password appear in no log, error message, page, API answer or export.
Each is a recognisable value; every place a person or a log could see is searched for them."""
from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request

import jwt
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Error as PlaywrightError, sync_playwright
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from api import api, deps
from api.tokens import JwtSettings
from core.importing import Service
from core.storage import audit_log
from core import importing
from core.access import policy_from
from core.access.keys import create_key, revoke_key
from core.files.exporting import to_export_csv
from core.storage.campaigns import list_campaigns
from core.storage.history import campaign_contacts_csv, import_contacts_csv, import_error_file
from tests.console_server import CHROMIUM, CHROMIUM_ARGS, console_server
from tests.helpers import ADMIN, person
from tests.test_cli import cli
from tests.test_pages import TIMEOUT

COOKIE_SECRET = "cookie-secret-LEAKCHECK-5d41402abc4b2a76"
CLIENT_SECRET = "client-secret-LEAKCHECK-7d793037a0760186"
JWT_SECRET = "jwt-secret-LEAKCHECK-e4da3b7fbbce2345d7772b0674a318d5"
DB_PASSWORD = "db-password-LEAKCHECK-1679091c5a880faf"
ROLES = {"admin": ["ana@example.com"], "importer": ["@example.com"]}
SECRETS = {
    "auth": {"redirect_uri": "http://127.0.0.1:9/oauth2callback", "cookie_secret": COOKIE_SECRET,
             "client_id": "console", "client_secret": CLIENT_SECRET,
             "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"},
    "roles": ROLES,
    "api": {"jwt": {"secret": JWT_SECRET}},
}
SECRETS_TOML = f"""
[auth]
redirect_uri = "{SECRETS['auth']['redirect_uri']}"
cookie_secret = "{COOKIE_SECRET}"
client_id = "console"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{SECRETS['auth']['server_metadata_url']}"

[roles]
admin = ["ana@example.com"]
importer = ["@example.com"]

[api.jwt]
secret = "{JWT_SECRET}"
"""


def assert_no_secret(text: str, *more: str, where: str) -> None:
    for secret in (COOKIE_SECRET, CLIENT_SECRET, JWT_SECRET, DB_PASSWORD, *more):
        assert secret not in text, f"{where} shows a secret ({secret[:20]}…)"


def everything_shown(node) -> str:
    """Every element of an AppTest page, as its protobuf text: values, labels, help, captions."""
    parts = [str(getattr(node, "proto", ""))]
    for child in getattr(node, "children", {}).values():
        parts.append(everything_shown(child))
    return "\n".join(parts)


def token(subject: str, **claims) -> str:
    return jwt.encode({"sub": subject, "exp": time.time() + 300, **claims}, JWT_SECRET, algorithm="HS256")


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    path.write_text(SECRETS_TOML)
    monkeypatch.setenv("CONTACT_IMPORT_SECRETS", str(path))
    return path


def test_no_secret_key_or_token_in_answers_pages_logs_or_exports(engine, database_url, secrets_file, caplog,
                                                                  monkeypatch):
    caplog.set_level(logging.DEBUG)
    seen: list[tuple[str, str]] = []
    admin_key = create_key(engine, "ops", ADMIN, "admin")
    importer_key = create_key(engine, "sync", ADMIN)
    revoke_key(engine, "sync", ADMIN)
    bearer = token("ivy@example.com")

    # the HTTP API: good, wrong, revoked and forged credentials; refusals; bad bodies
    api.dependency_overrides[deps.service] = lambda: Service(engine)
    api.dependency_overrides[deps.settings] = lambda: JwtSettings(secret=JWT_SECRET)
    api.dependency_overrides[deps.policy] = lambda: policy_from(SECRETS)
    try:
        with TestClient(api) as client:
            good = {"X-API-Key": admin_key}
            created = client.post("/contacts/bulk", headers=good, json=[person(1), person(2, email="nope")],
                                  params={"on_invalid": "skip"}).json()
            import_id = created["import_id"]
            answers = [
                client.get("/imports", headers=good), client.get("/imports", headers={"X-API-Key": importer_key}),
                client.get("/imports", headers={"X-API-Key": admin_key + "x"}),
                client.get("/imports", headers={"Authorization": f"Bearer {bearer}"}),
                client.post(f"/imports/{import_id}/undo", headers={"Authorization": f"Bearer {bearer}"}),
                client.get("/imports", headers={"Authorization": f"Bearer {token('x', role='admin')[:-3]}abc"}),
                client.post("/contacts/bulk", headers=good, json=[person(3, email="bad")]),
                client.post("/contacts/bulk", headers=good, content=b"{"),
                client.get("/openapi.json"),
            ]
    finally:
        api.dependency_overrides.clear()
    seen += [(f"API answer {a.request.method} {a.request.url.path} {a.status_code}",
              a.text + str(dict(a.headers))) for a in answers]

    # the console, signed in as an admin, on every page; and as someone refused
    for name in ("new_import", "history", "campaigns", "api_keys", "audit"):
        at = AppTest.from_file(f"../pages/{name}.py", default_timeout=TIMEOUT)
        at.secrets.update(SECRETS)
        at.user = {"is_logged_in": True, "email": "ana@example.com", "email_verified": True,
                   "tokens": {"id": bearer}}
        monkeypatch.setenv("DATABASE_URL", database_url)
        at.run()
        if name == "history":
            at.selectbox[3].set_value(import_id).run()
        seen.append((f"page {name}", everything_shown(at._tree)))
    refused = AppTest.from_file("../pages/history.py", default_timeout=TIMEOUT)
    refused.secrets.update(SECRETS)
    refused.user = {"is_logged_in": True, "email": "mallory@gmail.com", "email_verified": True}
    seen.append(("refused page", everything_shown(refused.run()._tree)))
    signed_out = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    signed_out.secrets.update(SECRETS)
    signed_out.user = {"is_logged_in": False}
    seen.append(("sign-in page", everything_shown(signed_out.run()._tree)))

    # the CLI, with --verbose tracebacks, and with a database password that it cannot use
    broken_url = make_url(database_url).set(password=DB_PASSWORD, port=9).render_as_string(hide_password=False)
    for args, url in [(("-v", "api-keys", "list"), database_url), (("-v", "undo", "not-an-id"), database_url),
                      (("-v", "imports"), broken_url), (("audit", "--csv"), database_url)]:
        done = cli(*args, database_url=url, check=False, env={"CONTACT_IMPORT_USER": "ana@example.com",
                                                             "CONTACT_IMPORT_JWT_SECRET": JWT_SECRET})
        seen.append((f"CLI {' '.join(args)}", done.stdout + done.stderr))

    # the exports
    campaign = importing.attach_import(engine, import_id, "=Q4", ADMIN).id
    seen += [("audit export", to_export_csv(audit_log.trail(engine)).decode("utf-8-sig")),
             ("error file", to_export_csv(import_error_file(engine, import_id)).decode("utf-8-sig")),
             ("import contacts", import_contacts_csv(engine, import_id).decode("utf-8-sig")),
             ("campaign contacts", campaign_contacts_csv(engine, campaign).decode("utf-8-sig")),
             ("campaigns", list_campaigns(engine).to_csv()),
             ("logs", caplog.text)]
    assert len(seen) > 20
    for where, text in seen:
        assert_no_secret(text, admin_key, importer_key, bearer, where=where)


def settled_content(page, tries: int = 20) -> str:
    """The page's source once it stops navigating: page.content() refuses while a navigation
    (a redirect) runs, so wait for the load state and ask again."""
    for _ in range(tries):
        page.wait_for_load_state()
        try:
            return page.content()
        except PlaywrightError:
            continue
    raise AssertionError(f"{page.url} kept navigating")


@pytest.mark.browser
def test_a_real_server_shows_no_secret_in_its_pages_sign_in_redirect_or_log(database_url, secrets_file, tmp_path):
    log = tmp_path / "server.log"
    # Only Streamlit's option names the file: the API must read the same one (server.py).
    with console_server(database_url, log, "--secrets.files", str(secrets_file),
                        CONTACT_IMPORT_SECRETS="") as (url, _):
        texts = []
        for subject, status in (("mallory@gmail.com", 403), ("ivy@example.com", 200)):
            request = urllib.request.Request(url + "/api/imports",
                                             headers={"Authorization": f"Bearer {token(subject)}"})
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:
                    assert answer.status == status == 200
            except urllib.error.HTTPError as error:
                assert error.code == status == 403, error.read()
        for path in ("/", "/auth/login", "/api/imports", "/api/openapi.json", "/api/docs"):
            request = urllib.request.Request(url + path, headers={"X-API-Key": "cic_" + "x" * 43})
            try:
                with urllib.request.urlopen(request, timeout=20) as answer:
                    texts.append((path, answer.read().decode(errors="replace") + str(dict(answer.headers))))
            except urllib.error.HTTPError as error:
                texts.append((path, error.read().decode(errors="replace") + str(dict(error.headers))))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            texts.append(("the sign-in page's source", page.content()))
            with page.expect_navigation(timeout=60_000):  # to the provider, which cannot be reached
                page.get_by_role("button", name="Sign in").click()
            texts.append(("after Sign in", settled_content(page) + page.url))
            browser.close()
    texts.append(("server log", log.read_text()))
    for where, text in texts:
        assert_no_secret(text, where=where)
