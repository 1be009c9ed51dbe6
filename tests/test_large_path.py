"""The large-import path (issue 4): two files that exercise every merge rule give the database state
written out by hand below, whether rows are validated and staged in one slice or in tiny ones.
"""
import pandas as pd
import pytest
import sqlalchemy as sa

import core.storage.staging
import core.rows.validation
from core.storage.commit import commit_import
from core.rows.mapping import apply_mapping
from core.files.reading import read_contacts
from core.storage.records import create_import
from tests.helpers import ADMIN, prepare
from tests.helpers import csv_bytes, person


FIRST = csv_bytes(
    person(1, company="Acme", locale="fr", timezone="Europe/Paris", metadata='{"a": 1, "b": {"c": 2}}'),
    person(2, metadata='{"x": "y"}'),
    person(3, email="bad"),
    person(4, company="Old"), person(4, company="New"),
    person(5, email="Person5@Example.com"),
    person(6, metadata='{"s": "with \\"escape\\""}'),
    *[person(n) for n in range(10, 40)],
)
SECOND = csv_bytes(
    person(1, full_name="Renamed", company=""),          # empty never erases
    person(2, metadata='{"x": "z", "n": null}'),          # metadata merges key by key
    person(5, email=" person5@example.COM "),            # unchanged: previous = {}
    person(6, locale="pt_BR", timezone="Mars/Olympus"),  # invalid
    person(7, linkedin_profile="https://linkedin.com/in/ok", metadata="[1]"),
    person(8), person(8, company="Later"),
    *[person(n, company=f"C{n}") for n in range(20, 50)],
)


def state(engine) -> dict:
    with engine.connect() as conn:
        contacts = conn.execute(sa.text(
            "SELECT email, full_name, linkedin_profile, company, locale, timezone, metadata, "
            "updated_at > created_at AS touched FROM contacts ORDER BY email COLLATE \"C\"")).mappings().all()
        links = conn.execute(sa.text(
            "SELECT i.file_name, c.email, l.action, l.row_number, l.previous FROM import_contacts l "
            "JOIN contacts c ON c.email = l.email AND c.id = l.contact_id JOIN imports i ON i.id = l.import_id "
            "ORDER BY i.file_name, l.row_number")).mappings().all()
        errors = conn.execute(sa.text(
            "SELECT i.file_name, e.row_number, e.column_name, e.reason, e.value FROM import_errors e "
            "JOIN imports i ON i.id = e.import_id ORDER BY 1, 2, 3, 4")).mappings().all()
        imports = conn.execute(sa.text(
            "SELECT file_name, status, total_rows, inserted, updated, unchanged, invalid, duplicates, file_rows "
            "FROM imports "
            "ORDER BY file_name")).mappings().all()
    return {"contacts": [dict(r) for r in contacts], "links": [dict(r) for r in links],
            "errors": [dict(r) for r in errors], "imports": [dict(r) for r in imports]}


def run_both_files(engine) -> tuple[dict, list]:
    results = []
    for name, data in (("1-first.csv", FIRST), ("2-second.csv", SECOND)):
        import_id = create_import(engine, "test", name)
        results.append(commit_import(engine, import_id, prepare(data, name).report, actor=ADMIN).as_dict())
    return state(engine), [{k: v for k, v in r.items() if k != "import_id"} for r in results]


def contact(n: int, touched: bool = False, **values) -> dict:
    return {"email": f"person{n}@example.com", "full_name": f"Person {n}",
            "linkedin_profile": f"https://linkedin.com/in/person{n}", "company": None, "locale": None,
            "timezone": None, "metadata": {}, "touched": touched, **values}


def link(file_name: str, n: int, row: int, action: str = "updated", previous=None) -> dict:
    if action == "updated" and previous is None:
        previous = {}
    return {"file_name": file_name, "email": f"person{n}@example.com", "action": action,
            "row_number": row, "previous": previous}


