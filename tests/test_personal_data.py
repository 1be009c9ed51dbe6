"""People's data (issue 24): an erased person appears nowhere in the database nor in the drafts'
storage, no later import or undo brings them back, suppressed emails are never written, and a
person's data can be exported. Runs on both servers."""
import json

import pytest
import sqlalchemy as sa

from core import importing
from core.access.keys import create_key
from core.errors import ImportConsoleError
from core.rows.validation import REASONS
from core.storage.personal_data import erase, person_data, suppress
from core.storage.undo import undo_import
from tests.helpers import ADMIN, IMPORTER, contacts, csv_bytes, person
from tests.test_cli import cli

ANN = "ann.erase@x.io"
REASON = REASONS["linkedin_url"]


def ann(**overrides) -> dict:
    return {"full_name": "Ann Erasable", "email": ANN, "linkedin_profile": "https://linkedin.com/in/ann-erasable",
            "company": "Annco", "metadata": '{"phone": "+1 617 555 0100"}', **overrides}


def everywhere(engine, needle: str) -> list[str]:
    """Every text, JSON, array and byte column of every table that holds needle (any case)."""
    with engine.connect() as conn:
        columns = conn.execute(sa.text(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')")).all()
        found = []
        for table, column, kind in columns:
            test = (f'position(CAST(:raw AS bytea) IN "{column}") > 0' if kind == "bytea"
                    else f'lower(CAST("{column}" AS text)) LIKE :like')
            if conn.execute(sa.text(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {test})'),
                            {"raw": needle.encode(), "like": f"%{needle}%"}).scalar_one():
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def key(engine) -> dict:
    return {"X-API-Key": create_key(engine, "sync", ADMIN, "admin")}


def test_an_erased_person_is_nowhere_in_the_database_nor_in_the_drafts(engine, client, key):
    first = importing.import_file(engine, csv_bytes(ann(), person(1)), "first.csv", "CRM")
    importing.import_file(engine, csv_bytes(ann(company="Ann & Co"), person(2)), "second.csv", "CRM")  # previous values
    importing.import_file(engine, csv_bytes(ann(email=ANN.upper(), linkedin_profile="nope"), person(3),
                                            ann(email=f"mailto:{ANN}"), ann(email="jo" + ANN, linkedin_profile="x")),
                          "third.csv", "CRM")  # rejected rows: Ann's (one spelt as a link), and Joann's
    answer = client.post("/contacts/bulk", json=[ann(metadata={"tier": "gold"}), person(4)],
                         headers={**key, "Idempotency-Key": "with-ann"})
    assert answer.status_code == 201 and ANN in answer.text  # its recorded answer names Ann
    service = importing.Service(engine)
    wizard = importing.Wizard()
    wizard.choose_origin("Expo", campaign=None)
    wizard.open_file(service, csv_bytes(person(5), ann()), "draft.csv", ADMIN)
    wizard.save(service)
    importing.drafts.settle(wizard.token)
    assert sorted(everywhere(engine, ANN)) == sorted([
        "contacts.email", "import_contacts.email", "import_errors.email", "import_errors.value",
        "import_error_rows.cells", "import_error_rows.email", "idempotency_keys.answer", "draft_files.data"])

    erased = erase(engine, "  Ann.Erase@X.io ", ADMIN)

    assert (erased.contacts, erased.links, erased.rejected_rows, erased.drafts, erased.answers) == (1, 3, 2, 1, 1)
    joann = "jo" + ANN  # another person, whose address ends with Ann's: kept
    assert sorted(everywhere(engine, joann)) == ["import_error_rows.cells", "import_error_rows.email",
                                                 "import_errors.email"]
    with engine.connect() as conn:  # nothing else of Ann's, once Joann's row is set aside
        conn.execute(sa.text("DELETE FROM import_errors WHERE email = :j"), {"j": joann})
        conn.execute(sa.text("DELETE FROM import_error_rows WHERE email = :j"), {"j": joann})
        conn.commit()
    assert everywhere(engine, ANN) == [] and everywhere(engine, "ann-erasable") == []
    assert sorted(contacts(engine)) == sorted(person(n)["email"] for n in range(1, 5))
    with engine.connect() as conn:
        trail = conn.execute(sa.text("SELECT actor, subject FROM audit_log WHERE action = 'erased' "
                                     "AND detail->>'email_hash' = :h"), {"h": erased.email_hash}).one()
    assert trail.actor == ADMIN.name and trail.subject == f"email hash {erased.email_hash[:16]}"
    replay = client.post("/contacts/bulk", json=[ann(metadata={"tier": "gold"}), person(4)],
                         headers={**key, "Idempotency-Key": "with-ann"})
    assert ANN not in replay.text and replay.json()["created"] == answer.json()["created"]
    undo_import(engine, first.import_id, ADMIN)  # the import that created Ann
    assert ANN not in contacts(engine)


def test_no_later_import_nor_undo_brings_an_erased_person_back(engine):
    importing.import_file(engine, csv_bytes(ann(company="Old")), "first.csv", "CRM")
    second = importing.import_file(engine, csv_bytes(ann(company="New")), "second.csv", "CRM")
    erase(engine, ANN, ADMIN)
    undo_import(engine, second.import_id, ADMIN)  # its previous values went with the erasure
    assert ANN not in contacts(engine)
    draft, review = importing.dry_run(engine, csv_bytes(ann(), person(1), ann(linkedin_profile="bad")), "again.csv")
    assert (review.will_insert, importing.planned_counts(draft).suppressed) == (1, 2)
    again = importing.import_file(engine, csv_bytes(ann(), person(1), ann(linkedin_profile="bad")), "again.csv", "CRM")
    assert (again.inserted, again.suppressed, again.invalid, again.duplicates) == (1, 2, 0, 0)
    assert again.counts.adds_up
    assert everywhere(engine, ANN) == []
    record = importing.Service(engine).get_import(again.import_id)
    assert (record["suppressed"], record["file_rows"]) == (2, 3)


def test_an_opt_out_list_is_kept_as_keyed_hashes_and_its_emails_are_never_written(engine, client, key, tmp_path,
                                                                                  database_url):
    opt_out = tmp_path / "opt-out.csv"
    opt_out.write_text("Email\nOpted.Out@X.io\nnot an email\n")
    said = cli("suppress", opt_out, database_url=database_url).stdout
    assert "1 email added to the suppression list" in said and "not an email" in said
    assert everywhere(engine, "opted.out@x.io") == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM suppressions")).scalar_one() == 1
    refused = client.post("/contacts/bulk", json=[person(1, email="opted.out@x.io"), person(2)], headers=key)
    assert refused.status_code == 201 and refused.json()["suppressed"] == 1
    assert sorted(contacts(engine)) == [person(2)["email"]]
    added, bad = suppress(engine, [person(2)["email"], "bad"], ADMIN, "manual")
    assert (added, bad) == (1, ["bad"])
    later = importing.import_file(engine, csv_bytes(person(2, company="New")), "later.csv", "CRM")
    assert (later.suppressed, later.updated) == (1, 0)


def test_a_person_s_data_exports_as_json_from_the_cli_and_the_api(engine, client, key, database_url):
    importing.import_file(engine, csv_bytes(ann(company="Old")), "first.csv", "CRM")
    importing.import_file(engine, csv_bytes(ann(company="New"), ann(email=ANN, linkedin_profile="x")), "second.csv",
                          "CRM")
    importing.import_file(engine, csv_bytes(ann(linkedin_profile="bad")), "third.csv", "CRM")
    data = person_data(engine, ANN.upper())
    assert data["contact"]["company"] == "New" and not data["suppressed"]
    assert [(i["file_name"], i["action"]) for i in data["imports"]] == [("first.csv", "inserted"), ("second.csv", "updated")]
    assert data["imports"][1]["previous"] == {"company": "Old"}
    assert [r["cells"]["linkedin_profile"] for r in data["rejected_rows"]] == ["x", "bad"]
    assert json.loads(cli("export-person", ANN, database_url=database_url).stdout)["contact"]["email"] == ANN
    assert client.get(f"/contacts/{ANN}/export", headers=key).json() == data
    importer = {"X-API-Key": create_key(engine, "importer", ADMIN, "importer")}
    assert client.get(f"/contacts/{ANN}/export", headers=importer).status_code == 403
    assert client.delete(f"/contacts/{ANN}", headers=importer).status_code == 403
    gone = client.delete(f"/contacts/{ANN}", headers=key)
    assert gone.status_code == 200 and gone.json()["contacts"] == 1
    assert client.get(f"/contacts/{ANN}/export", headers=key).json()["suppressed"] is True


def test_erasing_needs_an_admin_and_an_email(engine):
    with pytest.raises(ImportConsoleError, match="not an email address"):
        erase(engine, "ann", ADMIN)
    from core.access import AccessRefused
    with pytest.raises(AccessRefused):
        importing.Service(engine).erase_person(ANN, IMPORTER)


def test_the_cli_erases_a_person(engine, database_url):
    importing.import_file(engine, csv_bytes(ann()), "first.csv", "CRM")
    said = cli("erase", ANN, database_url=database_url).stdout
    assert "erased" in said and ANN not in contacts(engine)


def _age(engine, days: int, table: str = "imports", stamps=("created_at", "completed_at")) -> None:
    """Move the rows' times back by days (row by row: Citus computes no time from a column in an UPDATE)."""
    from datetime import timedelta
    key = "token" if table == "drafts" else "id"
    with engine.begin() as conn:
        for row in conn.execute(sa.text(f"SELECT {key} AS key, {', '.join(stamps)} FROM {table}")).mappings().all():
            moved = {stamp: row[stamp] - timedelta(days=days) for stamp in stamps if row[stamp] is not None}
            if moved:
                conn.execute(sa.text(f"UPDATE {table} SET {', '.join(f'{s} = :{s}' for s in moved)} WHERE {key} = :key"),
                             {**moved, "key": row["key"]})


def test_the_sweep_deletes_values_past_their_periods_and_undo_says_what_it_cannot_restore(engine, database_url):
    first = importing.import_file(engine, csv_bytes(ann(company="Oldco-7731"), person(1, linkedin_profile="bad")),
                                  "a.csv", "CRM")
    second = importing.import_file(engine, csv_bytes(ann(company="New")), "b.csv", "CRM")
    from core.storage.retention import sweep
    assert sweep(engine).as_dict() == {"rejected_imports": 0, "rejected_rows": 0, "previous_imports": 0,
                                       "previous_links": 0}
    _age(engine, 91)
    swept = json.loads(cli("sweep", "--json", database_url=database_url,  # previous values kept longer
                           env={"CONTACT_IMPORT_KEEP_PREVIOUS_DAYS": "120"}).stdout)
    assert (swept["rejected_imports"], swept["rejected_rows"], swept["previous_imports"]) == (2, 1, 0)
    assert everywhere(engine, "person1@example.com") == []  # the rejected row's values
    errors = importing.Service(engine).import_errors(first.import_id)
    assert errors[["row", "column", "reason"]].values.tolist() == [[3, "linkedin_profile", REASON]]
    assert sweep(engine).as_dict()["previous_links"] == 1
    assert everywhere(engine, "oldco-7731") == []  # Ann's company before the second import
    result = undo_import(engine, second.import_id, ADMIN)
    assert result.restored == 0 and contacts(engine)[ANN]["company"] == "New"
    assert result.conflicts[["email", "field"]].values.tolist() == [[ANN, "company"]]
    assert "was deleted on" in result.conflicts["reason"].iloc[0]


def test_a_retention_period_must_be_a_positive_number(monkeypatch):
    from core.storage.retention import period
    monkeypatch.setenv("CONTACT_IMPORT_KEEP_REJECTED_DAYS", "ninety")
    with pytest.raises(ImportConsoleError, match="CONTACT_IMPORT_KEEP_REJECTED_DAYS='ninety'"):
        period("CONTACT_IMPORT_KEEP_REJECTED_DAYS")
    monkeypatch.setenv("CONTACT_IMPORT_KEEP_REJECTED_DAYS", "0.5")
    assert period("CONTACT_IMPORT_KEEP_REJECTED_DAYS").total_seconds() == 43_200


def test_a_committed_draft_keeps_only_its_row_past_the_drafts_period(engine):
    service = importing.Service(engine)
    wizard = importing.Wizard()
    wizard.choose_origin("Expo", campaign=None)
    wizard.open_file(service, csv_bytes(ann()), "draft.csv", ADMIN)
    wizard.confirm_mapping(service, wizard.draft.mapping)
    wizard.save(service)
    importing.drafts.settle(wizard.token)
    service.commit(wizard.draft)
    _age(engine, 2, "drafts", ("updated_at", "committed_at"))
    service.expire_drafts()
    assert everywhere(engine, "ann-erasable") == ["contacts.linkedin_profile"]
    assert isinstance(importing.drafts.load_draft(engine, wizard.token, ADMIN), importing.Committed)


def test_an_email_suppressed_between_the_review_and_the_commit_is_not_written(engine):
    service = importing.Service(engine)
    suppress(engine, [person(9)["email"]], ADMIN, "manual")
    draft = service.open_file(csv_bytes(ann(), person(1), person(9)), "late.csv", source="CRM")
    service.review(draft)
    assert importing.planned_counts(draft).suppressed == 1
    suppress(engine, [ANN], ADMIN, "manual")  # the list changed since the review: the commit checks again
    result = service.commit(draft)
    assert (result.inserted, result.suppressed) == (1, 2) and sorted(contacts(engine)) == [person(1)["email"]]


def test_an_api_answer_recorded_for_a_retry_names_no_suppressed_row(engine, client, key):
    suppress(engine, [ANN], ADMIN, "manual")
    body = [ann(timezone="Ann/Erasable"), person(1), person(2, email="bad")]
    answer = client.post("/contacts/bulk", params={"on_invalid": "skip"}, json=body,
                         headers={**key, "Idempotency-Key": "skip-ann"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["suppressed"], answer.json()["invalid"], answer.json()["created"]) == (1, 1, 1)
    assert "Erasable" not in answer.text and everywhere(engine, ANN) == [] and everywhere(engine, "erasable") == []
