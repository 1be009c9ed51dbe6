"""A clean small batch (core.rows.clean_batch) is checked one value at a time, without pandas. It must
take only batches that the general path would read, validate and store in exactly the same way:
each value check equals its ContactRow check, normalize_value equals normalize, and a batch stores
what the general path stores."""
import json
import random

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.access import local_actor
from core.fields import FIELDS, ROW
from core.importing import service
from core.rows.clean_batch import SMALL_BATCH_ROWS
from core.rows.validation import VALUE_CHECKS, ContactRow, normalize, normalize_value, schema_rules
from tests.conftest import TABLES
from tests.test_validation import GOOD, _address_sample

# Values as files and API clients send them, the odd ones included, before normalizing.
TRICKY = ["", " ", "\ufeffAnn\u200b", "İSTANBUL@X.IO", "Ann@Example.COM ", "müller@bücher.de", "x@xn--bcher-kva.de",
          "a..b@x.io", "x@y", "ann@x.io\n", "a\x00b", "x" * 255, "y" * 256, "en_US", "pt-BR", "english", "EN-us",
          "Europe/Paris", "europe/paris", "Mars/Olympus", "UTC", "https://linkedin.com/in/ok",
          "HTTPS://WWW.LINKEDIN.COM/IN/Jörg-Müller", "https://lınkedın.com/in/x", "https://linkedin.com/in/a\u202eb",
          "linkedin.com/in/x", "https://linkedin.com/in/x/?trk=1", "https://linkedin.com/in/x\n", '{"a": 1}',
          '{"a": {"b": [1, 2]}}', "[1, 2]", '"text"', '{"n": 1e999999}', '{"deep": ' * 50, '{"s": "\\u0000"}',
          '{"s": "\\ud800"}', "{}", '{"a": 1}\n', "\u00a0Zoë\u3000", "Ｚ", "faß@x.io", "Postmaster@x.io"]


def corpus(count: int = 3000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return TRICKY + _address_sample(count, seed) + [rng.choice(TRICKY) + rng.choice(TRICKY) for _ in range(count)]


@pytest.mark.parametrize("field", FIELDS)
def test_normalize_value_is_normalize(field):
    raw = corpus()
    frame = pd.DataFrame({f: raw if f == field else [""] * len(raw) for f in FIELDS})
    assert [normalize_value(field, value) for value in raw] == normalize(frame)[field].tolist()


@pytest.mark.parametrize(("column", "check"), schema_rules())
def test_each_value_check_is_its_schema_check(column, check):
    values = pd.Series(sorted({normalize_value(column, value) for value in corpus()}), dtype="str")
    verdicts = getattr(ContactRow, check)(values).tolist()
    assert [VALUE_CHECKS[check](value) for value in values] == verdicts
    assert 0 < sum(verdicts) < len(verdicts)  # the corpus holds both verdicts


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(schema_rules()), st.lists(st.text(max_size=40), min_size=1, max_size=20))
def test_value_checks_and_normalizing_agree_with_the_schema_on_any_text(rule, texts):
    column, check = rule
    normalized = normalize(pd.DataFrame({f: texts if f == column else [""] * len(texts) for f in FIELDS}))[column]
    assert [normalize_value(column, text) for text in texts] == normalized.tolist()
    assert [VALUE_CHECKS[check](value) for value in normalized] == getattr(ContactRow, check)(normalized).tolist()


def person(n: int, **fields) -> dict:
    return {"full_name": f"Person {n}", "email": f"Person{n}@Example.com",
            "linkedin_profile": f"https://www.linkedin.com/in/p{n}", **fields}


# Shapes that API clients send: what the clean path takes and must store as the general path does.
BATCHES = {
    "one row": [person(1)],
    "every field": [{**GOOD, "metadata": {"source": "crm", "score": 3, "tags": ["a", "b"]}}],
    "optional keys missing or null, in any order": [
        {"linkedin_profile": "https://linkedin.com/in/zoe", "email": "ZOË@bücher.de", "full_name": " Zoë "},
        person(2, company=None, locale="pt_BR", timezone="America/Sao_Paulo"),
        person(3, metadata='{"plan": "pro"}', company="Ｚ Corp")],
    "a hundred realistic rows": [person(n, company="Acme" if n % 3 else "", locale="en-US" if n % 2 else None,
                                        metadata={"n": n} if n % 2 else None,
                                        email=f"Müller{n}@Bücher.de" if n % 15 == 0 else f"P{n}@X.io")
                                 for n in range(100)],
}


