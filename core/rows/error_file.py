"""The error file a person fixes in a spreadsheet and uploads again as a new import: the rows left
out for a problem, exactly as the file held them (every column, the file's own headers, in the
file's order), plus an "errors" column saying what to fix, in the file's column names. Superseded
duplicates are not in it: a later row of the same email was imported instead, and uploading the
earlier one again would overwrite it.

Also hints for export shapes whose errors have a known cause (LinkedIn's Connections export holds
an email only for people who allowed it)."""
from __future__ import annotations

import re

import pandas as pd

from core.fields import ROW
from core.files.exporting import needs_guard
from core.rows.mapping import Mapping
from core.files.reading import WHOLE_ROW, SourceFile
from core.rows.validation import ValidationReport

ERRORS = "errors"
_ERRORS_HEADER = re.compile(r"errors( \(\d+\))?")
_ROW_SAID = r"row \d+: "
LINKEDIN_CONNECTIONS = {"First Name", "Last Name", "URL", "Email Address", "Connected On"}
EMPTY_EMAIL = "is required but empty"


def fixable_rows(file: SourceFile, report: ValidationReport, mapping: Mapping) -> pd.DataFrame:
    """The file's rows that have a problem, with the file's columns and an errors column, indexed
    by their row in the file."""
    problems = _problems_in_file_terms(report.errors, mapping)
    rows = file.frame[file.frame[ROW].isin(problems.index)]
    fixable = rows[file.headers].rename(columns=_file_names(file)).set_axis(pd.Index(rows[ROW], name="row"))
    fixable[errors_column(fixable.columns)] = fixable.index.map(problems)
    return fixable


def is_error_file(file: SourceFile) -> bool:
    """Whether the file is an error file this console wrote (fixed or not): its last column is the
    errors column, and each of its non-empty cells says "row N: …"."""
    headers = file.headers
    if not headers or not _ERRORS_HEADER.fullmatch(headers[-1]):
        return False
    said = file.frame[headers[-1]].astype(str)
    said = said[said.str.strip() != ""]
    return not said.empty and bool(said.str.match(_ROW_SAID).all())


def unguard(value: str) -> str:
    """A cell as it was before the export guarded it (core.files.exporting.needs_guard): one
    apostrophe less in front of what the export guards, and only there.

    >>> unguard("'=SUM(A1)"), unguard("''quoted"), unguard("'02134"), unguard("'plain"), unguard("=x")
    ('=SUM(A1)', "'quoted", '02134', "'plain", '=x')
    """
    return value[1:] if value.startswith("'") and needs_guard(value[1:]) else value


def restored(file: SourceFile) -> SourceFile:
    """An error file uploaded again, its cells and headers as the first file held them: the export
    put an apostrophe in front of every cell that a spreadsheet would run or read as a number, a
    date or a time, or that began with one, and exactly those come off. Any other file is left as it is, its apostrophes included."""
    if not is_error_file(file):
        return file
    for column in file.headers:
        text = file.frame[column].astype(str)
        marked = text.str.startswith("'")
        if marked.any():
            file.frame.loc[marked, column] = text[marked].map(unguard)
    names = {column: unguard(column) for column in file.headers}
    if any(name != column for column, name in names.items()):
        file.frame = file.frame.rename(columns=names)
        file.renamed_headers = {names.get(shown, shown): original for shown, original in file.renamed_headers.items()}
    file.notes.append("This is an error file of an earlier import: the apostrophes its download put in front of "
                      "values such as =, +, - or @ were taken off, so each value imports as the first file held it.")
    return file


def _problems_in_file_terms(errors: pd.DataFrame, mapping: Mapping) -> pd.Series:
    """row -> "row 14: Email Address is required but empty; Time Zone is not …"."""
    if errors.empty:
        return pd.Series(dtype=object)
    named = errors["column"].map(lambda column: _column_words(column, mapping))
    said = (named + " " + errors["reason"]).groupby(errors["row"]).agg("; ".join)
    return "row " + said.index.astype(str) + ": " + said


def _column_words(column: str, mapping: Mapping) -> str:
    """What a person fixing the file looks for: the file's column(s) a field was read from."""
    if column == WHOLE_ROW:
        return "the row"
    columns = mapping.get(column)
    return " + ".join(columns) if columns else column


def _file_names(file: SourceFile) -> dict[str, str]:
    """Shown name -> the header as the file has it, where that keeps the headers unique."""
    names = {shown: file.renamed_headers.get(shown, shown) for shown in file.headers}
    taken = pd.Series(list(names.values()))
    repeated = set(taken[taken.duplicated()])
    return {shown: original for shown, original in names.items() if original not in repeated}


def errors_column(columns) -> str:
    """"errors", or "errors (2)" when the file has a column named so."""
    name, n = ERRORS, 2
    while name in set(columns):
        name, n = f"{ERRORS} ({n})", n + 1
    return name


def export_hints(file: SourceFile, report: ValidationReport) -> list[str]:
    """Sentences about the errors that a known export shape explains."""
    hints = []
    if LINKEDIN_CONNECTIONS <= set(file.headers):
        empty = report.errors[(report.errors["column"] == "email") & (report.errors["reason"] == EMPTY_EMAIL)]
        if len(empty):
            hints.append(
                f"This looks like LinkedIn's Connections export: it holds an email only for the people "
                f"who allow their connections to see it, so {len(empty):,} of its {report.rows:,} rows have "
                "none. Contacts are keyed by email; add the missing ones (from your CRM or an "
                "enrichment tool) in the error file and upload it again.")
    return hints
