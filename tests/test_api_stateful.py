"""A stateful property-based run over the HTTP API (issue 21): Hypothesis builds state through the
API's own calls (create, bulk, complete, undo, lists), with several keys and several imports in
several states, and checks every answer against a model of what it must be. A 500 like issue 21's
first point (a list holding a completed and a processing import) cannot hide from it: it builds
that state within a few steps.

Derandomized, so CI runs the same 200 sequences every time; to explore further, run it with
STATEFUL_EXPLORE=1 and STATEFUL_SEQUENCES=2000 in the environment (it found that an import a
one-shot bulk call made was not its caller's: another key could complete it)."""
from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from core.access.keys import create_key
from tests.helpers import ADMIN

MAX_SEQUENCES = int(os.environ.get("STATEFUL_SEQUENCES", "200"))
EXPLORE = bool(os.environ.get("STATEFUL_EXPLORE"))  # new sequences each run, not CI's fixed ones
EMAILS = [f"p{n}@example.com" for n in range(6)]  # few, so that imports share contacts
COUNTS = ("total_rows", "inserted", "updated", "unchanged", "invalid", "duplicates")
RUN = itertools.count()


def contact(email: str, name: str) -> dict:
    return {"full_name": name, "email": email, "linkedin_profile": f"https://linkedin.com/in/{email.split('@')[0]}"}


class Imp:
    """The model of one import: who owns it, its status, the emails it links."""

    def __init__(self, import_id: str, owner: str, status: str, source: str):
        self.id, self.owner, self.status, self.source, self.linked = import_id, owner, status, source, set()


