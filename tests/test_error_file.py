"""The re-uploadable error file (issue 10, point 8): the rows left out for a problem as the file held
them plus an errors column, from the wizard's draft and from History; fixed and uploaded again,
it imports."""
import pytest
import io

import pandas as pd

from core import importing
from core.files.exporting import error_file_name, to_export_csv
from core.storage.history import import_error_file
from tests.helpers import ADMIN, contacts, csv_bytes, person
from tests.test_pages import DATA


HUBSPOT = ("Record ID,First Name,Last Name,Email,LinkedIn URL,Company Name,errors,Email\n"
           "1,Ann,Lee,ann@x.io,https://linkedin.com/in/ann,=Acme,x,\n"
           "2,Bob,,bob-at-x.io,https://linkedin.com/in/bob,Beta,y,\n"
           "3,,,cy@x.io,https://x.com/cy,Gamma,z,\n"
           "4,Ann,Lee,ann@x.io,https://linkedin.com/in/ann,Acme 2,w,\n").encode()


def draft_of(data: bytes, name: str = "hubspot.csv", **choices) -> importing.Draft:
    draft = importing.open_file(None, data, name, source="test")
    if choices:
        importing.choose_columns(draft, {field: [column] for field, column in choices.items()})
    importing.validate_draft(draft)
    return draft


def read_back(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_the_error_file_holds_the_rows_as_the_file_had_them_with_what_to_fix():
    draft = draft_of(HUBSPOT, email="Email")
    fixable = importing.error_file(draft)
    # Every column of the file, its own headers in its order (a repeated one stays apart), then
    # "errors", renamed since the file has a column of that name; superseded row 2 is not there.
    assert list(fixable.columns) == ["Record ID", "First Name", "Last Name", "Email", "LinkedIn URL",
                                     "Company Name", "errors", "Email (2)", "errors (2)"]
    assert list(fixable.index) == [3, 4]
    assert fixable.loc[3, "Email"] == "bob-at-x.io" and fixable.loc[3, "Last Name"] == ""
    assert fixable.loc[3, "errors (2)"] == "row 3: Email is not a valid email address"
    assert fixable.loc[4, "errors (2)"] == (
        "row 4: First Name + Last Name is required but empty; "
        "LinkedIn URL is not a LinkedIn profile URL (expected https://linkedin.com/in/<name>)")


def test_the_error_file_is_formula_safe_and_its_fixed_rows_import_as_a_new_file(engine):
    data = csv_bytes(person(1), person(2, email="=HYPERLINK(\"http://x\")"), person(3, linkedin_profile=""))
    draft = draft_of(data, "people.csv")
    exported = to_export_csv(importing.error_file(draft))
    back = read_back(exported)
    assert back["email"].tolist() == ["'=HYPERLINK(\"http://x\")", "person3@example.com"]
    assert back["errors"].tolist() == ["row 3: email is not a valid email address",
                                       "row 4: linkedin_profile is required but empty"]

    back.loc[0, "email"], back.loc[1, "linkedin_profile"] = "p2@example.com", "https://linkedin.com/in/p3"
    fixed = back.to_csv(index=False).encode()
    result = importing.import_file(engine, fixed, error_file_name("people.csv"), "test")
    assert (result.inserted, result.invalid) == (2, 0)
    assert {"p2@example.com", "person3@example.com"} <= set(contacts(engine))


def test_history_offers_the_same_error_file_as_the_wizard(engine):
    draft = draft_of(HUBSPOT, email="Email")
    wizard_file = importing.error_file(draft)
    result = importing.commit(engine, draft)
    stored = import_error_file(engine, result.import_id)
    assert stored.columns.tolist() == wizard_file.columns.tolist()
    assert stored.values.tolist() == wizard_file.values.tolist()


def test_an_import_without_errors_keeps_an_empty_error_file_and_an_api_batch_none(engine):
    draft = draft_of(csv_bytes(person(1)), "clean.csv")
    result = importing.commit(engine, draft)
    assert import_error_file(engine, result.import_id).empty
    from core.storage.records import create_import
    api_import = create_import(engine, "api", "batch.csv", "tester", created_via="api")
    importing.add_contacts(engine, api_import, csv_bytes(person(2), person(3, email="x")), "batch.csv",
                           skip_invalid=True, actor=ADMIN)
    assert import_error_file(engine, api_import) is None


def test_a_linkedin_connections_export_without_emails_gets_a_hint():
    draft = draft_of((DATA / "corpus" / "linkedin_connections.csv").read_bytes(), "Connections.csv")
    [hint] = importing.hints(draft)
    assert "LinkedIn's Connections export" in hint and "1 of its 3 rows" in hint
    assert importing.hints(draft_of(csv_bytes(person(1), person(2, email="")), "plain.csv")) == []
