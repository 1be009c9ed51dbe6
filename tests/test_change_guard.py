"""The guard on large changes (issue 22): an import that would change more than a share of the
stored contacts and more than a number of them (all its batches together) is written only when its
caller repeats the number, or says "any". A refusal writes nothing. The console always guards; the
CLI and the API only when their setting is on. Both servers."""
import pytest

from core import importing
from core.errors import LargeChange
from core.storage.guard import ChangeGuard
from core.storage.history import get_import
from tests.helpers import ADMIN, contacts, csv_bytes, person
from tests.test_cli import cli

STORED = [person(n, company="Old") for n in range(1, 11)]   # 10 stored contacts
CHANGES_FIVE = csv_bytes(*[person(n, company="New") for n in range(1, 6)])


@pytest.fixture
def stored(engine):
    importing.import_file(engine, csv_bytes(*STORED), "stored.csv", "CRM")
    return engine


def _companies(engine) -> list[str]:
    return sorted(row["company"] for row in contacts(engine).values())


def test_a_large_change_unconfirmed_writes_nothing_and_fails_its_import_with_the_count(stored):
    guard = ChangeGuard(share=0.2, count=3, confirm_with="Confirm it.")
    with pytest.raises(LargeChange, match="would change 5 stored contacts of 10 \\(50%\\)") as refused:
        importing.import_file(stored, CHANGES_FIVE, "five.csv", "CRM", guard=guard)
    assert (refused.value.changed, refused.value.stored) == (5, 10)
    assert _companies(stored) == ["Old"] * 10
    failed = importing.list_imports(stored).iloc[0]
    assert failed.status == "failed" and "5 stored contacts" in failed.error
    for confirmed in (5, "any"):
        guard = ChangeGuard(share=0.2, count=3, confirmed=confirmed)
        assert importing.import_file(stored, CHANGES_FIVE, "five.csv", "CRM", guard=guard).updated == (5 if confirmed == 5 else 0)
    assert _companies(stored) == ["New"] * 5 + ["Old"] * 5


def test_a_change_under_either_bound_goes_through(stored):
    assert importing.import_file(stored, CHANGES_FIVE, "five.csv", "CRM", guard=ChangeGuard(share=0.6, count=3)).updated == 5
    more = csv_bytes(*[person(n, company="Newer") for n in range(1, 6)])
    assert importing.import_file(stored, more, "more.csv", "CRM", guard=ChangeGuard(share=0.2, count=5)).updated == 5


def test_a_wrong_number_confirms_nothing(stored):
    with pytest.raises(LargeChange):
        importing.import_file(stored, CHANGES_FIVE, "five.csv", "CRM", guard=ChangeGuard(0.2, 3, confirmed=4))


@pytest.fixture
def key(engine) -> dict:
    from core.access.keys import create_key
    return {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN, "admin")}


def test_the_api_guards_an_import_s_batches_together_when_its_setting_is_on(client, stored, key, monkeypatch):
    monkeypatch.setenv("CONTACT_IMPORT_GUARD_API", "on")
    monkeypatch.setenv("CONTACT_IMPORT_GUARD_COUNT", "3")
    import_id = client.post("/imports/", json={"source": "sync"}, headers=key).json()["id"]
    headers = {**key, "X-Import-ID": import_id}
    first = client.post("/contacts/bulk", json=[person(n, company="API") for n in (1, 2, 3)], headers=headers)
    assert first.status_code == 201 and first.json()["updated"] == 3
    second = client.post("/contacts/bulk", json=[person(n, company="API") for n in (4, 5)], headers=headers)
    assert second.status_code == 409 and (second.json()["changed"], second.json()["stored"]) == (5, 10)
    assert "confirm_changes" in second.json()["detail"] and _companies(stored).count("API") == 3
    again = client.post("/contacts/bulk", params={"confirm_changes": "5"}, json=[person(n, company="API") for n in (4, 5)],
                        headers=headers)
    assert again.status_code == 201 and get_import(stored, import_id)["status"] == "processing"
    assert _companies(stored).count("API") == 5
    assert client.post("/contacts/bulk", params={"confirm_changes": "lots"}, json=[person(9)],
                       headers=headers).status_code == 400


def test_the_api_answers_as_before_when_its_guard_is_off(client, stored, key):
    answer = client.post("/contacts/bulk", json=[person(n, company="API") for n in range(1, 11)], headers=key)
    assert answer.status_code == 201 and answer.json()["updated"] == 10


def test_the_cli_exits_2_naming_the_count_unless_it_is_repeated(stored, database_url, tmp_path):
    path = tmp_path / "five.csv"
    path.write_bytes(CHANGES_FIVE)
    env = {"CONTACT_IMPORT_GUARD_CLI": "on", "CONTACT_IMPORT_GUARD_COUNT": "3"}
    refused = cli("import", path, "--source", "csv", database_url=database_url, env=env, check=False)
    assert refused.returncode == 2 and "would change 5 stored contacts of 10" in refused.stderr
    assert "--confirm-changes" in refused.stderr and _companies(stored) == ["Old"] * 10
    cli("import", path, "--source", "csv", "--confirm-changes", "5", database_url=database_url, env=env)
    assert _companies(stored).count("New") == 5
