import pytest
import pandas as pd

from core.files.exporting import to_export_csv
from core.fields import ROW
from core.rows.mapping import apply_mapping, suggest_mapping
from core.files.reading import read_contacts
from core.rows.fixes import apply_edits, changed_rows, invalid_rows, row_statuses
from core.rows.validation import validate
from tests.helpers import csv_bytes, person



def mapped_rows(*rows):
    source = read_contacts(csv_bytes(*rows), "r.csv")
    return apply_mapping(source.frame, suggest_mapping(source.headers))


def test_invalid_rows_carry_their_problems():
    mapped = mapped_rows(person(1), person(2, email="bad", timezone="Nowhere"))
    rows = invalid_rows(validate(mapped))
    assert rows[ROW].tolist() == [3]
    assert rows.loc[0, "problems"] == ("Email is not a valid email address; "
                                       "Time zone is not a time zone name such as Europe/Berlin or America/New_York")


def test_edits_replace_the_values_of_the_edited_rows_and_then_validate():
    mapped = mapped_rows(person(1), person(2, email="bad"))
    edited = invalid_rows(validate(mapped)).assign(email="fixed@example.com")
    fixed = apply_edits(mapped, edited)
    assert fixed["email"].tolist() == ["person1@example.com", "fixed@example.com"]
    assert fixed[ROW].tolist() == [2, 3]
    assert validate(fixed).errors.empty


def test_row_statuses_say_what_happens_to_every_row():
    mapped = mapped_rows(person(1), person(2, email="bad"), person(1, company="Later"))
    statuses = row_statuses(validate(mapped))["status"].tolist()
    assert statuses == ["duplicate of row 4", "invalid: Email is not a valid email address", "ok"]


def test_exports_neutralise_spreadsheet_formulas_in_values_and_headers():
    frame = pd.DataFrame({"=bad": ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok", 3]})
    lines = to_export_csv(frame).decode("utf-8-sig").split("\r\n")
    assert lines[:9] == ["'=bad", "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "\"'\rx\"", "ok", "3"]


def test_row_statuses_of_a_clean_file_are_all_ok():
    mapped = mapped_rows(person(1), person(2))
    assert row_statuses(validate(mapped))["status"].tolist() == ["ok", "ok"]


def test_changed_rows_are_the_rows_the_user_edited():
    mapped = mapped_rows(person(1, email="bad"), person(2, email="worse"))
    shown = invalid_rows(validate(mapped))
    edited = shown.copy()
    edited.loc[1, "email"] = "fixed@example.com"
    assert changed_rows(shown, edited) == {3}
