"""Fixing rows before the commit: which rows are invalid and why, what happens to every row, and
folding the user's edits back in. Rows are those of a ValidationReport (normalized values)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.fields import FIELDS, ROW
from core.rows.validation import ValidationReport

PROBLEMS = "problems"


def invalid_rows(report: ValidationReport) -> pd.DataFrame:
    """The rows that failed validation, each with a readable list of its problems."""
    problems = _problems_by_row(report)
    rows = report.normalized
    rows = rows[rows[ROW].isin(problems.index)].copy()
    rows.insert(0, PROBLEMS, rows[ROW].map(problems))
    return rows[[ROW, PROBLEMS, *FIELDS]].reset_index(drop=True)


def rows_of(report: ValidationReport, rows: pd.Series) -> pd.DataFrame:
    """The report's values (ROW and the fields) of these source rows, in their order."""
    frame = report.normalized
    positions = pd.Index(frame[ROW]).get_indexer(rows)
    return frame.take(positions[positions >= 0])[[ROW, *FIELDS]].reset_index(drop=True)


def apply_edits(mapped: pd.DataFrame, edits: pd.DataFrame) -> pd.DataFrame:
    """The mapped rows with the values of the rows in `edits` (matched by source row). Only the
    columns that an edit changes are copied; the others stay shared with `mapped`."""
    positions = pd.Index(mapped[ROW]).get_indexer(edits[ROW])
    edits, positions = edits[positions >= 0], positions[positions >= 0]
    updated = mapped.copy(deep=False)
    for field in FIELDS:
        new = edits[field].fillna("").astype(str).to_numpy(dtype=object)
        if (mapped[field].iloc[positions].to_numpy(dtype=object) != new).any():
            column = mapped[field].copy()
            column.iloc[positions] = new
            updated[field] = column
    return updated


def row_statuses(report: ValidationReport, positions: np.ndarray | None = None) -> pd.DataFrame:
    """Every row (or the rows at these positions) with what the commit will do to it: "ok",
    "invalid: …" or "duplicate of row N"."""
    rows = report.normalized if positions is None else report.normalized.take(positions)
    status = pd.Series("ok", index=rows.index, dtype=object)
    problems = _problems_by_row(report)
    numbers = rows[ROW]
    invalid = numbers.isin(problems.index)
    status[invalid] = "invalid: " + numbers[invalid].map(problems).astype(str)
    superseded = report.duplicates.set_index("row")["kept_row"]
    duplicate = numbers.isin(superseded.index)
    status[duplicate] = "duplicate of row " + numbers[duplicate].map(superseded).astype(str)
    return rows.assign(status=status)[[ROW, "status", *FIELDS]].reset_index(drop=True)


def _problems_by_row(report: ValidationReport) -> pd.Series:
    return report.problems_by_row


def changed_rows(shown: pd.DataFrame, edited: pd.DataFrame) -> set[int]:
    """Source rows whose field values differ between shown and edited."""
    before = shown.set_index(ROW)[list(FIELDS)].fillna("").astype(str)
    after = edited.set_index(ROW)[list(FIELDS)].fillna("").astype(str)
    after = after[after.index.isin(before.index)]
    return set(after.index[(before.loc[after.index] != after).any(axis=1)].astype(int))