GENERATED = range(10, 50)  # person n is on row n - 1 of FIRST (n < 40) and of SECOND (n >= 20)
EXPECTED = {
    "contacts": sorted([
        contact(1, True, full_name="Renamed", company="Acme", locale="fr", timezone="Europe/Paris",
                metadata={"a": 1, "b": {"c": 2}}),                  # empty company did not erase
        contact(2, True, metadata={"x": "z", "n": None}),           # merged key by key
        contact(4, company="New"),                                  # the later duplicate won
        contact(5),                                                 # stored lower-case, unchanged
        contact(6, metadata={"s": 'with "escape"'}),                # its invalid row changed nothing
        contact(8, company="Later"),
        *[contact(n, 20 <= n < 40, company=f"C{n}" if n >= 20 else None) for n in GENERATED],
    ], key=lambda c: c["email"]),
    "links": [
        *[link("1-first.csv", n, row, "inserted") for n, row in ((1, 2), (2, 3), (4, 6), (5, 7), (6, 8))],
        *[link("1-first.csv", n, n - 1, "inserted") for n in range(10, 40)],
        link("2-second.csv", 1, 2, previous={"full_name": "Person 1"}),
        link("2-second.csv", 2, 3, previous={"metadata": {"x": "y"}}),
        link("2-second.csv", 5, 4),                                 # linked, previous = {}
        link("2-second.csv", 8, 8, "inserted"),
        *[link("2-second.csv", n, n - 11, "updated" if n < 40 else "inserted",
               {"company": None} if n < 40 else None) for n in range(20, 50)],
    ],
    "errors": [
        {"file_name": "1-first.csv", "row_number": 4, "column_name": "email",
         "reason": "is not a valid email address", "value": "bad"},
        {"file_name": "1-first.csv", "row_number": 5, "column_name": "email",
         "reason": "duplicate email in this file: row 6 is imported instead", "value": "person4@example.com"},
        {"file_name": "2-second.csv", "row_number": 5, "column_name": "timezone",
         "reason": "is not a time zone name such as Europe/Berlin or America/New_York", "value": "Mars/Olympus"},
        {"file_name": "2-second.csv", "row_number": 6, "column_name": "metadata",
         "reason": 'is not a set of extra fields written as {"source": "csv"}', "value": "[1]"},
        {"file_name": "2-second.csv", "row_number": 7, "column_name": "email",
         "reason": "duplicate email in this file: row 8 is imported instead", "value": "person8@example.com"},
    ],
    "imports": [
        {"file_name": "1-first.csv", "status": "completed", "total_rows": 35, "inserted": 35, "updated": 0,
         "unchanged": 0, "invalid": 1, "duplicates": 1, "file_rows": 37},
        {"file_name": "2-second.csv", "status": "completed", "total_rows": 34, "inserted": 11, "updated": 22,
         "unchanged": 1, "invalid": 2, "duplicates": 1, "file_rows": 37},                  # person 5
    ],
}


@pytest.mark.parametrize("stage_chunk, validate_chunk", [(50_000, 200_000), (3, 4)])
def test_two_files_give_the_hand_written_database_state(engine, monkeypatch, stage_chunk, validate_chunk):
    monkeypatch.setattr(core.storage.staging, "STAGE_CHUNK", stage_chunk)
    monkeypatch.setattr(core.rows.validation, "VALIDATE_CHUNK", validate_chunk)
    found, results = run_both_files(engine)
    assert found == EXPECTED
    assert results == [{**{k: v for k, v in i.items() if k != "file_name"}, "skipped": 0, "already_there": 0,
                        "not_found": 0, "fixes": {}, "suppressed": 0} for i in EXPECTED["imports"]]


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_validation_in_slices_gives_the_same_report(monkeypatch, chunk):
    whole = prepare(SECOND + FIRST.split(b"\n", 1)[1], "x.csv").report
    monkeypatch.setattr(core.rows.validation, "VALIDATE_CHUNK", chunk)
    seen = []
    source = read_contacts(SECOND + FIRST.split(b"\n", 1)[1], "x.csv")
    sliced = core.rows.validation.validate(
        apply_mapping(source.frame, prepare(SECOND, "x.csv").mapping),
        on_progress=lambda stage, done, total: seen.append((stage, done, total)))
    pd.testing.assert_frame_equal(sliced.valid, whole.valid)
    pd.testing.assert_frame_equal(sliced.errors, whole.errors)
    pd.testing.assert_frame_equal(sliced.duplicates, whole.duplicates)
    assert seen[-1] == ("validating", whole.rows, whole.rows)
