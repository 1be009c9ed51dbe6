"""The HTTP API through FastAPI's TestClient, on the test database (issue 11, first part:
authentication, imports, campaigns)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from api import contacts as contacts_routes
from core.storage import commit as commit_module
from core.access.keys import create_key, revoke_key
from core.storage.database import is_citus
from core.storage.history import get_import
from core.importing import import_file
from core.storage.records import abandon_stale_imports
from tests.helpers import ADMIN, csv_bytes, person, statements_sent



@pytest.fixture
def key(engine) -> dict:
    return {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN, "admin")}


def test_every_route_needs_a_key_and_says_the_same_for_unknown_and_revoked_ones(client, engine, key):
    create_key(engine, "old", ADMIN, "admin")  # a second key, revoked below with its own value
    answers = [client.get("/imports"), client.get("/imports", headers={"X-API-Key": "cic_nope"})]
    revoke_key(engine, "HubSpot sync", ADMIN)
    answers.append(client.get("/imports", headers=key))
    assert {a.status_code for a in answers} == {401}
    assert len({a.json()["detail"] for a in answers}) == 1
    assert all(a.headers["WWW-Authenticate"].startswith("ApiKey") for a in answers)
    for route in ("/imports/", "/campaigns", "/campaign-imports/x/imports"):
        assert client.post(route, json={}).status_code == 401


def test_a_key_s_last_use_is_recorded_to_the_minute_and_a_revoked_key_stops_at_once(client, engine, key):
    def last_used():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT last_used_at FROM api_keys WHERE name = 'HubSpot sync'")).scalar_one()
    assert last_used() is None
    assert client.get("/imports", headers=key).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/imports", headers=key).status_code == 200 and last_used() == first  # within the minute
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET last_used_at = last_used_at - interval '2 minutes'"))
    assert client.get("/imports", headers=key).status_code == 200 and last_used() > first - timedelta(minutes=2)
    revoke_key(engine, "HubSpot sync", ADMIN)
    assert client.get("/imports", headers=key).status_code == 401


def test_creating_an_import_is_the_seed_s_step_one(client, engine, key):
    answer = client.post("/imports/", json={"source": "HubSpot", "file_name": "contacts.csv"}, headers=key)
    assert answer.status_code == 201
    body = answer.json()
    assert body["importId"] == body["id"] and body["status"] == "processing"
    assert (body["source"], body["file_name"]) == ("HubSpot", "contacts.csv") and body["created_at"]
    stored = get_import(engine, body["id"])
    assert stored["created_by"] == "HubSpot sync"
    assert client.post("/imports/", json={"file_name": "x.csv"}, headers=key).status_code == 422
    assert client.post("/imports/", json={"source": "  "}, headers=key).status_code == 400


def test_imports_are_listed_paged_and_read_one_by_one(client, key):
    ids = [client.post("/imports/", json={"source": f"S{n}"}, headers=key).json()["id"] for n in range(3)]
    page = client.get("/imports", params={"limit": 2, "offset": 1, "status": "processing"}, headers=key).json()
    assert [i["id"] for i in page["items"]] == [ids[1], ids[0]] and page["limit"] == 2
    one = client.get(f"/imports/{ids[2]}", headers=key)
    assert one.status_code == 200 and one.json()["source"] == "S2" and one.json()["total_rows"] == 0
    assert client.get("/imports/00000000-0000-0000-0000-000000000000", headers=key).status_code == 404
    assert client.get("/imports/not-a-uuid", headers=key).status_code == 404
    assert client.get("/imports", params={"status": "done"}, headers=key).status_code == 422


def test_campaigns_are_idempotent_by_name_and_attach_all_imports_or_none(client, engine, key):
    first = client.post("/campaigns", json={"name": "Q4 Outreach"}, headers=key)
    again = client.post("/campaigns", json={"name": "q4 outreach"}, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    campaign = first.json()["id"]
    ids = [client.post("/imports/", json={"source": "S"}, headers=key).json()["id"] for _ in range(2)]
    unknown = "00000000-0000-0000-0000-000000000000"
    refused = client.post(f"/campaign-imports/{campaign}/imports", json={"import_ids": [ids[0], unknown]},
                          headers=key)
    assert refused.status_code == 404 and get_import(engine, ids[0])["campaign_id"] is None
    assert client.post(f"/campaign-imports/{unknown}/imports", json={"import_ids": ids},
                       headers=key).status_code == 404
    for _ in range(2):  # idempotent
        done = client.post(f"/campaign-imports/{campaign}/imports", json={"import_ids": ids}, headers=key)
        assert done.status_code == 200
    assert {get_import(engine, i)["campaign"] for i in ids} == {"Q4 Outreach"}
    listed = client.get("/campaigns", headers=key).json()
    assert [(c["name"], c["imports"]) for c in listed] == [("Q4 Outreach", 2)]


def test_an_import_the_api_created_waits_a_day_for_its_contacts_before_it_is_abandoned(client, engine, key):
    import_id = client.post("/imports/", json={"source": "S"}, headers=key).json()["id"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET created_at = now() - interval '1 hour' WHERE id = :i"),
                     {"i": import_id})
    assert abandon_stale_imports(engine) == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE imports SET created_at = now() - interval '2 days' WHERE id = :i"),
                     {"i": import_id})
    assert abandon_stale_imports(engine, older_than=timedelta(minutes=5)) == [import_id]
    assert "1440 minutes" in get_import(engine, import_id)["error"]


def test_the_openapi_schema_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/imports/", "/imports", "/imports/{import_id}", "/campaigns",
            "/campaign-imports/{campaign_id}/imports", "/contacts", "/imports/{import_id}/undo"} <= set(paths)


def test_contacts_are_listed_by_import_by_email_or_all(client, engine, key):
    first = import_file(engine, csv_bytes(person(1, metadata='{"tier": 1}'), person(2)), "a.csv", "s")
    import_file(engine, csv_bytes(person(3)), "b.csv", "s")
    by_import = client.get("/contacts", params={"import_id": first.import_id}, headers=key).json()["items"]
    assert [c["email"] for c in by_import] == ["person1@example.com", "person2@example.com"]
    assert by_import[0]["metadata"] == {"tier": 1}
    by_email = client.get("/contacts", params={"email": " Person3@Example.com "}, headers=key).json()["items"]
    assert [c["email"] for c in by_email] == ["person3@example.com"]
    page = client.get("/contacts", params={"limit": 2}, headers=key).json()
    assert len(page["items"]) == 2 and page["limit"] == 2
    assert client.get("/contacts", params={"import_id": "nope"}, headers=key).status_code == 404


def test_undo_reverts_a_completed_import_once(client, engine, key):
    result = import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "s")
    undone = client.post(f"/imports/{result.import_id}/undo", headers=key)
    assert undone.status_code == 200 and undone.json()["deleted"] == 2 and undone.json()["conflicts"] == []
    again = client.post(f"/imports/{result.import_id}/undo", headers=key)
    assert again.status_code == 409 and "reverted" in again.json()["detail"]
    assert client.post("/imports/00000000-0000-0000-0000-000000000000/undo", headers=key).status_code == 404


PEOPLE = [{"full_name": "Jane Smith", "email": "jane@techcorp.com", "linkedin_profile": "https://linkedin.com/in/janesmith",
           "company": "Tech Corp", "metadata": {"tier": 1}},
          {"full_name": "Bob Johnson", "email": "bob@startup.io", "linkedin_profile": "https://linkedin.com/in/bobjohnson",
           "company": "Startup Inc"}]


def _new_import(client, key) -> str:
    return client.post("/imports/", json={"source": "CRM", "file_name": "sync.json"}, headers=key).json()["id"]


def test_the_seed_s_four_steps_with_two_batches(client, engine, key):
    import_id = _new_import(client, key)
    headers = {**key, "X-Import-ID": import_id}
    first = client.post("/contacts/bulk", json=PEOPLE, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["inserted"], body["created"], body["updated"], body["status"]) == (2, 2, 0, "processing")
    assert sorted(d["email"] for d in body["details"]) == ["bob@startup.io", "jane@techcorp.com"]
    csv = b"Name,Email,LinkedIn URL,Company\nJane Smith,jane@techcorp.com,https://linkedin.com/in/janesmith,Tech Co\n" \
          b"Ann Lee,ann@lee.io,https://linkedin.com/in/annlee,Lee\n"
    second = client.post("/contacts/bulk", files={"file": ("more.csv", csv, "text/csv")}, headers=headers)
    assert second.status_code == 201 and (second.json()["created"], second.json()["updated"]) == (1, 1)
    refused = client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 4}, headers=key)
    assert refused.status_code == 409 and "4" in refused.json()["detail"] and "3" in refused.json()["detail"]
    campaign = client.post("/campaigns", json={"name": "Q4"}, headers=key).json()["id"]
    done = client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 3, "campaign_id": campaign},
                      headers=key)
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["campaign"] == "Q4"
    assert done.json()["total_rows"] == 3
    later = client.post("/contacts/bulk", json=PEOPLE, headers=headers)
    assert later.status_code == 409
    # one link per contact, the first batch's undo data kept: undo removes all three
    assert client.post(f"/imports/{import_id}/undo", headers=key).json()["deleted"] == 3


def test_invalid_rows_refuse_the_batch_unless_skipped(client, engine, key):
    import_id = _new_import(client, key)
    headers = {**key, "X-Import-ID": import_id}
    rows = PEOPLE + [{"full_name": "Bad", "email": "not-an-email", "linkedin_profile": "https://linkedin.com/in/bad"}]
    refused = client.post("/contacts/bulk", json=rows, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"]["errors"] == [{"row": 3, "column": "email", "reason": "is not a valid email address",
                                                   "value": "not-an-email"}]
    assert client.get("/contacts", params={"import_id": import_id}, headers=key).json()["items"] == []
    skipped = client.post("/contacts/bulk", params={"on_invalid": "skip"}, json=rows, headers=headers)
    assert skipped.status_code == 201 and skipped.json()["created"] == 2 and len(skipped.json()["errors"]) == 1
    assert get_import(engine, import_id)["invalid"] == 1


def test_bulk_errors_have_the_seed_s_shapes(client, key):
    import_id = _new_import(client, key)
    headers = {**key, "X-Import-ID": import_id}
    malformed = client.post("/contacts/bulk", content=b'[{"email": "a@b.io",}]',
                            headers={**headers, "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["detail"].startswith("Failed to parse CSV file:")
    assert "line 1, column" in malformed.json()["detail"]
    unknown = {**key, "X-Import-ID": "00000000-0000-0000-0000-000000000000"}
    assert client.post("/contacts/bulk", json=PEOPLE, headers=unknown).status_code == 404
    assert client.post("/contacts/bulk", content=b"x", headers={**headers, "Content-Type": "text/plain"}).status_code == 415
    assert client.post("/contacts/bulk", json=PEOPLE).status_code == 401


def test_contacts_without_an_import_id_are_still_tracked(client, engine, key):
    answer = client.post("/contacts/bulk", json=PEOPLE, headers=key)
    assert answer.status_code == 201 and "No X-Import-ID" in answer.json()["warning"]
    stored = get_import(engine, answer.json()["import_id"])
    assert (stored["status"], stored["total_rows"], stored["created_by"]) == ("completed", 2, "HubSpot sync")


def test_a_body_past_the_limit_is_413_and_a_failed_commit_500_with_the_import_failed(client, engine, key,
                                                                                    monkeypatch):
    import_id = _new_import(client, key)
    headers = {**key, "X-Import-ID": import_id}
    monkeypatch.setattr(contacts_routes, "MAX_FILE_BYTES", 100)
    assert client.post("/contacts/bulk", json=PEOPLE, headers=headers).status_code == 413
    assert client.post("/contacts/bulk", files={"file": ("big.csv", b"x" * 200)}, headers=headers).status_code == 413
    monkeypatch.undo()

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")
    monkeypatch.setattr(commit_module, "stage_rows", broken)
    failed = client.post("/contacts/bulk", json=PEOPLE, headers=headers)
    assert failed.status_code == 500 and failed.json() == {"detail": "Bulk operation failed: the disk is full"}
    assert get_import(engine, import_id)["status"] == "failed"


def test_nul_characters_are_refused_not_sent_to_postgresql(client, key):
    # Found by the Schemathesis run: PostgreSQL refuses NUL in text, which was a 500.
    assert client.get("/imports", params={"source": "\x00"}, headers=key).status_code == 400
    assert client.post("/imports/", json={"source": "a\x00b"}, headers=key).status_code == 400
    assert client.post("/campaigns", json={"name": "\x00"}, headers=key).status_code == 400
    assert client.get("/contacts", params={"offset": 2**63}, headers=key).status_code == 400


def test_undo_orders_imports_by_when_they_changed_contacts_not_by_when_they_completed(client, engine, key):
    # An API import writes its batch, a console import changes the same field after it, and only
    # then is the API import completed: undoing the console import gives the API's value back.
    import_file(engine, csv_bytes({**PEOPLE[0], "metadata": "", "company": "Original"}), "first.csv", "s")
    import_id = _new_import(client, key)
    batch = [{**PEOPLE[0], "company": "From the API"}]
    assert client.post("/contacts/bulk", json=batch, headers={**key, "X-Import-ID": import_id}).status_code == 201
    console = import_file(engine, csv_bytes({**PEOPLE[0], "metadata": "", "company": "From the console"}), "c.csv", "s")
    assert client.put(f"/imports/{import_id}", json={"status": "completed"}, headers=key).status_code == 200
    undone = client.post(f"/imports/{console.import_id}/undo", headers=key).json()
    assert undone["restored"] == 1 and undone["conflicts"] == []
    stored = client.get("/contacts", params={"email": "jane@techcorp.com"}, headers=key).json()["items"][0]
    assert stored["company"] == "From the API"


def test_a_page_of_imports_that_holds_finished_and_running_ones_is_answered_with_exact_types(client, key):
    """Issue 21, point 1: a page with a completed and a processing import answered 500 (a NULL
    completed_at became pandas NaT) and counts came back as floats."""
    done = client.post("/contacts/bulk", json=[person(1)], headers=key).json()["import_id"]
    running = _new_import(client, key)
    page = client.get("/imports", headers=key)
    assert page.status_code == 200
    items = {item["id"]: item for item in page.json()["items"]}
    assert items[running]["completed_at"] is None and items[done]["completed_at"] is not None
    assert items[done]["file_rows"] == 1 and type(items[done]["file_rows"]) is int
    assert items[running]["file_rows"] is None
    assert all(type(item["total_rows"]) is int for item in items.values())


def test_contacts_with_empty_optional_fields_are_listed_with_nulls(client, key):
    client.post("/contacts/bulk", json=[person(1), person(2, company="Acme", locale="en")], headers=key)
    listed = client.get("/contacts", headers=key)
    assert listed.status_code == 200
    by_email = {item["email"]: item for item in listed.json()["items"]}
    assert by_email["person1@example.com"]["company"] is None and by_email["person1@example.com"]["locale"] is None
    assert by_email["person2@example.com"]["company"] == "Acme"


def test_a_json_body_that_is_not_utf8_is_refused_not_stored_garbled(client, engine, key):
    """Issue 21, point 2: one stray byte made the whole body read as cp1252, and every accented
    name in it was stored garbled, with a 201."""
    body = ('[{"full_name": "Omar Müller", "email": "omar@example.com", '
            '"linkedin_profile": "https://linkedin.com/in/omar", "company": "Café').encode() + b"\xe9" + b'"}]'
    refused = client.post("/contacts/bulk", content=body, headers={**key, "Content-Type": "application/json"})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "not UTF-8" in detail and f"byte {body.index(bytes([0xe9])) + 1:,} (0xe9)" in detail
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 0
    accepted = client.post("/contacts/bulk", content=body.replace(b"\xe9", "é".encode()),
                           headers={**key, "Content-Type": "application/json"})
    assert accepted.status_code == 201
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT full_name, company FROM contacts")).one() == ("Omar Müller", "Caféé")


def test_an_import_id_sent_in_another_spelling_is_answered_in_its_own(client, key):
    """Issue 21, point 6: X-Import-ID was echoed back as sent (upper case, braces)."""
    import_id = _new_import(client, key)
    spelled = "{" + import_id.upper() + "}"
    added = client.post("/contacts/bulk", json=[person(1)], headers={**key, "X-Import-ID": spelled})
    assert added.status_code == 201 and added.json()["import_id"] == import_id
    client.put(f"/imports/{import_id}", json={"status": "completed"}, headers=key)
    undone = client.post(f"/imports/{spelled}/undo", headers=key)
    assert undone.status_code == 200 and undone.json()["import_id"] == import_id


def test_a_form_with_two_files_is_refused_rather_than_one_of_them_dropped(client, engine, key):
    """Issue 21, point 6: two `file` parts silently used the last."""
    files = [("file", ("a.csv", csv_bytes(person(1)), "text/csv")), ("file", ("b.csv", csv_bytes(person(2)), "text/csv"))]
    refused = client.post("/contacts/bulk", files=files, headers=key)
    assert refused.status_code == 400 and "2 fields named 'file'" in refused.json()["detail"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 0
    assert client.post("/contacts/bulk", files=files[:1], headers=key).status_code == 201


def test_a_number_too_long_for_python_is_a_row_error_not_a_refused_body(client, engine, key):
    """Issue 21, point 6: a 9,000-digit number in metadata answered 400 quoting Python's
    sys.set_int_max_str_digits(); it is a row whose extra fields cannot be stored."""
    body = ('[{"full_name": "Ann", "email": "ann@example.com", "linkedin_profile": "https://linkedin.com/in/ann", '
            '"metadata": {"n": ' + "9" * 9000 + '}}, {"full_name": "Bo", "email": "bo@example.com", '
            '"linkedin_profile": "https://linkedin.com/in/bo"}]').encode()
    headers = {**key, "Content-Type": "application/json"}
    refused = client.post("/contacts/bulk", content=body, headers=headers)
    assert refused.status_code == 422
    errors = refused.json()["detail"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(1, "metadata")]
    assert "number too large to store" in errors[0]["reason"] and "set_int_max_str_digits" not in refused.text
    skipped = client.post("/contacts/bulk", params={"on_invalid": "skip"}, content=body, headers=headers)
    assert skipped.status_code == 201 and skipped.json()["inserted"] == 1


def test_a_text_field_sent_as_a_number_or_an_object_is_a_row_error(client, engine, key):
    """Issue 21, point 6: {"full_name": 123} was stored as the name "123", an object as its JSON text."""
    def contact(n: int, **fields) -> dict:
        return {"full_name": f"P{n}", "email": f"p{n}@example.com", "linkedin_profile": f"https://linkedin.com/in/p{n}",
                **fields}
    body = [contact(1, full_name=123), contact(2, company={"name": "Acme"}), contact(3, locale=True),
            contact(4, timezone=["Europe/Paris"]), contact(5, metadata={"n": 5}, company=None)]
    refused = client.post("/contacts/bulk", json=body, headers=key)
    assert refused.status_code == 422
    errors = refused.json()["detail"]["errors"]
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [
        (1, "full_name", "123"), (2, "company", '{"name": "Acme"}'), (3, "locale", "true"),
        (4, "timezone", '["Europe/Paris"]')]
    assert all("not text in the JSON" in e["reason"] for e in errors)
    skipped = client.post("/contacts/bulk", params={"on_invalid": "skip"}, json=body, headers=key).json()
    assert (skipped["inserted"], skipped["invalid"]) == (1, 4)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT email, metadata FROM contacts")).all() == [("p5@example.com", {"n": 5})]
    one = client.post("/contacts/bulk", json=[contact(9, full_name=9)], headers=key)  # the 1-row path too
    assert one.status_code == 422 and one.json()["detail"]["errors"][0]["column"] == "full_name"


def _every_page(client, key, path: str, **params) -> list[list[dict]]:
    """Follow a list's `next` links from its first page to its last."""
    pages, answer = [], client.get(path, params=params, headers=key).json()
    while True:
        pages.append(answer["items"])
        if answer["next"] is None:
            assert answer["next_cursor"] is None
            return pages
        answer = client.get(answer["next"], headers=key).json()