class ApiMachine(RuleBasedStateMachine):
    imports = Bundle("imports")

    def __init__(self):
        super().__init__()
        self.client, self.keys = CONTEXT["client"], CONTEXT["keys"]
        self.run = f"run{next(RUN)}"  # this sequence's imports: its sources carry it
        self.model: dict[str, Imp] = {}

    def call(self, method: str, path: str, who: str, headers: dict | None = None, **kwargs):
        answer = self.client.request(method, path, headers={"X-API-Key": self.keys[who], **(headers or {})}, **kwargs)
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:500])
        return answer

    @rule(target=imports, who=st.sampled_from(["admin", "ivy", "max"]))
    def create(self, who):
        answer = self.call("POST", "/imports/", who, json={"source": self.run})
        assert answer.status_code == 201 and answer.json()["status"] == "processing"
        made = Imp(answer.json()["id"], who, "processing", self.run)
        self.model[made.id] = made
        return made

    @rule(target=imports, who=st.sampled_from(["ivy", "max"]), emails=st.sets(st.sampled_from(EMAILS), min_size=1))
    def one_shot_bulk(self, who, emails):
        answer = self.call("POST", "/contacts/bulk", who, json=[contact(e, "One shot") for e in sorted(emails)])
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == "completed" and body["inserted"] == len(emails)
        made = Imp(body["import_id"], who, "completed", source=f"stateful {who}")  # a one-shot's: its caller
        made.linked = set(emails)
        self.model[made.id] = made
        return made

    @rule(imp=imports, who=st.sampled_from(["admin", "ivy", "max"]),
          emails=st.sets(st.sampled_from(EMAILS), min_size=1), name=st.sampled_from(["Ann", "Bo", "Cy"]),
          bad=st.booleans(), skip=st.booleans())
    def bulk(self, imp, who, emails, name, bad, skip):
        rows = [contact(e, name) for e in sorted(emails)] + ([contact("not an email", name)] if bad else [])
        answer = self.call("POST", "/contacts/bulk", who, headers={"X-Import-ID": imp.id}, json=rows,
                           params={"on_invalid": "skip"} if skip else {})
        if imp.status != "processing":
            assert answer.status_code == 409, answer.text
        elif who not in (imp.owner, "admin"):
            assert answer.status_code == 403, answer.text
        elif bad and not skip:
            assert answer.status_code == 422 and answer.json()["detail"]["errors"][0]["row"] == len(rows)
        else:
            assert answer.status_code == 201, answer.text
            assert answer.json()["invalid"] == int(bad) and answer.json()["inserted"] == len(emails)
            imp.linked |= emails

    @rule(imp=imports, who=st.sampled_from(["admin", "ivy", "max"]), wrong=st.booleans())
    def complete(self, imp, who, wrong):
        total = len(imp.linked) + (1 if wrong else 0)
        answer = self.call("PUT", f"/imports/{imp.id}", who, json={"status": "completed", "total_rows": total})
        if who not in (imp.owner, "admin"):
            assert answer.status_code == 403
        elif imp.status in ("failed", "reverted") or wrong:
            assert answer.status_code == 409, answer.text
        else:
            assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.text
            imp.status = "completed"

    @rule(imp=imports, who=st.sampled_from(["admin", "ivy"]))
    def undo(self, imp, who):
        answer = self.call("POST", f"/imports/{imp.id}/undo", who)
        if who != "admin":
            assert answer.status_code == 403
        elif imp.status != "completed":
            assert answer.status_code == 409, answer.text
        else:
            assert answer.status_code == 200, answer.text
            imp.status = "reverted"

    @precondition(lambda self: any(i.source == self.run for i in self.model.values()))
    @rule(limit=st.integers(1, 4), status=st.sampled_from([None, "processing", "completed", "reverted"]))
    def list_imports(self, limit, status):
        """Every import of the sequence, each once, through the cursor, with its counts as integers."""
        params = {"source": self.run, "limit": limit, **({"status": status} if status else {})}
        answer = self.call("GET", "/imports", "max", params=params)
        seen = []
        while True:
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert len(page["items"]) <= limit
            for item in page["items"]:
                assert all(isinstance(item[c], int) for c in COUNTS), item
                assert item["file_rows"] is None or isinstance(item["file_rows"], int), item  # None: no batch yet
                assert item["completed_at"] is None or isinstance(item["completed_at"], str)
                seen.append(item)
            if page["next"] is None:
                break
            answer = self.call("GET", page["next"], "max")
        expected = {i.id for i in self.model.values() if i.source == self.run and status in (None, i.status)}
        assert sorted(i["id"] for i in seen) == sorted(expected)
        for item in seen:
            imp = self.model[item["id"]]
            assert item["status"] == imp.status
            if imp.status == "completed":
                assert item["total_rows"] == item["inserted"] + item["updated"] + item["unchanged"] == len(imp.linked)

    @rule(imp=imports)
    def list_contacts(self, imp):
        answer = self.call("GET", "/contacts", "ivy", params={"import_id": imp.id, "limit": 1000})
        assert answer.status_code == 200
        listed = [c["email"] for c in answer.json()["items"]]
        assert listed == sorted(listed)
        if imp.status != "reverted":
            assert set(listed) == imp.linked

    @rule(imp=consumes(imports))
    def forget(self, imp):
        """Let an import drop out of the bundle (its model stays), so sequences reach fresh ones."""

    @invariant()
    def no_import_is_processing_without_being_the_api_s(self):
        for imp in self.model.values():
            assert imp.status in ("processing", "completed", "reverted")


CONTEXT: dict = {}
ApiMachine.TestCase.settings = settings(max_examples=MAX_SEQUENCES, stateful_step_count=12, deadline=None,
                                        derandomize=not EXPLORE, suppress_health_check=list(HealthCheck))


def test_the_api_holds_its_model_over_generated_sequences(client, engine):
    CONTEXT.update(client=client, keys={
        "admin": create_key(engine, "stateful admin", ADMIN, "admin"),
        "ivy": create_key(engine, "stateful ivy", ADMIN, "importer"),
        "max": create_key(engine, "stateful max", ADMIN, "importer")})
    try:
        ApiMachine.TestCase().runTest()
    finally:
        CONTEXT.clear()
