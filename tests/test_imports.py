"""Integration tests of the import service on real PostgreSQL."""
import json
import threading

import pytest
import sqlalchemy as sa

from core.storage.campaigns import attach_to_campaign, create_campaign, list_campaigns
from core.storage.commit import commit_import
from core.errors import CommitFailed, ImportNotFound, StatusChangeRefused
from core.storage.history import get_import, import_contacts, import_errors, list_imports
from core.importing import import_file
from core.storage.review import review_commit
from core.storage.records import create_import
from tests.helpers import ADMIN, prepare, refusing
from tests.helpers import contacts, count, csv_bytes, links, person



def run_import(engine, data: bytes, name: str = "contacts.csv", **kwargs):
    return import_file(engine, data, name, kwargs.pop("source", "test"), **kwargs)


def test_seed_csv_inserts_both_contacts_with_the_values_of_the_file(engine, seed_csv):
    result = run_import(engine, seed_csv, "seed.csv", source="csv")
    assert (result.status, result.inserted, result.updated, result.total_rows) == ("completed", 2, 0, 2)
    john = contacts(engine)["john@example.com"]
    assert {k: john[k] for k in ("full_name", "linkedin_profile", "company", "locale", "timezone", "metadata")} == {
        "full_name": "John Doe", "linkedin_profile": "https://linkedin.com/in/johndoe", "company": "Tech Corp",
        "locale": "en-US", "timezone": "America/New_York", "metadata": {"source": "csv"}}
    assert [(l["email"], l["action"], l["row_number"]) for l in links(engine, result.import_id)] == [
        ("john@example.com", "inserted", 2), ("jane@example.com", "inserted", 3)]
    stored = get_import(engine, result.import_id)
    assert (stored["status"], stored["total_rows"], stored["source"], stored["file_name"]) == (
        "completed", 2, "csv", "seed.csv")
    assert stored["completed_at"] is not None


def test_seed_json_array_imports_without_the_optional_fields(engine, seed_json):
    result = run_import(engine, seed_json, "seed.json")
    assert (result.inserted, result.total_rows) == (2, 2)
    bob = contacts(engine)["bob@startup.io"]
    assert (bob["full_name"], bob["company"], bob["locale"], bob["timezone"], bob["metadata"]) == (
        "Bob Johnson", "Startup Inc", None, None, {})


def test_reimporting_the_same_file_updates_instead_of_duplicating(engine, seed_csv):
    first = run_import(engine, seed_csv)
    second = run_import(engine, seed_csv)
    assert (second.inserted, second.updated, second.unchanged, second.total_rows) == (0, 0, 2, 2)
    assert count(engine, "contacts") == 2
    assert [l["action"] for l in links(engine, second.import_id)] == ["updated", "updated"]
    assert [l["previous"] for l in links(engine, second.import_id)] == [{}, {}]
    assert len(links(engine, first.import_id)) == 2


def test_emails_differing_in_case_and_spaces_are_one_contact(engine):
    run_import(engine, csv_bytes(person(1, email="Person1@Example.com")))
    result = run_import(engine, csv_bytes(person(1, email="  PERSON1@example.COM ")))
    assert result.unchanged == 1 and list(contacts(engine)) == ["person1@example.com"]


def test_an_empty_incoming_cell_never_erases_a_stored_value(engine):
    run_import(engine, csv_bytes(person(1, company="Acme", locale="fr", timezone="Europe/Paris")))
    result = run_import(engine, csv_bytes(person(1, full_name="Renamed")))
    stored = contacts(engine)["person1@example.com"]
    assert (stored["full_name"], stored["company"], stored["locale"], stored["timezone"]) == (
        "Renamed", "Acme", "fr", "Europe/Paris")
    assert links(engine, result.import_id)[0]["previous"] == {"full_name": "Person 1"}


