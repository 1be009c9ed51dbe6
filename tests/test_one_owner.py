"""One owner per import (issue 19): a draft and the import it becomes are one object with one id,
each change of it happens once whichever door moves it, and every door counts it the same way."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from core.rows import counts
from core.importing import drafts
from core import importing
from core.access.keys import create_key
from core.errors import AlreadyCommitted
from core.storage.records import create_import
from core.storage.history import get_import
from core.storage.records import abandon_stale_imports
from tests.conftest import DATA
from tests.helpers import ADMIN, IMPORTER, count, csv_bytes, person



def commits_recorded(engine) -> int:
    """The audit trail's commits of the imports there are now (the trail outlives other tests' imports)."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'committed' "
                                    "AND import_id IN (SELECT id FROM imports)")).scalar_one()


def kept_draft(engine, data: bytes, name: str = "people.csv") -> str:
    """A draft kept on the server, as the console keeps it; returns its token."""
    draft = importing.open_file(engine, data, name, source="Expo", actor=IMPORTER)
    importing.validate_draft(draft)
    token = drafts.new_token()
    drafts.save_draft(engine, token, draft, {"step": "commit", "source": "Expo"})
    draft.release()
    return token


def open_tab(engine, token: str) -> importing.Draft:
    """What a tab (or another console server) opening the draft's link holds."""
    draft, _ = drafts.load_draft(engine, token, IMPORTER)
    importing.validate_draft(draft)
    return draft


def test_two_tabs_committing_one_draft_make_one_import_fifty_times_out_of_fifty(engine):
    outcomes = []
    for attempt in range(50):
        token = kept_draft(engine, csv_bytes(person(attempt), person(attempt + 1000)))
        tabs = [open_tab(engine, token), open_tab(engine, token)]
        start = threading.Barrier(2)

        def commit(tab: importing.Draft) -> str:
            start.wait()
            try:
                return importing.commit(engine, tab).status
            except AlreadyCommitted:
                return "already committed"
        with ThreadPoolExecutor(2) as pool:
            outcomes.append(sorted(pool.map(commit, tabs)))
    assert outcomes == [["already committed", "completed"]] * 50
    assert count(engine, "imports") == 50 and count(engine, "contacts") == 100
    assert commits_recorded(engine) == 50


def test_a_committed_drafts_link_leads_to_its_import_and_never_to_a_second_one(engine):
    token = kept_draft(engine, csv_bytes(person(1)))
    tab = open_tab(engine, token)
    result = importing.commit(engine, tab)
    assert drafts.load_draft(engine, token, IMPORTER) == drafts.Committed(result.import_id, "people.csv")
    with pytest.raises(AlreadyCommitted):  # the tab that committed, clicking again
        importing.commit(engine, tab)
    assert count(engine, "imports") == 1 and count(engine, "draft_files") == 0


def test_a_retry_from_two_tabs_completes_the_failed_import_once(engine):
    failed = create_import(engine, "Expo", "people.csv", "ivy@example.com")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET status = 'failed', error = 'x' WHERE id = :i"), {"i": failed})
    tabs = [importing.open_retry(engine, failed, csv_bytes(person(1)), "people.csv", actor=IMPORTER)
            for _ in range(2)]
    assert importing.commit(engine, tabs[0]).import_id == failed
    with pytest.raises(AlreadyCommitted):
        importing.commit(engine, tabs[1])
    assert get_import(engine, failed)["status"] == "completed" and count(engine, "imports") == 1


def test_fixes_held_in_the_grid_belong_to_the_draft_at_once(engine):
    data = csv_bytes(person(1), person(2, email="not-an-email"), person(3, email="nope"))
    draft = importing.open_file(engine, data, "people.csv", source="Expo", actor=IMPORTER)
    importing.validate_draft(draft)
    grid = importing.rows_to_fix(draft)
    assert grid["email"].tolist() == ["not-an-email", "nope"]
    waiting = importing.hold_edits(draft, grid.assign(email=["p2@x.io", "nope"]))
    assert waiting == 1 and importing.rows_to_fix(draft)["email"].tolist() == ["p2@x.io", "nope"]
    token = drafts.new_token()
    drafts.save_draft(engine, token, draft, {"step": "review"})

    # Another tab or server: the fix is there, in the grid, before anything validated it...
    other, _ = drafts.load_draft(engine, token, IMPORTER)
    assert importing.rows_to_fix(other)["email"].tolist() == ["p2@x.io", "nope"]
    # ...and whatever moves the draft on validates it first: the commit writes the fixed row.
    result = importing.commit(engine, other)
    assert (result.inserted, result.invalid) == (2, 1)
    assert importing.hold_edits(draft, grid) == 0  # a cell edited back to what it was waits no more


def test_fixes_made_under_another_mapping_are_dropped_not_misapplied(engine):
    data = b"Name,Mail,Other,Profile\nAnn,bad,ann@x.io,https://linkedin.com/in/ann\n"
    draft = importing.open_file(engine, data, "people.csv", source="Expo", actor=IMPORTER)
    importing.validate_draft(draft)
    importing.hold_edits(draft, importing.rows_to_fix(draft).assign(full_name="Ann Lee"))
    importing.confirm_mapping(None, draft, {**draft.mapping, "email": ["Other"]})
    report = importing.validate_draft(draft)
    assert report.valid["full_name"].tolist() == ["Ann"] and draft.pending is None


HUBSPOT = (DATA / "corpus" / "hubspot_contacts.csv").read_bytes()