def test_contacts_are_paged_by_cursor_each_once_in_a_stable_order(client, engine, key):
    first = import_file(engine, csv_bytes(*[person(n) for n in range(1, 8)]), "a.csv", "s")
    import_file(engine, csv_bytes(*[person(n) for n in range(5, 12)]), "b.csv", "s")  # 4 new, 3 updated
    everyone = _every_page(client, key, "/contacts", limit=3)
    assert [len(p) for p in everyone] == [3, 3, 3, 2]
    ids = [c["id"] for p in everyone for c in p]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 11  # newest first: ids are time-ordered
    by_import = _every_page(client, key, "/contacts", import_id=first.import_id, limit=2)
    emails = [c["email"] for p in by_import for c in p]
    assert emails == sorted(f"person{n}@example.com" for n in range(1, 8))
    last = client.get("/contacts", params={"import_id": first.import_id, "limit": 7}, headers=key).json()
    assert len(last["items"]) == 7 and last["next"] is None  # a full last page says so, not an empty one after it


def test_a_cursor_page_starts_where_the_last_ended_even_as_contacts_arrive(client, engine, key):
    import_file(engine, csv_bytes(*[person(n) for n in range(1, 5)]), "a.csv", "s")
    # one import's contacts are in the order its merge locked them: by email, on Citus by shard first
    everyone = [c["email"] for c in client.get("/contacts", headers=key).json()["items"]]
    one = client.get("/contacts", params={"limit": 2}, headers=key).json()
    import_file(engine, csv_bytes(person(20)), "b.csv", "s")  # newer: before the first page, not in the next
    two = client.get(one["next"], headers=key).json()
    assert [c["email"] for c in one["items"] + two["items"]] == everyone and len(everyone) == 4
    assert two["next"] is None