def test_metadata_merges_key_by_key_and_incoming_keys_win(engine):
    run_import(engine, csv_bytes(person(1, metadata='{"source": "csv", "tier": 1}')))
    result = run_import(engine, csv_bytes(person(1, metadata='{"tier": 2, "owner": "kim"}')))
    assert contacts(engine)["person1@example.com"]["metadata"] == {"source": "csv", "tier": 2, "owner": "kim"}
    assert links(engine, result.import_id)[0]["previous"] == {"metadata": {"source": "csv", "tier": 1}}


def test_previous_records_exactly_the_changed_fields_including_former_nulls(engine):
    run_import(engine, csv_bytes(person(1, company="Acme")))
    result = run_import(engine, csv_bytes(person(1, company="Acme", locale="de", full_name="Person 1")))
    assert links(engine, result.import_id)[0]["previous"] == {"locale": None}


def test_previous_holds_the_stored_value_of_each_field_that_changes_and_nothing_else(engine):
    """changed_fields against its definition, over every kind of stored and incoming value: a
    text field changes when an incoming value other than NULL differs; metadata when the incoming
    keys laid over the stored object change it (nested values compare whole)."""
    texts = (None, "", "a", "b")
    objects = ('{}', '{"a": 1}', '{"a": {"x": 1}}', '{"a": {"x": 1, "y": 2}}', '{"b": [1]}')
    cases = [(text_field, stored, incoming, "{}", None) for text_field in range(5)
             for stored in texts for incoming in texts]
    cases += [(None, "a", None, stored, incoming) for stored in objects for incoming in (None, *objects)]
    names = ("full_name", "linkedin_profile", "company", "locale", "timezone")
    with engine.connect() as conn:
        for text_field, stored, incoming, stored_meta, incoming_meta in cases:
            values = {f"s_{name}": "s" for name in names} | {f"i_{name}": None for name in names}
            if text_field is not None:
                values |= {f"s_{names[text_field]}": stored, f"i_{names[text_field]}": incoming}
            previous = conn.execute(sa.text(
                "SELECT changed_fields(" + ", ".join(f":s_{n}, :i_{n}" for n in names)
                + ", CAST(:sm AS jsonb), CAST(:im AS jsonb))"), {**values, "sm": stored_meta, "im": incoming_meta}
            ).scalar_one()
            expected = {}
            if text_field is not None and incoming is not None and incoming != stored:
                expected[names[text_field]] = stored
            merged = json.loads(stored_meta) | json.loads(incoming_meta or "{}")
            if merged != json.loads(stored_meta):
                expected["metadata"] = json.loads(stored_meta)
            assert previous == expected, (text_field, stored, incoming, stored_meta, incoming_meta)
        both = conn.execute(sa.text(
            "SELECT changed_fields('Ann', 'Anne', NULL, NULL, 'Old', 'New', 'de', 'de', NULL, NULL, "
            "'{\"a\": 1}', '{\"a\": 2}')")).scalar_one()
        assert both == {"full_name": "Ann", "company": "Old", "metadata": {"a": 1}}


def test_updated_at_moves_only_when_something_changed(engine):
    run_import(engine, csv_bytes(person(1)))
    before = contacts(engine)["person1@example.com"]["updated_at"]
    run_import(engine, csv_bytes(person(1)))
    assert contacts(engine)["person1@example.com"]["updated_at"] == before
    run_import(engine, csv_bytes(person(1, company="New")))
    assert contacts(engine)["person1@example.com"]["updated_at"] > before


def test_invalid_and_superseded_rows_are_stored_as_import_errors_and_never_as_contacts(engine):
    data = csv_bytes(person(1), person(2, email="not-an-email"), person(3, company="Old"), person(3, company="New"))
    result = run_import(engine, data)
    assert (result.inserted, result.invalid, result.duplicates, result.total_rows) == (2, 1, 1, 2)
    assert sorted(contacts(engine)) == ["person1@example.com", "person3@example.com"]
    assert contacts(engine)["person3@example.com"]["company"] == "New"
    assert import_errors(engine, result.import_id).to_dict("records") == [
        {"row": 3, "column": "email", "reason": "is not a valid email address", "value": "not-an-email"},
        {"row": 4, "column": "email", "reason": "duplicate email in this file: row 5 is imported instead",
         "value": "person3@example.com"},
    ]
    stored = get_import(engine, result.import_id)
    assert (stored["invalid"], stored["duplicates"], stored["inserted"]) == (1, 1, 2)


