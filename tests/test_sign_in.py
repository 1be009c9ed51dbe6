"""Sign-in for real (issue 13): a real console server, Streamlit's st.login, and an OpenID Connect
provider (tests/oidc_provider.py) behind it, driven by chromium. Whoever the allow-list does not
name sees nothing of the console; whoever it names gets their role's pages, under their email."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from core.storage import audit_log
from tests.console_server import CHROMIUM, CHROMIUM_ARGS, console_server, free_port
from tests.oidc_provider import CLIENT_ID, oidc_provider

pytestmark = pytest.mark.browser
CLIENT_SECRET = "client-secret-of-the-test-provider-0c4e2f"
WAIT_MS = 60_000


def secrets_toml(port: int, issuer: str) -> str:
    return f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "cookie-secret-of-the-sign-in-test-9a7d"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"

[roles]
admin = ["ana@example.com"]
importer = ["@example.com"]
"""


def signed_in_as(email: str, role: str) -> re.Pattern:
    """The sidebar's line; an invisible word joiner follows the @ (pages.common.md)."""
    name, domain = email.split("@")
    return re.compile(rf"Signed in as {re.escape(name)}@\u2060?{re.escape(domain)} \({role}\)")


def sign_in(browser, url: str, provider, email: str):
    provider.email = email
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_sign_in_lets_in_whom_the_roles_name_and_nobody_else(database_url, engine, tmp_path):
    port = free_port()
    with oidc_provider(CLIENT_SECRET) as provider:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(secrets_toml(port, provider.issuer))
        log = tmp_path / "server.log"
        with console_server(database_url, log, "--secrets.files", str(secrets), port=port,
                            CONTACT_IMPORT_SECRETS=str(secrets)) as (url, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                refused = sign_in(browser, url, provider, "mallory@gmail.com")
                refused.get_by_text("is not allowed in this console").wait_for()
                assert refused.get_by_role("heading", name="New import").count() == 0
                assert refused.locator('[data-testid="stFileUploader"]').count() == 0
                expect(refused.get_by_role("button", name="Sign out")).to_have_count(1, timeout=WAIT_MS)

                importer = sign_in(browser, url, provider, "ivy@example.com")
                importer.get_by_role("heading", name="New import").wait_for()
                importer.get_by_text(signed_in_as("ivy@example.com", "importer")).wait_for()
                navigation = importer.locator('[data-testid="stSidebarNav"]').inner_text()
                assert "Import history" in navigation and "API keys" not in navigation
                assert "Audit trail" not in navigation

                admin = sign_in(browser, url, provider, "ana@example.com")
                admin.get_by_text(signed_in_as("ana@example.com", "admin")).wait_for()
                assert "Audit trail" in admin.locator('[data-testid="stSidebarNav"]').inner_text()
                admin.get_by_role("button", name="Sign out").click()
                admin.get_by_role("button", name="Sign in").wait_for()
            finally:
                browser.close()
    trail = audit_log.trail(engine)
    assert ["sign-in refused", "mallory@gmail.com"] in trail[["action", "actor"]].values.tolist()
    assert CLIENT_SECRET not in Path(log).read_text()


def test_a_console_without_sign_in_served_to_the_network_shows_no_page(database_url, tmp_path):
    log = tmp_path / "server.log"
    # streamlit run as by hand, not through ./dev start (which refuses it): every interface
    with console_server(database_url, log, "--server.address", "0.0.0.0") as (url, _), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            page.get_by_text("This console has no sign-in configured, so it serves only this machine").wait_for()
            assert page.get_by_role("heading", name="New import").count() == 0
            assert page.locator('[data-testid="stFileUploader"]').count() == 0
        finally:
            browser.close()
