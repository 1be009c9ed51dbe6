"""Least privilege in the database (issue 21, point 5): the application connects as
contact_import_app, which owns nothing and is no superuser. Against it the audit trail is
append-only, tricks included (before, the console connected as a superuser that owned audit_log,
so SET session_replication_role = replica, DISABLE TRIGGER and DROP TABLE all worked); and every
flow of the application runs with what it is granted."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core import importing
from core.errors import SchemaBehind
from core.storage.database import APP_ROLE, app_role_url, make_engine, migrate
from tests.helpers import ADMIN, csv_bytes, person

TRICKS = [
    "DELETE FROM audit_log",
    "UPDATE audit_log SET actor = 'nobody'",
    "TRUNCATE audit_log",
    "SET session_replication_role = replica",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    "DROP TRIGGER audit_log_no_change ON audit_log",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log RENAME TO old_audit_log",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
    "CREATE TABLE public.audit_copy (id int)",
    "INSERT INTO schema_migrations (version) VALUES ('999_mine.sql')",
    f"ALTER ROLE {APP_ROLE} SUPERUSER",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
]


@pytest.fixture
def app_engine(engine, database_url):
    """The application's own connection to the test database (migrated by its owner, the engine fixture)."""
    app = make_engine(app_role_url(database_url))
    yield app
    app.dispose()


def test_the_application_s_role_owns_nothing_and_cannot_touch_the_audit_trail(app_engine):
    service = importing.Service(app_engine)
    service.create_key("Ops", ADMIN, "admin")  # the application adds to the trail as ever
    with app_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one() \
            == (APP_ROLE, False)
        assert conn.execute(sa.text("SELECT count(*) FROM pg_class WHERE relowner = "
                                    "(SELECT oid FROM pg_roles WHERE rolname = current_user)")).scalar_one() == 0
        before = conn.execute(sa.text("SELECT count(*), max(id) FROM audit_log")).one()
    assert before[0] >= 1
    for trick in TRICKS:
        with app_engine.connect() as conn:
            with pytest.raises(sa.exc.DBAPIError) as refused:
                conn.exec_driver_sql(trick)
                pytest.fail(f"the application's role could: {trick}")
            assert refused.value.orig.sqlstate == "42501", (trick, refused.value.orig)  # insufficient_privilege
    with app_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), max(id) FROM audit_log")).one() == before


def test_every_flow_runs_with_what_the_application_s_role_is_granted(app_engine):
    service = importing.Service(app_engine)
    first = service.import_file(csv_bytes(person(1), person(2)), "a.csv", "HubSpot", campaign="Q4", actor=ADMIN)
    draft = service.open_file(csv_bytes(person(2, company="New Co"), person(3)), "b.csv", source="HubSpot", actor=ADMIN)
    importing.validate_draft(draft)
    assert service.review(draft).will_update == 1
    service.save_draft("token-app-role", draft, {"step": "review"})
    second = service.commit(draft)
    assert (second.inserted, second.updated) == (1, 1)
    service.undo(first.import_id, ADMIN)
    api_import = service.create_api_import("CRM", None, ADMIN)
    service.add_contacts(api_import, b'[{"full_name": "A", "email": "a@x.io", "linkedin_profile": "https://linkedin.com/in/a"}]',
                         "a.json", actor=ADMIN)
    service.complete(api_import, 1, actor=ADMIN)
    claim = service.claim_key("api:Ops", "k", "same")
    service.release_key(claim)
    assert len(service.list_imports()) == 3 and len(service.list_contacts(limit=10)) == 3
    assert not service.read_audit(ADMIN)[0].empty


def test_a_schema_behind_is_explained_to_the_application_s_role_not_half_migrated(engine, database_url):
    with engine.begin() as conn:  # as if the code were newer than the database
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version LIKE 'functions/%'"))
    try:
        with pytest.raises(SchemaBehind, match="python -m core migrate"):
            make_engine(app_role_url(database_url))
    finally:
        migrate(engine)


def test_the_application_s_role_refreshes_the_statistics_of_contacts_after_a_large_commit(app_engine):
    """ANALYZE needs the table's owner: as the application's role a plain ANALYZE only warned and
    did nothing (core.storage.commit.refresh_statistics)."""
    from core.storage.commit import refresh_statistics

    def analyzed() -> int:
        with app_engine.connect() as conn:
            return conn.execute(sa.text("SELECT analyze_count FROM pg_stat_user_tables "
                                        "WHERE relid = 'contacts'::regclass")).scalar_one()
    before = analyzed()
    refresh_statistics(app_engine)
    assert analyzed() == before + 1  # ANALYZE writes its count to the shared statistics at once
