"""Migrations: applied in order, once, recorded, and safe when several processes start at once."""
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.storage.database import SQL_DIR, migrate, scratch_database, sqlalchemy_url


@pytest.fixture
def empty_database(database_url):
    with scratch_database(database_url, make_url(database_url).database + "_migrations") as url:
        engine = sa.create_engine(sqlalchemy_url(url))
        yield engine
        engine.dispose()


def test_every_sql_file_is_applied_once_and_recorded(empty_database):
    files = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    assert migrate(empty_database) == files
    assert migrate(empty_database) == []
    with empty_database.connect() as conn:
        versions = list(conn.execute(sa.text("SELECT version FROM schema_migrations ORDER BY version")).scalars())
    assert [v for v in versions if not v.startswith("functions/")] == files
    assert [v.split("@")[0] for v in versions if v.startswith("functions/")] == ["functions/merge.sql"]


def test_a_changed_function_file_is_applied_again(empty_database, tmp_path):
    (tmp_path / "functions").mkdir()
    body = "CREATE OR REPLACE FUNCTION answer() RETURNS integer LANGUAGE sql RETURN {};"
    (tmp_path / "functions" / "f.sql").write_text(body.format(41))
    migrate(empty_database, tmp_path)
    (tmp_path / "functions" / "f.sql").write_text(body.format(42))
    migrate(empty_database, tmp_path)
    with empty_database.connect() as conn:
        assert conn.execute(sa.text("SELECT answer()")).scalar_one() == 42


def test_processes_starting_at_once_apply_the_schema_exactly_once(empty_database):
    start, applied, errors = threading.Barrier(4), [], []

    def run():
        start.wait()
        try:
            applied.append(migrate(empty_database))
        except Exception as error:
            errors.append(error)
    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert sorted(map(len, applied)) == [0, 0, 0, len(list(SQL_DIR.glob("*.sql")))]


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_database_urls_in_the_usual_form_are_accepted(url, expected):
    assert sqlalchemy_url(url) == expected


def test_other_urls_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="Not a PostgreSQL URL"):
        sqlalchemy_url("sqlite:///x.db")


def test_a_pooled_connection_the_server_dropped_while_idle_is_replaced_before_use(database_url, monkeypatch):
    """What a server restart does to the pool: connections idle past PING_AFTER_IDLE are pinged
    on checkout, and a dead one is replaced without the caller seeing an error."""
    from core.storage import database
    engine = database.make_engine(database_url)
    try:
        with engine.connect() as conn:
            dropped = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        other = sa.create_engine(sqlalchemy_url(database_url))  # the pool keeps the first, idle
        with other.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(CAST(:pid AS integer))"), {"pid": dropped})
        other.dispose()
        monkeypatch.setattr(database, "PING_AFTER_IDLE", 0.0)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != dropped
    finally:
        engine.dispose()
