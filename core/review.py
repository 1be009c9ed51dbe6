"""Fixing rows before the commit: which rows are invalid, and folding the user's edits back in."""
from __future__ import annotations

import pandas as pd

from core.fields import FIELDS, ROW
from core.validation import ValidationReport

PROBLEMS = "problems"


def invalid_rows(mapped: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    """The mapped rows that failed validation, each with a readable list of its problems."""
    problems = (report.errors.assign(text=report.errors["column"] + " " + report.errors["reason"])
                .groupby("row")["text"].agg("; ".join))
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