def test_imports_are_paged_by_cursor_through_equal_times(client, engine, key):
    ids = [client.post("/imports/", json={"source": f"S{n}"}, headers=key).json()["id"] for n in range(5)]
    with engine.begin() as conn:  # three made in the same instant: the id breaks the tie
        conn.execute(sa.text("UPDATE imports SET created_at = (SELECT created_at FROM imports WHERE id = :one) "
                             "WHERE id = ANY(:ids)"), {"one": ids[1], "ids": ids[1:4]})
    pages = _every_page(client, key, "/imports", limit=2, status="processing")
    listed = [i["id"] for p in pages for i in p]
    assert sorted(listed) == sorted(ids) and listed[:1] == [ids[4]] and listed[-1] == ids[0]
    assert listed[1:4] == sorted(ids[1:4], reverse=True)
    assert "status=processing" in client.get("/imports", params={"limit": 1, "status": "processing"},
                                             headers=key).json()["next"]


def test_paging_is_refused_with_a_pointer_to_the_cursor(client, engine, key):
    import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "s")
    deep = client.get("/contacts", params={"offset": 10_001}, headers=key)
    assert deep.status_code == 400 and "next_cursor" in deep.json()["detail"]
    assert client.get("/contacts", params={"offset": 10_000}, headers=key).status_code == 200
    cursor = client.get("/contacts", params={"limit": 1}, headers=key).json()["next_cursor"]
    assert client.get("/contacts", params={"cursor": cursor, "offset": 1}, headers=key).status_code == 400
    for wrong in ("nope", "e30", cursor[:-3], cursor + "x"):
        answer = client.get("/contacts", params={"cursor": wrong}, headers=key)
        assert answer.status_code == 400 and "cursor" in answer.json()["detail"], wrong
    # a cursor of one list is refused by another
    assert client.get("/imports", params={"cursor": cursor}, headers=key).status_code == 400
    import_id = client.get("/imports", headers=key).json()["items"][0]["id"]
    assert client.get("/contacts", params={"cursor": cursor, "import_id": import_id}, headers=key).status_code == 400


