"""Test database: a throw-away database on a real PostgreSQL server.

TEST_DATABASE_URL names the server (CI: the one on 127.0.0.1:5432); without it the embedded
server is started in .data/test-postgres. Each test run creates its own database there and drops
it afterwards, so the tests never touch data of the console.
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.storage.database import make_engine, scratch_database
from core.storage.embedded import PROJECT_ROOT, start_embedded_server

DATA = Path(__file__).parent / "data"
TABLES = ("campaign_imports, import_errors, import_contacts, imports, contacts, campaigns, saved_mappings, "
          "api_keys, import_error_rows, import_progress, drafts, draft_files, suppressions, hash_keys")


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
def client(engine):
    """The HTTP API through FastAPI's TestClient, on the test database."""
    from fastapi.testclient import TestClient

    from api import api, deps
    from core.importing import Service
    api.dependency_overrides[deps.service] = lambda: Service(engine)
    with TestClient(api) as test_client:
        yield test_client
    api.dependency_overrides.clear()


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


# --- test tiers (issue 19) ----------------------------------------------------------------------
# unit: no database; db: a real PostgreSQL (./dev test runs these again on Citus unless marked
# no_citus with a reason); slow: db tests that take seconds each (real servers, large files,
# concurrency); browser: chromium. A test is in the first of browser, slow, db, unit that fits.
TIERS = ("unit", "db", "slow", "browser")
DATABASE_FIXTURES = {"engine", "_engine", "database_url"}
SLOW_MODULES = {"test_large_path", "test_concurrent_load", "test_crash_and_concurrency", "test_api_http",
                "test_dev_start", "test_api_schema"}
_tier_of: dict[str, str] = {}
_seconds: dict[str, float] = defaultdict(float)
_ran: dict[str, set] = defaultdict(set)
_run_started = time.monotonic()


def tier_of(item) -> str:
    if item.get_closest_marker("browser"):
        return "browser"
    fixtures = set(getattr(item, "fixturenames", ()))
    uses_database = bool(DATABASE_FIXTURES & fixtures) or item.get_closest_marker("db") is not None
    if uses_database and item.path.stem in SLOW_MODULES:
        return "slow"
    return "db" if uses_database else "unit"


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = _tier_of[item.nodeid] = tier_of(item)
        item.add_marker(tier)
        if tier in ("slow", "browser") and (DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker("db")  # a database test all the same: the Citus run picks it by this


def pytest_runtest_logreport(report):
    tier = _tier_of.get(report.nodeid, "unit")
    _seconds[tier] += report.duration
    _ran[tier].add(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    shown = [f"{tier} {_seconds[tier]:.1f} s ({len(_ran[tier])} tests)" for tier in TIERS if _ran[tier]]
    if shown:
        terminalreporter.write_line("tiers: " + " · ".join(shown) +
                                    f" · whole run {time.monotonic() - _run_started:.1f} s")


@pytest.fixture
def held_merge(monkeypatch):
    """Commits stop inside their transaction, at the merge, until the test lets them go on:
    (merging, go_on), two events. The request that started one is then in progress."""
    import threading

    from core.storage import commit as commit_module
    merging, go_on = threading.Event(), threading.Event()
    merge = commit_module._merge

    def held(*args):
        merging.set()
        assert go_on.wait(60)
        return merge(*args)
    monkeypatch.setattr(commit_module, "_merge", held)
    yield merging, go_on
    go_on.set()