def test_one_import_has_one_set_of_counts_in_the_service_history_cli_and_api(engine, client):
    importing.import_file(engine, HUBSPOT, "hubspot.csv", "HubSpot")
    draft = importing.open_file(engine, HUBSPOT, "hubspot.csv", source="HubSpot")
    importing.validate_draft(draft)
    importing.review(engine, draft)
    planned = importing.planned_counts(draft)
    result = importing.commit(engine, draft)
    done = result.counts
    assert done == planned and done.adds_up  # the review said what the commit did
    assert counts.of_record(get_import(engine, result.import_id)) == done  # History
    key = {"X-API-Key": create_key(engine, "ops", ADMIN, "admin")}
    record = client.get(f"/imports/{result.import_id}", headers=key).json()
    assert {name: record[name] for name in ("inserted", "updated", "unchanged", "total_rows")} == {
        "inserted": done.inserted, "updated": done.updated, "unchanged": done.unchanged,
        "total_rows": done.total_rows}


def test_the_reviews_valid_count_is_the_clis(engine, tmp_path):
    rows = [person(n) for n in range(30)] + [person(n, company="later") for n in range(5)]
    rows += [person(100 + n, email=f"bad{n}") for n in range(4)]
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_bytes(*rows))
    from tests.test_cli import cli
    said = json.loads(cli("validate", path, "--json").stdout)
    draft = importing.open_file(None, path, source="x")
    planned = importing.planned_counts(draft)
    assert (said["rows"], said["valid"], said["invalid"], said["duplicates"]) == (
        planned.rows, planned.valid, planned.invalid, planned.duplicates) == (39, 30, 4, 5)


@pytest.fixture
def keys(engine) -> dict:
    return {name: {"X-API-Key": create_key(engine, name, ADMIN, role)}
            for name, role in (("sync a", "importer"), ("sync b", "importer"), ("ops", "admin"))}


def batch(client, key, import_id, *rows):
    return client.post("/contacts/bulk", json=list(rows), headers={**key, "X-Import-ID": import_id})


def test_an_import_filled_in_batches_counts_a_contact_once(client, keys, engine):
    import_id = client.post("/imports/", json={"source": "CRM"}, headers=keys["sync a"]).json()["id"]
    assert batch(client, keys["sync a"], import_id, person(1), person(2), person(3)).status_code == 201
    second = batch(client, keys["sync a"], import_id, person(2, company="Acme"), person(3), person(4))
    assert (second.status_code, second.json()["inserted"]) == (201, 3)  # the seed's: contacts upserted
    assert client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 4},
                      headers=keys["sync a"]).status_code == 200
    stored = counts.of_record(get_import(engine, import_id))
    assert (stored.rows, stored.duplicates, stored.inserted, stored.updated, stored.unchanged) == (6, 2, 4, 0, 0)
    assert stored.adds_up and stored.total_rows == 4


def test_an_api_import_is_its_creators_and_an_admins_only(client, keys, engine):
    import_id = client.post("/imports/", json={"source": "CRM"}, headers=keys["sync a"]).json()["id"]
    refused = batch(client, keys["sync b"], import_id, person(1))
    assert refused.status_code == 403 and "belongs to sync a" in refused.json()["detail"]
    completing = client.put(f"/imports/{import_id}", json={"status": "completed"}, headers=keys["sync b"])
    assert completing.status_code == 403 and count(engine, "contacts") == 0
    assert get_import(engine, import_id)["status"] == "processing"
    assert batch(client, keys["ops"], import_id, person(1)).status_code == 201  # an admin may
    assert batch(client, keys["sync a"], import_id, person(2)).status_code == 201
    assert client.put(f"/imports/{import_id}", json={"status": "completed"}, headers=keys["sync a"]).status_code == 200
    with engine.connect() as conn:
        refusals = conn.execute(sa.text("SELECT actor FROM audit_log WHERE action = 'refused' AND import_id = :i"),
                                {"i": import_id}).scalars().all()
    assert refusals == ["sync b"]


def test_completing_one_import_from_two_requests_at_once_completes_it_once(client, keys, engine):
    for attempt in range(50):
        import_id = client.post("/imports/", json={"source": "CRM"}, headers=keys["sync a"]).json()["id"]
        assert batch(client, keys["sync a"], import_id, person(attempt)).status_code == 201
        start = threading.Barrier(2)

        def complete(_) -> int:
            start.wait()
            return client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 1},
                              headers=keys["sync a"]).status_code
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(complete, range(2))) == [200, 200]
    assert (count(engine, "imports"), commits_recorded(engine)) == (50, 50)


def age(engine, import_id: str, days: int = 2) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET created_at = now() - make_interval(days => :d) WHERE id = :i"),
                     {"d": days, "i": import_id})


def test_the_sweep_completes_an_abandoned_api_import_that_holds_contacts(client, keys, engine):
    holding = client.post("/imports/", json={"source": "CRM"}, headers=keys["sync a"]).json()["id"]
    batch(client, keys["sync a"], holding, person(1), person(2))
    empty = client.post("/imports/", json={"source": "CRM"}, headers=keys["sync a"]).json()["id"]
    age(engine, holding)
    age(engine, empty)
    assert abandon_stale_imports(engine) == [empty]
    kept = get_import(engine, holding)
    assert (kept["status"], kept["error"], kept["total_rows"], kept["inserted"]) == ("completed", None, 2, 2)
    assert client.post(f"/imports/{holding}/undo", headers=keys["ops"]).json()["deleted"] == 2
    gone = get_import(engine, empty)
    assert gone["status"] == "failed" and "nothing of it was saved" in gone["error"]
    refused = client.put(f"/imports/{empty}", json={"status": "completed"}, headers=keys["sync a"])
    assert refused.status_code == 409 and get_import(engine, empty)["status"] == "failed"
