"""Engine creation and schema migrations.

DATABASE_URL (postgresql://user:password@host:port/dbname) selects a server; without it the
embedded server of core.storage.embedded is started. The numbered files of sql/ (schema changes) are
applied in order, once each, recorded in schema_migrations; then the files of sql/functions/ (the
current body of every function, CREATE OR REPLACE), each again whenever its text changed (its
hash is recorded too), so a function has one source. All of it under an advisory lock, so that two
processes starting at once do not race.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from core.errors import SchemaBehind
from core.storage.embedded import PROJECT_ROOT, start_embedded_server

SQL_DIR = PROJECT_ROOT / "sql"
FUNCTIONS_DIR = SQL_DIR / "functions"
MIGRATION_LOCK_KEY = 4_711_001  # any constant shared by every process of this app
OWNER_URL = "CONTACT_IMPORT_OWNER_URL"  # the tables' owner, for migrations (README, "Database")


APP_ROLE = "contact_import_app"  # sql/020_app_role.sql


def database_url(env_var: str = "DATABASE_URL") -> str:
    """The application's connection: env_var's URL, else the embedded server's, as APP_ROLE once
    the server's superuser (the tables' owner) has migrated the schema."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    owner = start_embedded_server()
    _migrate_as(owner)
    return app_role_url(owner)


def app_role_url(url: str) -> str:
    """url's server and database, as APP_ROLE (without a password: set one in DATABASE_URL when
    the server asks for it)."""
    return make_url(sqlalchemy_url(url)).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


def migrate_as_owner(url: str | None = None) -> list[str]:
    """`python -m core migrate`: the schema migrated by the tables' owner (url, else
    CONTACT_IMPORT_OWNER_URL, else DATABASE_URL, else the embedded server's superuser); returns the
    numbered files applied now."""
    owner = url or os.environ.get(OWNER_URL) or os.environ.get("DATABASE_URL") or start_embedded_server()
    engine = sa.create_engine(sqlalchemy_url(owner), poolclass=sa.pool.NullPool)
    try:
        return migrate(engine)
    finally:
        engine.dispose()


@lru_cache(maxsize=None)
def _migrate_as(owner_url: str) -> None:
    """Migrate with the owner's connection, once per process, and let go of it."""
    migrate_as_owner(owner_url)


def sqlalchemy_url(url: str) -> str:
    """postgresql://… (the usual form) -> postgresql+psycopg://… (SQLAlchemy with psycopg 3)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"Not a PostgreSQL URL: {url!r} (expected postgresql://user:password@host:port/db)")


def make_engine(url: str | None = None) -> Engine:
    """An engine on the configured server, with the schema migrated: by CONTACT_IMPORT_OWNER_URL's
    role when it is set (the application's role may not change the schema), else by the engine's
    own when it is behind (a deployment with one role, the owner)."""
    # Commits that share contacts wait for one another at the merge, holding a connection each:
    # the pool must let a few dozen users commit at once rather than time out waiting for one.
    engine = sa.create_engine(sqlalchemy_url(url or database_url()), pool_size=10, max_overflow=30)
    sa.event.listen(engine, "checkin", _note_checkin)
    sa.event.listen(engine, "checkout", _ping_if_idle)
    if os.environ.get(OWNER_URL):
        _migrate_as(os.environ[OWNER_URL])
    elif pending_migrations(engine):
        _migrate_or_explain(engine)
    if is_citus(engine):
        engine.dispose()
        sa.event.listen(engine, "connect", _one_connection_per_worker)
    return engine


# A pooled connection idle for longer than this is pinged before use, and replaced if the server
# dropped it (a restart). One in steady use is not: a ping on every checkout was a round trip of
# its own several times per API call. A server that drops a connection in use fails that one
# transaction, and SQLAlchemy then replaces every connection of the pool.
PING_AFTER_IDLE = 1.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    if time.monotonic() - record.info.get("checked_in", 0.0) <= PING_AFTER_IDLE:
        return
    try:
        ping(dbapi_connection)
    except Exception as error:
        raise sa.exc.DisconnectionError(str(error)) from error  # the pool connects anew


def ping(dbapi_connection) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # the ping opens no transaction
    try:
        dbapi_connection.execute("SELECT 1")
    finally:
        dbapi_connection.autocommit = autocommit


def _one_connection_per_worker(dbapi_connection, record) -> None:
    """On Citus: a transaction that wrote to a distributed table over several connections per
    worker may not then write to a reference table that the distributed one refers to (a commit
    writes its links, then completes its import). Sequential mode keeps one connection per
    worker; with a worker per machine core or two, little parallelism is lost."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET citus.multi_shard_modify_mode TO sequential")
        # A SET LOCAL reaches the workers of the transaction too (the merge's join settings).
        cursor.execute("SET citus.propagate_set_commands TO local")
    dbapi_connection.commit()
    record.info["citus"] = True  # core.storage.staging stages rows the Citus way


