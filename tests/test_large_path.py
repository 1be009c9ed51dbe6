"""The large-import path (issue 4) gives the same result as the small, simple one on the same rows.

Reference: validation in one slice, rows staged in one COPY chunk, upsert by apply_import_stage
(sql/002). Fast path: validation and staging in tiny slices, upsert by merge_import_stage (sql/003).
"""
import pandas as pd
import pytest
import sqlalchemy as sa

import core.imports
import core.validation
from core.imports import commit_import, create_import
from core.pipeline import prepare
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
            "updated_at > created_at AS touched FROM contacts ORDER BY email")).mappings().all()
        links = conn.execute(sa.text(
            "SELECT i.file_name, c.email, l.action, l.row_number, l.previous FROM import_contacts l "
            "JOIN contacts c ON c.id = l.contact_id JOIN imports i ON i.id = l.import_id "
            "ORDER BY i.file_name, l.row_number")).mappings().all()
        errors = conn.execute(sa.text(
            "SELECT i.file_name, e.row_number, e.column_name, e.reason, e.value FROM import_errors e "
            "JOIN imports i ON i.id = e.import_id ORDER BY 1, 2, 3, 4")).mappings().all()
        imports = conn.execute(sa.text(
            "SELECT file_name, status, total_rows, inserted, updated, invalid, duplicates FROM imports "
            "ORDER BY file_name")).mappings().all()
    return {"contacts": [dict(r) for r in contacts], "links": [dict(r) for r in links],
            "errors": [dict(r) for r in errors], "imports": [dict(r) for r in imports]}


def run_both_files(engine) -> tuple[dict, list]:
    results = []
    for name, data in (("1-first.csv", FIRST), ("2-second.csv", SECOND)):
        import_id = create_import(engine, "test", name)
        results.append(commit_import(engine, import_id, prepare(data, name).report).as_dict())
    return state(engine), [{k: v for k, v in r.items() if k != "import_id"} for r in results]


def test_fast_path_gives_the_same_database_state_as_the_reference_path(engine, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(core.imports, "UPSERT_FUNCTION", "apply_import_stage")
        reference = run_both_files(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE import_errors, import_contacts, imports, contacts CASCADE"))
    monkeypatch.setattr(core.imports, "STAGE_CHUNK", 3)
    monkeypatch.setattr(core.validation, "VALIDATE_CHUNK", 4)
    fast = run_both_files(engine)
    assert fast == reference
    assert reference[1][1]["updated"] > 0 and reference[1][1]["inserted"] > 0
    assert any(link["previous"] for link in reference[0]["links"])


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_validation_in_slices_gives_the_same_report(monkeypatch, chunk):
    whole = prepare(SECOND + FIRST.split(b"\n", 1)[1], "x.csv").report
    monkeypatch.setattr(core.validation, "VALIDATE_CHUNK", chunk)
    seen = []
    sliced = core.validation.validate(
        core.pipeline.apply_mapping(core.pipeline.read_contacts(SECOND + FIRST.split(b"\n", 1)[1], "x.csv").frame,
                                    prepare(SECOND, "x.csv").mapping),
        on_progress=lambda stage, done, total: seen.append((stage, done, total)))
    pd.testing.assert_frame_equal(sliced.valid, whole.valid)
    pd.testing.assert_frame_equal(sliced.errors, whole.errors)
    pd.testing.assert_frame_equal(sliced.duplicates, whole.duplicates)
    assert seen[-1] == ("validating", whole.rows, whole.rows)