def test_a_deep_page_reads_no_more_than_its_rows(client, engine, key):
    """The cursor's page goes by index from its key: it reads its own rows, not those before it."""
    if is_citus(engine):
        pytest.skip("Citus plans the page on its workers: the coordinator's plan does not show the rows they read")
    import_file(engine, csv_bytes(*[person(n) for n in range(1, 2001)]), "a.csv", "s")
    page = client.get("/contacts", params={"offset": 1990, "limit": 5}, headers=key).json()
    with statements_sent(engine) as sent:
        answer = client.get(page["next"], headers=key).json()
    same = client.get("/contacts", params={"offset": 1995, "limit": 5}, headers=key).json()
    assert answer["items"] == same["items"] and len(same["items"]) == 5
    statement, parameters = next((s, p) for s, p in sent if "FROM contacts c" in s)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar_one()
    assert max(_rows_of_each_step(plan[0]["Plan"])) <= 6  # the page and the one that says more follow


def _rows_of_each_step(node: dict):
    yield node["Actual Rows"] * node.get("Actual Loops", 1)
    for child in node.get("Plans", []):
        yield from _rows_of_each_step(child)


def test_a_body_past_the_limit_is_refused_and_a_chunked_one_cut_where_it_passes(client, engine, key, monkeypatch):
    """Issue 21, point 3: a 330 MB upload was read and spooled to its end before the 413."""
    from api import limits
    monkeypatch.setattr(limits, "MAX_BODY_BYTES", 2000)
    said = client.post("/contacts/bulk", content=b"[" + b" " * 3000 + b"]",
                       headers={**key, "Content-Type": "application/json"})
    assert said.status_code == 413 and "more than" in said.json()["detail"]
    chunks = iter([b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n",
                   csv_bytes(*[person(n) for n in range(1, 40)]), b"\r\n--b--\r\n"])
    cut = client.post("/contacts/bulk", content=chunks,  # an iterator: sent chunked, with no Content-Length
                      headers={**key, "Content-Type": "multipart/form-data; boundary=b"})
    assert cut.status_code == 413
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 0


