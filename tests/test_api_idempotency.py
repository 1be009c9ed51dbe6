"""Idempotency-Key on POST /imports/ and POST /contacts/bulk (issue 21): a retried request gets the
first answer and nothing is written twice; the key with another request is 422; a request in
progress is 409; a refused request gives its key back. Sequences, as a client that times out and
retries sends them."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from core.access.keys import create_key
from core.importing import Service
from tests.helpers import ADMIN, count, csv_bytes, person

JSON = {"Content-Type": "application/json"}


def contact(n: int, **fields) -> dict:
    return {"full_name": f"P{n}", "email": f"p{n}@example.com", "linkedin_profile": f"https://linkedin.com/in/p{n}",
            **fields}


@pytest.fixture
def key(engine) -> dict:
    return {"X-API-Key": create_key(engine, "HubSpot sync", ADMIN, "importer")}


def audited(engine, action: str, import_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = :a AND import_id = :i"),
                            {"a": action, "i": import_id}).scalar_one()


def test_a_retried_create_and_bulk_get_the_first_answers_and_write_once(client, engine, key):
    create = {**key, "Idempotency-Key": "create-1"}
    first = client.post("/imports/", json={"source": "HubSpot"}, headers=create)
    again = client.post("/imports/", json={"source": "HubSpot"}, headers=create)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(engine, "imports") == 1
    import_id = first.json()["id"]
    batch = {**key, "X-Import-ID": import_id, "Idempotency-Key": "batch-1"}
    sent = client.post("/contacts/bulk", json=[contact(1), contact(2)], headers=batch)
    assert sent.status_code == 201 and sent.json()["created"] == 2
    for spelling in (import_id, import_id.upper()):  # the same import, however its id is written
        retried = client.post("/contacts/bulk", json=[contact(1), contact(2)],
                              headers={**batch, "X-Import-ID": spelling})
        assert retried.status_code == 201 and retried.json() == sent.json()
    assert count(engine, "contacts") == 2 and audited(engine, "contacts added", import_id) == 1
    assert client.get(f"/imports/{import_id}", headers=key).json()["file_rows"] == 2  # counted once
    other = client.post("/contacts/bulk", json=[contact(3)], headers=batch)
    assert other.status_code == 422 and "another request" in other.json()["detail"]
    assert client.put(f"/imports/{import_id}", json={"status": "completed", "total_rows": 2}, headers=key).status_code == 200


def test_a_one_shot_bulk_sent_twice_makes_one_import(client, engine, key):
    headers = {**key, "Idempotency-Key": "one-shot"}
    first = client.post("/contacts/bulk", json=[contact(1)], headers=headers)
    again = client.post("/contacts/bulk", json=[contact(1)], headers=headers)
    assert first.status_code == 201 and again.json() == first.json() and "warning" in first.json()
    assert count(engine, "imports") == 1 and audited(engine, "committed", first.json()["import_id"]) == 1
    files = {"file": ("contacts.csv", csv_bytes(person(7)), "text/csv")}
    as_file = client.post("/contacts/bulk", files=files, headers={**key, "Idempotency-Key": "file"})
    assert client.post("/contacts/bulk", files=files, headers={**key, "Idempotency-Key": "file"}).json() == as_file.json()
    assert count(engine, "imports") == 2


def test_keys_are_each_caller_s_own(client, engine, key):
    other = {"X-API-Key": create_key(engine, "Salesforce sync", ADMIN, "importer"), "Idempotency-Key": "k"}
    mine = client.post("/contacts/bulk", json=[contact(1)], headers={**key, "Idempotency-Key": "k"})
    theirs = client.post("/contacts/bulk", json=[contact(2)], headers=other)
    assert mine.status_code == theirs.status_code == 201 and count(engine, "imports") == 2


def test_a_refused_request_gives_its_key_back_for_the_corrected_one(client, engine, key):
    headers = {**key, "Idempotency-Key": "fix-me"}
    refused = client.post("/contacts/bulk", json=[contact(1, email="not an email")], headers=headers)
    assert refused.status_code == 422 and count(engine, "contacts") == 0
    fixed = client.post("/contacts/bulk", json=[contact(1)], headers=headers)
    assert fixed.status_code == 201 and count(engine, "contacts") == 1
    assert client.post("/contacts/bulk", json=[contact(1)], headers={**key, "Idempotency-Key": " \n"}).status_code == 400


def test_a_request_in_progress_holds_its_key_and_the_retry_then_gets_its_answer(client, engine, key, held_merge):
    merging, go_on = held_merge
    headers = {**key, "Idempotency-Key": "slow"}
    answers = []
    first = threading.Thread(target=lambda: answers.append(client.post("/contacts/bulk", json=[contact(1)],
                                                                       headers=headers)))
    first.start()
    assert merging.wait(60)
    busy = client.post("/contacts/bulk", json=[contact(1)], headers=headers)
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1" and "in progress" in busy.json()["detail"]
    go_on.set()
    first.join(60)
    assert answers[0].status_code == 201
    assert client.post("/contacts/bulk", json=[contact(1)], headers=headers).json() == answers[0].json()
    assert count(engine, "imports") == 1


def test_a_retry_takes_over_the_key_of_a_request_that_died_and_the_dead_one_could_not_write(engine):
    """The first request's process died holding the key (or hung past STALE): the retry runs, under
    the same import id; were the first to wake up, its commit would find its claim gone and roll back."""
    from core.errors import ClaimLost
    from core.storage import idempotency
    svc = Service(engine)
    actor = ADMIN
    first = svc.claim_key("api:x", "k", "same")
    with engine.begin() as conn:  # as if a process that no longer exists held it
        conn.execute(sa.text("UPDATE idempotency_keys SET claimed_by = :h"), {"h": f"{idempotency.HERE}:999999999"})
    retry = svc.claim_key("api:x", "k", "same")
    assert retry.import_id == first.import_id and retry.token != first.token
    body = b'[{"full_name": "P1", "email": "p1@example.com", "linkedin_profile": "https://linkedin.com/in/p1"}]'
    with pytest.raises(ClaimLost):
        svc.add_contacts(None, body, "a.json", actor=actor, claim=first, answer_of=lambda *a: {"late": True})
    assert count(engine, "contacts") == 0
    result, _ = svc.add_contacts(None, body, "a.json", actor=actor, claim=retry, answer_of=lambda *a: {"done": 1})
    assert result.import_id == retry.import_id and count(engine, "contacts") == 1
    assert svc.claim_key("api:x", "k", "same").answer == {"done": 1}


def test_an_answer_that_cannot_be_recorded_leaves_nothing_written(engine):
    svc = Service(engine)
    held = svc.claim_key("api:x", "k2", "same")
    body = b'[{"full_name": "P1", "email": "p1@example.com", "linkedin_profile": "https://linkedin.com/in/p1"}]'

    def broken(*args):
        raise RuntimeError("the answer could not be built")
    with pytest.raises(Exception):
        svc.add_contacts(None, body, "a.json", actor=ADMIN, claim=held, answer_of=broken)
    assert count(engine, "contacts") == 0