def test_a_failure_after_staging_leaves_nothing_and_marks_the_import_failed(engine):
    run_import(engine, csv_bytes(person(1, company="Kept")))
    import_id = create_import(engine, "test", "boom.csv")
    report = prepare(csv_bytes(person(1, company="Changed"), person(2)), "boom.csv").report

    def explode(stage, done, total):
        if stage == "upserting":
            raise RuntimeError("disk full")
    with pytest.raises(CommitFailed, match="disk full"):
        commit_import(engine, import_id, report, on_progress=explode, actor=ADMIN)
    assert list(contacts(engine)) == ["person1@example.com"]
    assert contacts(engine)["person1@example.com"]["company"] == "Kept"
    assert links(engine, import_id) == [] and import_errors(engine, import_id).empty
    failed = get_import(engine, import_id)
    assert (failed["status"], failed["error"], failed["total_rows"]) == ("failed", "disk full", 0)


def test_a_database_error_inside_the_commit_rolls_everything_back(engine):
    import_id = create_import(engine, "test", "trigger.csv")
    report = prepare(csv_bytes(person(1), person(2, email="bad")), "trigger.csv").report
    with refusing(engine, "import_contacts", "INSERT", "link refused by test"), \
            pytest.raises(CommitFailed, match="link refused by test"):
        commit_import(engine, import_id, report, actor=ADMIN)
    assert count(engine, "contacts") == 0 and count(engine, "import_errors") == 0
    assert get_import(engine, import_id)["status"] == "failed"
    retried = commit_import(engine, import_id, report, actor=ADMIN)
    assert (retried.status, retried.inserted, retried.invalid) == ("completed", 1, 1)


def test_a_completed_import_cannot_be_committed_again(engine, seed_csv):
    result = run_import(engine, seed_csv)
    with pytest.raises(StatusChangeRefused, match="is completed; it cannot be committed again"):
        commit_import(engine, result.import_id, prepare(seed_csv, "seed.csv").report, actor=ADMIN)
    assert get_import(engine, result.import_id)["status"] == "completed"


def test_committing_an_unknown_import_is_a_clear_error(engine, seed_csv):
    with pytest.raises(ImportNotFound):
        commit_import(engine, "00000000-0000-0000-0000-000000000000", prepare(seed_csv, "s.csv").report, actor=ADMIN)
    with pytest.raises(ImportNotFound):
        get_import(engine, "not-a-uuid")