def test_a_key_has_a_bounded_number_of_requests_in_progress(client, engine, key, monkeypatch):
    """Issue 21, point 3: past its slots a key is answered 429 with Retry-After; other keys are not."""
    from api import limits
    monkeypatch.setattr(limits.SLOTS, "limit", 2)
    other = {"X-API-Key": create_key(engine, "Salesforce sync", ADMIN, "importer")}
    with limits.SLOTS.held("api:HubSpot sync"), limits.SLOTS.held("api:HubSpot sync"):
        busy = client.get("/imports", headers=key)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "2 requests in progress" in busy.json()["detail"]
        assert client.get("/imports", headers=other).status_code == 200
    assert client.get("/imports", headers=key).status_code == 200
    assert limits.SLOTS._held == {}  # every answered request gave its slot back


def test_an_import_a_one_shot_bulk_call_made_is_its_caller_s(client, engine, key):
    """Found by the stateful run: a bulk call without X-Import-ID made an import any key could act on."""
    other = {"X-API-Key": create_key(engine, "Salesforce sync", ADMIN, "importer")}
    for rows in ([person_json(1)], [person_json(2), {"email": "bad"}]):  # the clean path and the general one
        made = client.post("/contacts/bulk", json=rows, params={"on_invalid": "skip"}, headers=key).json()
        refused = client.put(f"/imports/{made['import_id']}", json={"status": "completed"}, headers=other)
        assert refused.status_code == 403 and "HubSpot sync" in refused.json()["detail"]
        assert client.put(f"/imports/{made['import_id']}", json={"status": "completed"}, headers=key).status_code == 200


def person_json(n: int) -> dict:
    return {"full_name": f"P{n}", "email": f"p{n}@example.com", "linkedin_profile": f"https://linkedin.com/in/p{n}"}


def test_an_import_completed_empty_can_be_undone(client, key):
    """Found by the stateful run on Citus: undo of an API import completed without a batch answered
    500 (its changed_at was null, and the statements over no contacts were planned badly)."""
    import_id = client.post("/imports/", json={"source": "S"}, headers=key).json()["id"]
    assert client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 0}, headers=key).status_code == 200
    undone = client.post(f"/imports/{import_id}/undo", headers=key)
    assert undone.status_code == 200 and (undone.json()["deleted"], undone.json()["restored"]) == (0, 0)
    assert client.get(f"/imports/{import_id}", headers=key).json()["status"] == "reverted"
