"""Long bulks without long requests (issue 21): `Prefer: respond-async` on POST /contacts/bulk is
answered 202 with the job's location; the job outlives the request, says how far it is, and ends
with the answer the call would have had. Sequences, as a client polls."""
from __future__ import annotations

import time

import sqlalchemy as sa

from core.access.keys import create_key
from core.storage import idempotency
from tests.helpers import ADMIN, count, csv_bytes, person

LATER = {"Prefer": "respond-async"}


def _key(engine, name: str, role: str = "importer") -> dict:
    return {"X-API-Key": create_key(engine, name, ADMIN, role)}


def _finished(client, location: str, headers: dict) -> dict:
    """Poll the job until it is no longer running (the test's guard: 60 s)."""
    deadline = time.monotonic() + 60
    while (job := client.get(location, headers=headers).json())["status"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_an_async_bulk_is_accepted_at_once_and_its_job_ends_with_the_call_s_answer(client, engine, held_merge):
    merging, go_on = held_merge
    key = _key(engine, "HubSpot sync")
    import_id = client.post("/imports/", json={"source": "HubSpot"}, headers=key).json()["id"]
    files = {"file": ("big.csv", csv_bytes(*[person(n) for n in range(1, 1501)]), "text/csv")}
    accepted = client.post("/contacts/bulk", files=files, headers={**key, **LATER, "X-Import-ID": import_id})
    assert accepted.status_code == 202 and accepted.headers["Preference-Applied"] == "respond-async"
    location = accepted.headers["Location"]
    assert accepted.json() == {"job_id": accepted.json()["job_id"], "status": "running", "location": location}
    assert merging.wait(60)  # the request was answered; its job is in the middle of its commit
    running = client.get(location, headers=key).json()
    assert running["status"] == "running" and running["total"] == 1500 and running["answer"] is None
    assert count(engine, "contacts") == 0
    go_on.set()
    job = _finished(client, location, key)
    assert (job["status"], job["stage"], job["status_code"]) == ("done", "done", 201)
    assert job["answer"]["created"] == 1500 and job["answer"]["import_id"] == import_id
    assert count(engine, "contacts") == 1500


def test_a_refused_async_bulk_ends_failed_with_the_refusal_and_writes_nothing(client, engine):
    key = _key(engine, "HubSpot sync")
    accepted = client.post("/contacts/bulk", json=[{"full_name": "A", "email": "nope", "linkedin_profile": "x"}],
                           headers={**key, **LATER})
    job = _finished(client, accepted.headers["Location"], key)
    assert (job["status"], job["status_code"]) == ("failed", 422)
    assert job["answer"]["detail"]["errors"][0]["column"] == "email" and count(engine, "contacts") == 0


def test_a_job_is_its_caller_s_and_an_admin_s_to_read(client, engine):
    key, other, admin = _key(engine, "HubSpot sync"), _key(engine, "Salesforce sync"), _key(engine, "Ops", "admin")
    accepted = client.post("/contacts/bulk", json=[{"full_name": "A", "email": "a@x.io", "linkedin_profile": "https://linkedin.com/in/a"}],
                           headers={**key, **LATER})
    _finished(client, accepted.headers["Location"], key)
    assert client.get(accepted.headers["Location"], headers=other).status_code == 404
    assert client.get(accepted.headers["Location"], headers=admin).json()["status"] == "done"
    assert client.get("/jobs/not-a-job", headers=key).status_code == 404


def test_an_async_bulk_retried_with_its_idempotency_key_polls_the_same_job(client, engine):
    key = {**_key(engine, "HubSpot sync"), **LATER, "Idempotency-Key": "async-1"}
    body = [{"full_name": "A", "email": "a@x.io", "linkedin_profile": "https://linkedin.com/in/a"}]
    first = client.post("/contacts/bulk", json=body, headers=key)
    again = client.post("/contacts/bulk", json=body, headers=key)
    assert first.status_code == again.status_code == 202 and again.json() == first.json()
    _finished(client, first.headers["Location"], key)
    assert count(engine, "imports") == 1 and count(engine, "contacts") == 1


def test_a_job_whose_server_died_reads_as_failed(client, engine):
    key = _key(engine, "HubSpot sync")
    with engine.begin() as conn:
        job_id = conn.execute(sa.text(
            "INSERT INTO api_jobs (id, caller, runner) VALUES (gen_random_uuid(), 'api:HubSpot sync', :r) "
            "RETURNING id::text"), {"r": f"{idempotency.HERE}:999999999"}).scalar_one()
    job = client.get(f"/jobs/{job_id}", headers=key).json()
    assert (job["status"], job["status_code"]) == ("failed", 500) and "nothing of it was saved" in job["answer"]["detail"]
