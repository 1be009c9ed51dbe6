"""Import modes (issue 22): create and update (upsert, the default), create only (stored contacts
are left as they are, counted "already there"), update only (emails not stored are left out,
counted "not found"). The mode belongs to the import: every batch follows it. Runs on both
servers."""
import pytest

from core import importing
from core.errors import ImportConsoleError
from core.storage.history import get_import
from core.storage.undo import undo_import
from tests.helpers import ADMIN, contacts, csv_bytes, links, person

STORED = (person(1, company="Old"), person(2, company="Old"))
FILE = csv_bytes(person(1, company="New"), person(2, company="Old"), person(3, company="New"),
                 person(4, email="bad"), person(5, company="New"))


@pytest.fixture
def stored(engine):
    importing.import_file(engine, csv_bytes(*STORED), "stored.csv", "CRM")
    return engine


def _emails(*numbers: int) -> list[str]:
    return [person(n)["email"] for n in numbers]


def test_create_only_inserts_the_new_emails_and_leaves_the_stored_ones_as_they_were(stored):
    before = contacts(stored)
    draft, review = importing.dry_run(stored, FILE, "f.csv", mode="create")
    assert (review.will_insert, review.will_update, review.unchanged, review.already_there) == (2, 0, 0, 2)
    assert review.changes.empty and review.changes_by_field == {}
    result = importing.import_file(stored, FILE, "f.csv", "CRM", mode="create")
    assert (result.inserted, result.updated, result.unchanged, result.already_there, result.not_found,
            result.total_rows) == (2, 0, 0, 2, 0, 2)
    assert result.counts.adds_up and result.counts.rows == 5
    after = contacts(stored)
    assert {email: after[email] for email in _emails(1, 2)} == {email: before[email] for email in _emails(1, 2)}
    assert [link["email"] for link in links(stored, result.import_id)] == _emails(3, 5)
    record = get_import(stored, result.import_id)
    assert (record["mode"], record["already_there"], record["not_found"], record["inserted"]) == ("create", 2, 0, 2)


def test_update_only_changes_the_stored_contacts_and_leaves_the_new_emails_out(stored):
    draft, review = importing.dry_run(stored, FILE, "f.csv", mode="update")
    assert (review.will_insert, review.will_update, review.unchanged, review.not_found) == (0, 1, 1, 2)
    result = importing.import_file(stored, FILE, "f.csv", "CRM", mode="update")
    assert (result.inserted, result.updated, result.unchanged, result.already_there, result.not_found,
            result.total_rows) == (0, 1, 1, 0, 2, 2)
    assert result.counts.adds_up
    assert sorted(contacts(stored)) == _emails(1, 2)
    assert contacts(stored)[person(1)["email"]]["company"] == "New"
    assert get_import(stored, result.import_id)["not_found"] == 2
    undo_import(stored, result.import_id, actor=ADMIN)
    assert contacts(stored)[person(1)["email"]]["company"] == "Old"


def test_the_default_mode_creates_and_updates_as_every_import_did(stored):
    result = importing.import_file(stored, FILE, "f.csv", "CRM")
    assert (result.inserted, result.updated, result.unchanged, result.already_there, result.not_found) == (2, 1, 1, 0, 0)
    assert get_import(stored, result.import_id)["mode"] == "upsert"


def test_every_batch_of_an_api_import_follows_its_mode_and_cannot_change_it(stored):
    import_id = importing.create_api_import(stored, "sync", None, ADMIN, mode="update")
    first, _ = importing.add_contacts(stored, import_id, csv_bytes(person(1, company="Batch"), person(7)), "b1.csv",
                                      actor=ADMIN)
    second, _ = importing.add_contacts(stored, import_id, csv_bytes(person(8), person(2, company="Batch")), "b2.csv",
                                       actor=ADMIN, mode="update")
    assert (first.updated, first.not_found, second.updated, second.not_found) == (1, 1, 1, 1)
    with pytest.raises(ImportConsoleError, match="update only"):
        importing.add_contacts(stored, import_id, csv_bytes(person(9)), "b3.csv", actor=ADMIN, mode="create")
    importing.complete(stored, import_id, actor=ADMIN)
    record = get_import(stored, import_id)
    assert (record["file_rows"], record["updated"], record["not_found"], record["duplicates"], record["total_rows"]) == (
        4, 2, 2, 0, 2)
    assert sorted(contacts(stored)) == _emails(1, 2)


def test_an_unknown_mode_is_refused_with_the_modes_named(engine):
    with pytest.raises(ImportConsoleError, match="upsert, create, update"):
        importing.import_file(engine, csv_bytes(person(1)), "f.csv", "CRM", mode="merge")


@pytest.fixture
def key(engine) -> dict:
    from core.access.keys import create_key
    return {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN, "admin")}


def test_the_api_makes_an_import_in_a_mode_and_holds_every_batch_to_it(client, stored, key):
    made = client.post("/imports/", json={"source": "sync", "mode": "create"}, headers=key)
    assert made.status_code == 201 and made.json()["mode"] == "create"
    headers = {**key, "X-Import-ID": made.json()["id"]}
    batch = client.post("/contacts/bulk", json=[person(1, company="New"), person(6)], headers=headers).json()
    assert (batch["created"], batch["already_there"], batch["not_found"], batch["inserted"]) == (1, 1, 0, 1)
    refused = client.post("/contacts/bulk", params={"mode": "update"}, json=[person(7)], headers=headers)
    assert refused.status_code == 400 and "mode create" in refused.json()["detail"]
    assert client.put(f"/imports/{made.json()['id']}", json={"status": "completed"}, headers=key).status_code == 200
    record = client.get(f"/imports/{made.json()['id']}", headers=key).json()
    assert (record["mode"], record["already_there"], record["inserted"], record["total_rows"]) == ("create", 1, 1, 1)
    assert contacts(stored)[person(1)["email"]]["company"] == "Old"


def test_a_one_shot_bulk_takes_its_mode_as_a_query_parameter(client, stored, key):
    answer = client.post("/contacts/bulk", params={"mode": "update"}, json=[person(1, company="New"), person(8)],
                         headers=key)
    assert answer.status_code == 201
    assert (answer.json()["updated"], answer.json()["not_found"], answer.json()["created"]) == (1, 1, 0)
    assert sorted(contacts(stored)) == _emails(1, 2)
    wrong = client.post("/contacts/bulk", params={"mode": "merge"}, json=[person(9)], headers=key)
    assert wrong.status_code == 422 and "upsert" in str(wrong.json())
    assert client.post("/imports/", json={"source": "s", "mode": "merge"}, headers=key).status_code == 422


def test_a_draft_resumed_from_its_link_keeps_its_mode_and_commits_in_it(stored):
    service = importing.Service(stored)
    wizard = importing.Wizard()
    wizard.choose_origin("Expo", campaign=None, mode="create")
    wizard.open_file(service, FILE, "people.csv", ADMIN)
    wizard.confirm_mapping(service, wizard.draft.mapping)
    wizard.save(service)
    importing.drafts.settle(wizard.token)
    resumed = importing.Wizard().resumed(service, wizard.token, ADMIN)
    assert (resumed.mode, resumed.draft.mode, resumed.draft.review.already_there) == ("create", "create", 2)
    result = service.commit(resumed.draft)
    assert (result.inserted, result.already_there) == (2, 2)
    assert get_import(stored, result.import_id)["mode"] == "create"