@pytest.mark.parametrize("merge_slice", [50_000, 64])
def test_concurrent_commits_with_overlapping_emails_both_succeed(engine, monkeypatch, merge_slice):
    monkeypatch.setattr("core.storage.commit.MERGE_SLICE", merge_slice)
    monkeypatch.setattr("core.storage.commit.MERGE_SLICES", (merge_slice, merge_slice))
    shared = [person(n) for n in range(0, 300)]
    files = [csv_bytes(*shared, *[person(n) for n in range(1000, 1200)]),
             csv_bytes(*reversed(shared), *[person(n) for n in range(2000, 2200)])]
    reports = [prepare(data, f"f{i}.csv").report for i, data in enumerate(files)]
    ids = [create_import(engine, "test", f"f{i}.csv") for i in range(2)]
    start, results, errors = threading.Barrier(2), {}, []

    def commit(i):
        start.wait()
        try:
            results[i] = commit_import(engine, ids[i], reports[i], actor=ADMIN)
        except Exception as error:  # collected: a thread's exception would be lost otherwise
            errors.append(error)
    threads = [threading.Thread(target=commit, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert count(engine, "contacts") == 700
    assert {r.total_rows for r in results.values()} == {500}
    assert sum(r.inserted for r in results.values()) == 700
    assert count(engine, "import_contacts") == 1000


def test_the_seeds_four_step_flow_end_to_end(engine, seed_csv):
    import_id = create_import(engine, "csv", "contacts.csv", created_by="kim")
    assert get_import(engine, import_id)["status"] == "processing"
    result = commit_import(engine, import_id, prepare(seed_csv, "contacts.csv").report, actor=ADMIN)
    assert result.total_rows == 2
    campaign = create_campaign(engine, "Q4 Outreach")
    attach_to_campaign(engine, import_id, campaign, ADMIN)
    attach_to_campaign(engine, import_id, campaign, ADMIN)  # idempotent
    stored = get_import(engine, import_id)
    assert (stored["status"], stored["total_rows"], stored["campaign"], stored["created_by"]) == (
        "completed", 2, "Q4 Outreach", "kim")
    assert count(engine, "campaign_imports") == 1
    assert create_campaign(engine, "q4 outreach") == campaign
    listed = list_campaigns(engine).to_dict("records")[0]
    assert (listed["name"], listed["imports"], listed["contacts"]) == ("Q4 Outreach", 1, 2)


def test_history_lists_newest_first_and_filters(engine, seed_csv, seed_json):
    first = run_import(engine, seed_csv, "seed.csv", source="HubSpot", campaign="Spring")
    second = run_import(engine, seed_json, "seed.json", source="Apollo")
    failed = create_import(engine, "Apollo", "later_100%.csv")
    assert list_imports(engine)["id"].tolist() == [failed, second.import_id, first.import_id]
    assert list_imports(engine, status="completed")["id"].tolist() == [second.import_id, first.import_id]
    assert list_imports(engine, source="HubSpot")["id"].tolist() == [first.import_id]
    campaign = create_campaign(engine, "Spring")
    assert list_imports(engine, campaign_id=campaign)["id"].tolist() == [first.import_id]
    assert list_imports(engine, search="JSON")["id"].tolist() == [second.import_id]
    assert list_imports(engine, search="100%")["id"].tolist() == [failed]


def test_import_contacts_are_paged_in_row_order(engine):
    result = run_import(engine, csv_bytes(*[person(n) for n in range(5)]))
    page = import_contacts(engine, result.import_id, limit=2, offset=2)
    assert page["row"].tolist() == [4, 5] and page["email"].tolist() == ["person2@example.com", "person3@example.com"]


def test_review_tells_inserts_updates_and_changed_fields_without_writing(engine):
    run_import(engine, csv_bytes(person(1, company="Acme", metadata='{"a": 1}')))
    report = prepare(csv_bytes(person(1, company="Beta", metadata='{"b": 2}'), person(2)), "p.csv").report
    preview = review_commit(engine, report)
    assert (preview.will_insert, preview.will_update, preview.unchanged) == (1, 1, 0)
    assert preview.changes_by_field == {"company": 1, "metadata": 1}
    assert preview.changes.to_dict("records") == [
        {"row": 2, "email": "person1@example.com", "field": "company", "old": "Acme", "new": "Beta"},
        {"row": 2, "email": "person1@example.com", "field": "metadata", "old": '{"a": 1}', "new": '{"a": 1, "b": 2}'},
    ]
    assert count(engine, "contacts") == 1


def test_slices_whose_every_email_is_new_skip_the_stored_contacts_and_write_the_same(engine, monkeypatch):
    # merge_import_stage reads no stored contact for a slice whose every row it inserted: here
    # the first two slices and the last (shorter) one; the third holds the stored emails.
    run_import(engine, csv_bytes(person(18, company="Old"), person(20, company="Old")), "stored.csv")
    before = contacts(engine)
    monkeypatch.setattr("core.storage.commit.MERGE_SLICE", 4)
    monkeypatch.setattr("core.storage.commit.MERGE_SLICES", (4, 4))
    rows = [person(n, company="New") for n in range(10, 23)]  # byte order is row order
    result = run_import(engine, csv_bytes(*rows), "new-then-stored.csv")
    assert (result.inserted, result.updated, result.unchanged) == (11, 2, 0)
    after = contacts(engine)
    assert len(after) == 13 and {c["company"] for c in after.values()} == {"New"}
    assert all(after[email]["id"] == contact["id"] for email, contact in before.items())
    written = links(engine, result.import_id)
    assert [(l["row_number"], l["action"], l["previous"]) for l in written] == [
        (n - 8, "updated" if n in (18, 20) else "inserted", {"company": "Old"} if n in (18, 20) else None)
        for n in range(10, 23)]


def test_a_commit_merged_slice_by_slice_writes_what_one_merge_would_and_says_how_far_it_is(engine, monkeypatch):
    # Issue 10, point 6: the merge runs MERGE_SLICE emails at a time so that progress moves; the
    # slices must not change what is written: new and stored emails mixed across slice borders,
    # updates, unchanged contacts, every link with its row.
    run_import(engine, csv_bytes(*[person(n, company="Old") for n in range(0, 40, 3)]), "stored.csv")
    before = contacts(engine)
    monkeypatch.setattr("core.storage.commit.MERGE_SLICE", 4)
    monkeypatch.setattr("core.storage.commit.MERGE_SLICES", (2, 8))
    seen = []
    rows = [person(n, company="Old" if n % 2 else "New") for n in range(40)]
    result = run_import(engine, csv_bytes(*rows), "sliced.csv",
                        on_progress=lambda stage, done, total: seen.append((stage, done, total)))
    stored = sum(1 for n in range(0, 40, 3))
    changed = sum(1 for n in range(0, 40, 3) if n % 2 == 0)
    assert (result.inserted, result.updated, result.unchanged) == (40 - stored, changed, stored - changed)
    after = contacts(engine)
    assert len(after) == 40 and all(after[r["email"]]["company"] == r["company"] for r in rows)
    assert all(after[email]["id"] == contact["id"] for email, contact in before.items())
    written = links(engine, result.import_id)
    assert [l["row_number"] for l in written] == list(range(2, 42))
    assert {l["email"]: l["previous"] for l in written if l["action"] == "updated" and l["previous"]} == {
        f"person{n}@example.com": {"company": "Old"} for n in range(0, 40, 3) if n % 2 == 0}
    merged = [done for stage, done, total in seen if stage == "upserting"]
    assert merged[0] == 0 and merged[-1] == 40 and len(merged) > 3 and merged == sorted(set(merged))


def test_a_re_import_writes_each_changed_contact_on_its_own_page(engine):
    # Half of each page of contacts stays free (sql/028): an update then writes the new version
    # beside the old one, heap-only, with no new entry in the four indexes. Every contact here
    # changes, the case that needs the most room (values of the same width: a longer one may not
    # fit beside the old, whatever the fillfactor).
    stored = [person(n, company=f"Old {n:03}", metadata='{"score": 1}') for n in range(400)]
    run_import(engine, csv_bytes(*stored), "stored.csv")
    pages_before = contact_pages(engine)
    changed = [person(n, company=f"New {n:03}", metadata='{"score": 2}') for n in range(400)]
    result = run_import(engine, csv_bytes(*changed), "changed.csv")
    assert result.updated == 400
    assert contact_pages(engine) == pages_before and len(set(pages_before.values())) > 1
    assert {c["company"] for c in contacts(engine).values()} == {f"New {n:03}" for n in range(400)}


def contact_pages(engine) -> dict[str, int]:
    """The heap page that holds each contact's current version."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT email, (ctid::text::point)[0]::int FROM contacts")).all())
