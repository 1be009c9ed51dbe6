"""Scale-out (issue 12): on a Citus cluster the schema is distributed as sql/017_distributable.sql
says, and the CLI's import lands in it. Runs in the integration tier on Citus (./dev test-citus);
on one PostgreSQL server it checks that the same migration left a plain schema."""
import json
import os
import shutil

import pytest
import sqlalchemy as sa

from core.storage.database import SQL_DIR, is_citus, migrate, scratch_database, sqlalchemy_url
from tests.conftest import DATA, _server_url
from tests.helpers import links
from tests.test_cli import cli


DISTRIBUTED = {"contacts": "email", "import_contacts": "email", "import_errors": "import_id",
               "import_error_rows": "import_id", "import_stage_rows": "email",
               "import_matched_rows": "email"}
REFERENCE = {"campaigns", "campaign_imports", "imports"}


def test_the_cli_imports_the_seed_into_distributed_tables_with_both_contacts_linked(engine, database_url):
    done = cli("import", DATA / "seed.csv", "--source", "seed", "--json", database_url=database_url)
    import_id = json.loads(done.stdout)["import_id"]
    assert [(link["email"], link["action"]) for link in links(engine, import_id)] == [
        ("john@example.com", "inserted"), ("jane@example.com", "inserted")]
    if not is_citus(engine):
        with engine.connect() as conn:
            assert not conn.execute(sa.text("SELECT to_regclass('pg_dist_partition')")).scalar()
        return
    with engine.connect() as conn:
        tables = {row.table: row for row in conn.execute(sa.text(
            "SELECT logicalrelid::text AS table, partmethod, column_to_column_name(logicalrelid, partkey) AS key, "
            "colocationid FROM pg_dist_partition"))}
        workers = conn.execute(sa.text("SELECT count(*) FROM citus_get_active_worker_nodes()")).scalar()
        placed = conn.execute(sa.text(
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'contacts'::regclass")).scalar()
    assert {name: tables[name].key for name in DISTRIBUTED} == DISTRIBUTED
    assert {name for name, row in tables.items() if row.partmethod == "n"} == REFERENCE
    assert (tables["contacts"].colocationid == tables["import_contacts"].colocationid
            == tables["import_stage_rows"].colocationid == tables["import_matched_rows"].colocationid)
    assert workers == 2 and placed == 2  # contacts' shards are spread over both workers


def test_email_uniqueness_and_every_links_foreign_key_hold_in_the_database(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contacts (email, full_name, linkedin_profile) "
                             "VALUES ('ann@x.io', 'Ann', 'https://linkedin.com/in/ann')"))
    with pytest.raises(sa.exc.IntegrityError, match="contacts_email_key"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO contacts (email, full_name, linkedin_profile) "
                                 "VALUES ('ann@x.io', 'Ann Again', 'https://linkedin.com/in/ann2')"))
    with pytest.raises(sa.exc.IntegrityError, match="import_contacts_contact_fkey"):
        with engine.begin() as conn:
            import_id = conn.execute(sa.text("INSERT INTO imports (source) VALUES ('t') RETURNING id")).scalar()
            conn.execute(sa.text("INSERT INTO import_contacts (import_id, email, contact_id, action, row_number) "
                                 "VALUES (:i, 'ann@x.io', gen_random_uuid(), 'inserted', 2)"), {"i": import_id})


@pytest.mark.db
def test_a_database_made_before_the_distributable_schema_migrates_with_its_data(tmp_path):
    old_sql = tmp_path / "sql"
    (old_sql / "functions").mkdir(parents=True)
    for path in SQL_DIR.glob("*.sql"):
        if path.name < "017":
            shutil.copy(path, old_sql / path.name)
    with scratch_database(_server_url(), f"contact_import_migrate_{os.getpid()}") as url:
        engine = sa.create_engine(sqlalchemy_url(url))
        migrate(engine, old_sql)
        with engine.begin() as conn:
            import_id = conn.execute(sa.text("INSERT INTO imports (source, status) VALUES ('old', 'completed') "
                                             "RETURNING id")).scalar()
            conn.execute(sa.text(
                "INSERT INTO contacts (email, full_name, linkedin_profile) VALUES "
                "('ann@x.io', 'Ann', 'https://linkedin.com/in/ann'), ('bob@x.io', 'Bob', 'https://linkedin.com/in/bob')"))
            conn.execute(sa.text("INSERT INTO import_contacts (import_id, contact_id, action, row_number) "
                                 "SELECT :i, id, 'inserted', 2 FROM contacts"), {"i": import_id})
        migrate(engine)
        with engine.connect() as conn:
            stored = conn.execute(sa.text(
                "SELECT l.email, c.full_name FROM import_contacts l "
                "JOIN contacts c ON c.email = l.email AND c.id = l.contact_id ORDER BY 1")).all()
            keys = set(conn.execute(sa.text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'import_contacts'::regclass")).scalars())
        engine.dispose()
    assert [tuple(row) for row in stored] == [("ann@x.io", "Ann"), ("bob@x.io", "Bob")]
    assert {"import_contacts_pkey", "import_contacts_contact_fkey", "import_contacts_import_id_fkey"} <= keys
