"""Fixing rows before the commit: which rows are invalid, and folding the user's edits back in."""
from __future__ import annotations

import pandas as pd

from core.fields import FIELDS, ROW
from core.validation import ValidationReport

PROBLEMS = "problems"


def invalid_rows(mapped: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    """The mapped rows that failed validation, each with a readable list of its problems."""
    problems = _problems_by_row(report)
    rows = mapped[mapped[ROW].isin(problems.index)].copy()
    rows.insert(0, PROBLEMS, rows[ROW].map(problems))
    return rows[[ROW, PROBLEMS, *FIELDS]].reset_index(drop=True)


def apply_edits(mapped: pd.DataFrame, edited: pd.DataFrame) -> pd.DataFrame:
    """The mapped rows with the edited values of the rows in `edited` (matched by source row)."""
    updated = mapped.set_index(ROW, drop=False)
    changes = edited.set_index(ROW)[list(FIELDS)].fillna("").astype(str)
    changes = changes[changes.index.isin(updated.index)]
    updated.loc[changes.index, list(FIELDS)] = changes.to_numpy()
    return updated.reset_index(drop=True)


def error_report(report: ValidationReport) -> pd.DataFrame:
    """Every row left out (invalid or superseded duplicate): row, column, reason, value."""
    return report.rejected_rows().reset_index(drop=True)


def row_statuses(mapped: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    """Every mapped row with what the commit will do to it: "ok", "invalid: …" or "duplicate of row N"."""
    status = pd.Series("ok", index=mapped.index, dtype=object)
    problems = _problems_by_row(report)
    rows = mapped[ROW]
    invalid = rows.isin(problems.index)
    status[invalid] = "invalid: " + rows[invalid].map(problems).astype(str)
    superseded = report.duplicates.set_index("row")["kept_row"]
    duplicate = rows.isin(superseded.index)
    status[duplicate] = "duplicate of row " + rows[duplicate].map(superseded).astype(str)
    return mapped.assign(status=status)[[ROW, "status", *FIELDS]]


def _problems_by_row(report: ValidationReport) -> pd.Series:
    """row -> "email is not a valid email address; timezone is not …"."""
    errors = report.errors
    return (errors["column"] + " " + errors["reason"]).groupby(errors["row"]).agg("; ".join)


def changed_rows(shown: pd.DataFrame, edited: pd.DataFrame) -> set[int]:
    """Source rows whose field values the user changed in the editor."""
    before = shown.set_index(ROW)[list(FIELDS)].fillna("").astype(str)
    after = edited.set_index(ROW)[list(FIELDS)].fillna("").astype(str)
    after = after[after.index.isin(before.index)]
    return set(after.index[(before.loc[after.index] != after).any(axis=1)].astype(int))
