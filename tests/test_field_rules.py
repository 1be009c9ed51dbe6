"""Per-field rules (issue 22): for each field, overwrite (a non-empty cell overwrites, an empty one
never erases: every import's rule before), fill (only an empty stored value is filled) or keep
(a stored value never changes). A new contact takes every value. The review shows what the rules
let through, the commit does exactly that, and undo gives every value back. Both servers."""
import json

import pytest

from core import importing
from core.errors import ImportConsoleError
from core.storage.history import get_import
from core.storage.undo import undo_import
from tests.helpers import ADMIN, contacts, csv_bytes, person
from tests.test_cli import cli

RULES = {"company": "fill", "locale": "keep", "metadata": "fill", "full_name": "overwrite"}


@pytest.fixture
def stored(engine):
    importing.import_file(engine, csv_bytes(
        person(1, company="Acme", locale="en", metadata='{"tier": "gold"}'),
        person(2, locale="de")), "stored.csv", "CRM")
    return engine


def _incoming() -> bytes:
    return csv_bytes(person(1, full_name="Ann New", company="Other", locale="fr", metadata='{"tier": "lead"}'),
                     person(2, company="Filled", locale="fr", metadata='{"tier": "new"}'),
                     person(3, company="Fresh", locale="es"))


def test_fill_fills_only_empty_values_keep_never_changes_and_a_new_contact_takes_every_value(stored):
    before = contacts(stored)
    _, review = importing.dry_run(stored, _incoming(), "f.csv", rules=RULES)
    assert (review.will_insert, review.will_update, review.unchanged) == (1, 2, 0)
    assert review.changes_by_field == {"full_name": 1, "company": 1, "metadata": 1}
    assert sorted(map(tuple, review.changes[["email", "field", "new"]].values.tolist())) == [
        (person(1)["email"], "full_name", "Ann New"), (person(2)["email"], "company", "Filled"),
        (person(2)["email"], "metadata", '{"tier": "new"}')]
    result = importing.import_file(stored, _incoming(), "f.csv", "CRM", rules=RULES)
    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 0)
    after = contacts(stored)
    one, two, three = (after[person(n)["email"]] for n in (1, 2, 3))
    assert (one["full_name"], one["company"], one["locale"], one["metadata"]) == ("Ann New", "Acme", "en", {"tier": "gold"})
    assert (two["company"], two["locale"], two["metadata"]) == ("Filled", "de", {"tier": "new"})
    assert (three["company"], three["locale"]) == ("Fresh", "es")
    assert get_import(stored, result.import_id)["rules"] == {"company": "fill", "locale": "keep", "metadata": "fill"}
    undo_import(stored, result.import_id, actor=ADMIN)
    assert {email: {k: v for k, v in row.items() if k != "updated_at"} for email, row in contacts(stored).items()} == {
        email: {k: v for k, v in row.items() if k != "updated_at"} for email, row in before.items()}


def test_keep_on_every_field_links_the_stored_contacts_unchanged(stored):
    keep_all = dict.fromkeys(("full_name", "linkedin_profile", "company", "locale", "timezone", "metadata"), "keep")
    result = importing.import_file(stored, _incoming(), "f.csv", "CRM", rules=keep_all)
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, 2)


def test_every_batch_of_an_api_import_follows_its_rules(stored):
    import_id = importing.create_api_import(stored, "sync", None, ADMIN, rules={"locale": "keep"})
    first, _ = importing.add_contacts(stored, import_id, csv_bytes(person(2, locale="fr", company="B1")), "b1.csv",
                                      actor=ADMIN)
    assert first.updated == 1
    assert (contacts(stored)[person(2)["email"]]["locale"], contacts(stored)[person(2)["email"]]["company"]) == ("de", "B1")


def test_a_rule_for_an_unknown_field_or_an_unknown_rule_is_refused(engine):
    with pytest.raises(ImportConsoleError, match="takes no rule"):
        importing.import_file(engine, csv_bytes(person(1)), "f.csv", "CRM", rules={"email": "keep"})
    with pytest.raises(ImportConsoleError, match="overwrite"):
        importing.import_file(engine, csv_bytes(person(1)), "f.csv", "CRM", rules={"company": "merge"})


@pytest.fixture
def key(engine) -> dict:
    from core.access.keys import create_key
    return {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN, "admin")}


def test_the_api_takes_rules_with_the_import_and_refuses_unknown_ones(client, stored, key):
    made = client.post("/imports/", json={"source": "sync", "rules": {"company": "keep"}}, headers=key)
    assert made.status_code == 201 and made.json()["rules"] == {"company": "keep"}
    headers = {**key, "X-Import-ID": made.json()["id"]}
    batch = client.post("/contacts/bulk", json=[person(1, company="Changed", full_name="Ann B")], headers=headers)
    assert batch.status_code == 201 and batch.json()["updated"] == 1
    assert (contacts(stored)[person(1)["email"]]["company"], contacts(stored)[person(1)["email"]]["full_name"]) == (
        "Acme", "Ann B")
    assert client.post("/imports/", json={"source": "s", "rules": {"company": "merge"}}, headers=key).status_code == 422
    assert client.post("/imports/", json={"source": "s", "rules": {"email": "keep"}}, headers=key).status_code == 422


def test_the_cli_takes_a_rule_per_field(stored, database_url, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(_incoming())
    dry = json.loads(cli("import", path, "--source", "csv", "--rule", "company=fill", "--rule", "locale=keep",
                         "--rule", "metadata=keep", "--dry-run", "--json", database_url=database_url).stdout)
    assert dry["changes"] == {"full_name": 1, "company": 1}
    cli("import", path, "--source", "csv", "--rule", "company=keep", "--rule", "locale=keep", database_url=database_url)
    assert contacts(stored)[person(2)["email"]]["company"] is None
    wrong = cli("import", path, "--source", "csv", "--rule", "company", database_url=database_url, check=False)
    assert wrong.returncode == 2 and "FIELD=RULE" in wrong.stderr


def test_a_retry_of_a_failed_import_starts_from_its_rules_and_commits_with_those_its_review_showed(stored):
    from core.storage.records import create_import, mark_failed
    import_id = create_import(stored, "CRM", "f.csv", rules={"company": "keep"})
    mark_failed(stored, import_id, "the server went away")
    draft = importing.open_retry(stored, import_id, _incoming(), "f.csv")
    assert draft.rules == {"company": "keep"}
    importing.confirm_mapping(stored, draft, draft.mapping, rules={"company": "fill"})
    importing.validate_draft(draft)
    assert importing.review(stored, draft).changes_by_field.get("company") == 1  # person 2's empty company
    result = importing.commit(stored, draft)
    assert result.import_id == import_id and get_import(stored, import_id)["rules"] == {"company": "fill"}
    assert contacts(stored)[person(2)["email"]]["company"] == "Filled"