def _migrate_or_explain(engine: Engine) -> None:
    try:
        migrate(engine)
    except sa.exc.ProgrammingError as error:
        if getattr(error.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        raise SchemaBehind(", ".join(pending_migrations(engine)[:3])) from None


def pending_migrations(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """The sql/ files (and function files' versions) the database has not applied yet."""
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT to_regclass('schema_migrations')")).scalar() is None:
            return [version for version, _ in _versions(sql_dir)]
        done = set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
    return [version for version, _ in _versions(sql_dir) if version not in done]


def _versions(sql_dir: Path) -> list[tuple[str, str]]:
    """Each numbered file, then each function file with the hash of its text: (version, text)."""
    numbered = [(path.name, path.read_text()) for path in sorted(sql_dir.glob("*.sql"))]
    functions = []
    for path in sorted((sql_dir / FUNCTIONS_DIR.name).glob("*.sql")):
        text = path.read_text()
        functions.append((f"{FUNCTIONS_DIR.name}/{path.name}@{hashlib.sha256(text.encode()).hexdigest()[:16]}", text))
    return numbered + functions


def migrate(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the numbered sql/ files not applied yet, then every function file; returns the names
    of the numbered files applied now."""
    applied_now = []
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"))
        done = set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
        # Function bodies read the temp table import_stage, which exists only inside an import's
        # transaction: check them when they run, not now (as pg_dump restores do).
        conn.execute(sa.text("SET LOCAL check_function_bodies = off"))
        for version, text in _versions(sql_dir):
            if version in done:
                continue
            # Without parameters psycopg sends the file as one simple query: several statements
            # and dollar-quoted function bodies run as written.
            conn.connection.driver_connection.execute(text)
            conn.execute(sa.text("INSERT INTO schema_migrations (version) VALUES (:v)"), {"v": version})
            if "/" not in version:
                applied_now.append(version)
    return applied_now


@contextmanager
def scratch_database(server_url: str, name: str, options: str = "") -> Iterator[str]:
    """A new empty database `name` on the server of server_url, dropped on exit; yields its URL.
    Tests and the benchmark work in one so they never touch anybody's tables (needs CREATEDB).
    options: more of CREATE DATABASE, e.g. "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en'".
    On a Citus coordinator (server_url's database knows workers) the database is made on every
    node, with the citus extension, and its coordinator given the same workers."""
    server = make_url(sqlalchemy_url(server_url))
    workers = citus_workers(server_url)
    nodes = [server] + [server.set(host=host, port=port) for host, port in workers]
    for node in nodes:
        _run_autocommit(node, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}" {options}'.strip())
    try:
        if workers:
            for node in nodes:
                _run_autocommit(node.set(database=name), "CREATE EXTENSION citus")
            _run_autocommit(server.set(database=name),
                            f"SELECT citus_set_coordinator_host('{server.host}', {server.port or 5432})",
                            *[f"SELECT citus_add_node('{host}', {port})" for host, port in workers])
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        for node in reversed(nodes):
            _run_autocommit(node, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def citus_workers(url: str) -> list[tuple[str, int]]:
    """The active workers of the Citus cluster whose coordinator database url names; [] for a
    server without Citus there."""
    engine = sa.create_engine(make_url(sqlalchemy_url(url)))
    try:
        with engine.connect() as conn:
            if not has_citus(conn):
                return []
            return [tuple(row) for row in conn.execute(sa.text(
                "SELECT node_name, node_port FROM citus_get_active_worker_nodes() ORDER BY node_port"))]
    finally:
        engine.dispose()


def is_citus(engine: Engine) -> bool:
    with engine.connect() as conn:
        return has_citus(conn)


def has_citus(conn: sa.Connection) -> bool:
    """Whether the connection's database has the citus extension."""
    return conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")).scalar()


def _run_autocommit(url, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
