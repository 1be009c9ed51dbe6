"""The error file's round trip (issue 22): whatever the download does to guard cells against
spreadsheet formulas, uploading that file again undoes exactly, so every value comes back as the
first file held it; a leading apostrophe in any other file is left alone."""
import re
import shutil
import subprocess

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from core import importing
from core.files.exporting import to_export_csv
from core.files.reading import read_contacts
from core.rows.error_file import restored
from tests.helpers import contacts, csv_bytes, person

# The reader skips spaces after a delimiter outside quotes, as spreadsheets do, and the import trims
# every value: a leading space never reaches a contact, whichever file it comes from.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
               max_size=40).filter(lambda value: not value.startswith(" "))
HOSTILE = st.one_of(
    st.sampled_from(["=HYPERLINK(\"http://x\",\"y\")", "+1 617-555-0100", "-2", "@SUM(A1)", "'quoted", "''twice",
                     "'=already", "=", "'", "\"", "a,b", "line\nbreak", "tab\tin", "Zoë 名前 👋", "\tlead", "€"]),
    TEXT,
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(["=", "+", "-", "@", "'", "''", "\t"]),
              st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                      max_size=20)))


def _error_file(values: list[str]) -> bytes:
    """An error file as the console downloads it: the file's columns, then the errors column."""
    return to_export_csv(pd.DataFrame({"Name": [f"P{i}" for i in range(len(values))], "Company": values,
                                       "errors": [f"row {i + 2}: Email is required but empty" for i in range(len(values))]}))


@settings(max_examples=200, deadline=None)
@given(st.lists(HOSTILE, min_size=1, max_size=50))
def test_every_value_of_an_error_file_comes_back_as_it_was(values):
    read = restored(read_contacts(_error_file(values), "people-errors.csv"))
    assert read.frame["Company"].tolist() == values


def test_ten_thousand_hostile_values_survive_export_and_import():
    values = [v for v in (HOSTILE.example() for _ in range(10_000))]
    read = restored(read_contacts(_error_file(values), "people-errors.csv"))
    assert read.frame["Company"].tolist() == values


def test_a_leading_apostrophe_of_another_file_is_kept():
    data = b"Name,Company,notes\nAnn,'=not ours,row 2 of the plan\n"
    assert restored(read_contacts(data, "other.csv")).frame["Company"].tolist() == ["'=not ours"]


def test_a_fixed_error_file_imports_each_value_as_the_first_file_held_it(engine):
    first = csv_bytes(person(1), person(2, email="", company='=HYPERLINK("http://x","y")', locale="'en"))
    draft = importing.open_file(engine, first, "people.csv", source="CRM")
    importing.validate_draft(draft)
    importing.commit(engine, draft)
    errors = importing.error_file(draft)
    errors.loc[errors.index[0], "email"] = "person2@example.com"
    fixed = to_export_csv(errors)  # downloaded, the email filled in, uploaded again
    again = importing.open_file(engine, fixed, "people-errors.csv", source="CRM")
    assert importing.validate_draft(again).invalid == 1  # 'en is no language tag: the row still says so
    again_file = to_export_csv(errors.assign(locale="en"))
    result = importing.import_file(engine, again_file, "people-errors.csv", "CRM")
    assert result.inserted == 1
    assert contacts(engine)["person2@example.com"]["company"] == '=HYPERLINK("http://x","y")'


def test_an_error_file_opened_and_saved_by_a_spreadsheet_imports_its_values_as_they_were(engine, tmp_path):
    """The loop as people run it: LibreOffice Calc (headless, Debian's package) opens the error file
    with its default import options and saves it as CSV again; its formulas stay text, and so do
    values it would turn into numbers or dates (a ZIP code's leading zero, 3/4)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.fail("LibreOffice is missing: `./dev test` installs it (apt-get install libreoffice-calc-nogui).")
    values = ['=HYPERLINK("http://x","y")', "+1 617-555-0100", "'quoted", "02134", "3/4", "1e5", "00:30", "TRUE",
              "Zoë 名前", 'say "hi"', "line\nbreak", "1,5"]
    errors = pd.DataFrame({"full_name": [f"Person {i}" for i in range(len(values))], "email": "",
                           "linkedin_profile": [f"https://linkedin.com/in/p{i}" for i in range(len(values))],
                           "company": values,
                           "errors": [f"row {i + 2}: email is required but empty" for i in range(len(values))]})
    path = tmp_path / "people-errors.csv"
    path.write_bytes(to_export_csv(errors))
    profile = tmp_path / "profile"  # its own user profile: tests may run side by side
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--infilter=CSV:44,34,76,1",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(tmp_path / "saved"),
                    str(path)], check=True, capture_output=True, timeout=180)
    saved = (tmp_path / "saved" / "people-errors.csv").read_bytes()
    read = restored(read_contacts(saved, "people-errors.csv"))
    assert read.frame["company"].tolist() == values
    fixed = re.sub(rb'"Person 0",(""|),', b'"Person 0","p0@example.com",', saved, count=1)  # the fix, typed in
    result = importing.import_file(engine, fixed, "people-errors.csv", "CRM")
    assert result.inserted == 1 and contacts(engine)["p0@example.com"]["company"] == values[0]


def test_the_cli_and_the_api_give_an_import_s_error_file_as_history_does(engine, client, database_url):
    from core.access.keys import create_key
    from tests.test_cli import cli
    from tests.helpers import ADMIN
    result = importing.import_file(engine, csv_bytes(person(1), person(2, email="", company="=1+1")), "people.csv", "CRM")
    printed = cli("errors", result.import_id, database_url=database_url).stdout
    assert printed.splitlines()[1].startswith("Person 2,,https://linkedin.com/in/person2,'=1+1,")
    key = {"X-API-Key": create_key(engine, "sync", ADMIN, "admin")}
    answer = client.get(f"/imports/{result.import_id}/errors", headers=key)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="people-errors.csv"' in answer.headers["content-disposition"]
    assert answer.content.decode("utf-8-sig").splitlines() == printed.lstrip("\ufeff").splitlines()
    assert client.get("/imports/00000000-0000-0000-0000-000000000000/errors", headers=key).status_code == 404