def snapshot(engine, import_id: str) -> dict:
    """What an import stored, without ids and times."""
    with engine.connect() as conn:
        imported = conn.execute(sa.text(
            "SELECT status, source, file_name, created_by, created_via, total_rows, inserted, updated, unchanged, "
            "invalid, skipped, duplicates, file_rows, file_headers, error FROM imports WHERE id = :id"),
            {"id": import_id}).mappings().one()
        contacts = conn.execute(sa.text(
            "SELECT c.email, c.full_name, c.linkedin_profile, c.company, c.locale, c.timezone, c.metadata, "
            "l.action, l.row_number, l.previous FROM import_contacts l JOIN contacts c ON c.email = l.email "
            "WHERE l.import_id = :id ORDER BY c.email"), {"id": import_id}).mappings().all()
        audit = conn.execute(sa.text("SELECT actor, action, detail FROM audit_log WHERE import_id = :id ORDER BY at"),
                             {"id": import_id}).mappings().all()
        errors = conn.execute(sa.text("SELECT count(*) FROM import_errors WHERE import_id = :id"),
                              {"id": import_id}).scalar_one()
    return {"import": dict(imported), "contacts": [dict(c) for c in contacts], "audit": [dict(a) for a in audit],
            "errors": errors}


def add(engine, body: list[dict], import_id: str | None = None) -> tuple:
    result, report = service.add_contacts(engine, import_id, json.dumps(body).encode(), "request.json",
                                          actor=local_actor())
    return result, report


def both_ways(engine, monkeypatch, body: list[dict], before: list[dict] | None = None,
              own_import: bool = False) -> tuple[dict, dict]:
    """The batch stored the clean way and then, on an emptied database, the general way."""
    found = []
    for way in ("clean", "general"):
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
        if way == "general":
            monkeypatch.setattr(service, "_clean_batch", lambda data: None)
        if before:
            add(engine, before)
        import_id = service.create_api_import(engine, "crm", None, local_actor()) if own_import else None
        result, report = add(engine, body, import_id)
        assert type(report).__name__ == ("CleanBatch" if way == "clean" else "ValidationReport")
        found.append((result, report.kept_emails(10_000), snapshot(engine, result.import_id)))
    (clean_result, clean_emails, clean_state), (general_result, general_emails, general_state) = found
    assert {**clean_result.as_dict(), "import_id": None} == {**general_result.as_dict(), "import_id": None}
    assert clean_emails == general_emails
    return clean_state, general_state


@pytest.mark.parametrize("shape", BATCHES)
def test_a_clean_batch_is_stored_as_the_general_path_stores_it(engine, monkeypatch, shape):
    clean, general = both_ways(engine, monkeypatch, BATCHES[shape])
    assert clean == general
    assert clean["contacts"] and clean["import"]["status"] == "completed"


def test_a_clean_batch_into_an_open_import_updates_stored_contacts_as_the_general_path_does(engine, monkeypatch):
    before = [person(n, company="Old", metadata={"keep": 1}) for n in range(5)]
    body = [person(n, company="New" if n % 2 else None, metadata={"new": n}) for n in range(3, 8)]
    clean, general = both_ways(engine, monkeypatch, body, before=before, own_import=True)
    assert clean == general
    assert {c["action"] for c in clean["contacts"]} == {"inserted", "updated"}
    assert clean["import"]["status"] == "processing"


BROKEN = {
    "an invalid row": [person(1), person(2, email="not-an-email")],
    "a repeated email": [person(1), person(1, full_name="Again")],
    "a key that is not a field": [person(1, title="CEO")],
    "a required field missing": [{"full_name": "A", "email": "a@x.io"}],
    "a control character": [person(1, company="Ac\x07me")],
    "a lone surrogate": '[{"full_name": "\\ud800", "email": "a@x.io", "linkedin_profile": "https://linkedin.com/in/a"}]',
    "not an array": {"full_name": "A"},
    "too many rows": [person(n) for n in range(SMALL_BATCH_ROWS + 1)],
}


@pytest.mark.parametrize("shape", BROKEN)
def test_a_batch_with_anything_to_report_goes_the_general_way(shape):
    body = BROKEN[shape]
    assert service._clean_batch(body.encode() if isinstance(body, str) else json.dumps(body).encode()) is None


def test_the_shapes_api_clients_send_go_the_clean_way():
    for body in BATCHES.values():
        assert service._clean_batch(json.dumps(body).encode()) is not None
    assert service._clean_batch(json.dumps([person(n) for n in range(SMALL_BATCH_ROWS)]).encode()) is not None
