"""Test database: a throw-away database on a real PostgreSQL server.

TEST_DATABASE_URL names the server (CI: the one on 127.0.0.1:5432); without it the embedded
server is started in .data/test-postgres. Each test run creates its own database there and drops
it afterwards, so the tests never touch data of the console.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.database import make_engine, scratch_database
from core.embedded import PROJECT_ROOT, start_embedded_server

DATA = Path(__file__).parent / "data"
TABLES = ("campaign_imports, import_errors, import_contacts, imports, contacts, campaigns, saved_mappings, "
          "api_keys, import_error_rows, import_progress, drafts, draft_files")


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or start_embedded_server(PROJECT_ROOT / ".data" / "test-postgres")


@pytest.fixture(scope="session", autouse=True)
def no_secrets_of_the_machine(tmp_path_factory):
    """No developer's .streamlit/secrets.toml reaches the CLI or the API
    (core.access.load_secrets): tests that need one write their own."""
    before = os.environ.get("CONTACT_IMPORT_SECRETS")
    os.environ["CONTACT_IMPORT_SECRETS"] = str(tmp_path_factory.mktemp("secrets") / "secrets.toml")
    yield
    if before is None:
        os.environ.pop("CONTACT_IMPORT_SECRETS", None)
    else:
        os.environ["CONTACT_IMPORT_SECRETS"] = before


@pytest.fixture(scope="session")
def database_url():
    with scratch_database(_server_url(), f"contact_import_test_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def _engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_engine):
    """The test database, emptied before each test."""
    with _engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
    return _engine


@pytest.fixture
def seed_csv() -> bytes:
    return (DATA / "seed.csv").read_bytes()


@pytest.fixture
def seed_json() -> bytes:
    return (DATA / "seed.json").read_bytes()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can tell a failed test (screenshots)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
