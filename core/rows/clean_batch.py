"""A clean small batch: a few rows, each a valid contact with an email of its own, which is what
most API calls send. It is checked one value at a time, without pandas, whose fixed cost per
operation made validation two thirds of a 1-row call, and committed like a ValidationReport.

The batch is clean or it is not: this path never finds a row invalid, so it cannot report one
differently. Any batch with a problem (or a repeated email) goes the general way, which reports
each problem; tests/test_clean_batch.py holds the two ways equal on the batches this one takes."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from core.fields import FIELDS, REQUIRED_FIELDS, ROW
from core.files.reading import empty_row_errors
from core.rows.validation import VALUE_CHECKS, normalize_value, schema_rules

# At most this many rows take the clean path; larger batches are what pandas is fast at.
SMALL_BATCH_ROWS = 1_000


@dataclass(frozen=True)
class CleanBatch:
    """What validate() would report of a clean batch: every row valid, none repeated."""

    headers: list[str]       # the keys of the batch's objects, in order of first appearance
    values: dict[str, list]  # ROW and each field -> its normalized values, in file order
    suppressed_rows: tuple = ()  # rows left out because their email is suppressed

    invalid = skipped = 0
    duplicates = ()
    fixes = ()  # a clean batch is offered none (a call that asks for fixes does not come this way)

    @property
    def fixes_applied(self) -> dict[str, int]:
        return {}

    @property
    def rows(self) -> int:
        return len(self.values[ROW])

    @property
    def valid_count(self) -> int:
        return self.rows

    @property
    def errors(self) -> pd.DataFrame:
        return empty_row_errors()

    def error_report(self) -> pd.DataFrame:
        return empty_row_errors()

    def valid_table(self) -> pa.Table:
        return pa.table({ROW: pa.array(self.values[ROW], pa.int64()),
                         **{field: pa.array(self.values[field], pa.large_string()) for field in FIELDS}})

    def kept_emails(self, limit: int) -> list[str]:
        return self.values["email"][:limit]

    @property
    def emails(self) -> list[str]:
        return self.values["email"]

    @property
    def suppressed(self) -> int:
        return len(self.suppressed_rows)

    def without(self, positions) -> "CleanBatch":
        """The batch without the rows at these positions (suppressed)."""
        gone = set(int(p) for p in positions)
        values = {name: [v for i, v in enumerate(column) if i not in gone] for name, column in self.values.items()}
        rows = tuple(self.values[ROW][p] for p in sorted(gone))
        return CleanBatch(self.headers, values, self.suppressed_rows + rows)


def clean_batch(headers: list[str], rows: list[dict[str, str]]) -> CleanBatch | None:
    """The batch normalized, when its objects' keys are the contact fields (so the suggested
    mapping takes each key for its field), every row passes every rule and no email repeats;
    None otherwise."""
    if len(rows) > SMALL_BATCH_ROWS or not set(REQUIRED_FIELDS).issubset(headers):
        return None
    values = {ROW: list(range(1, len(rows) + 1)), **{field: [] for field in FIELDS}}
    for row in rows:
        for field in FIELDS:
            values[field].append(normalize_value(field, row.get(field, "")))
    rules = [(values[column], VALUE_CHECKS[check]) for column, check in schema_rules()]
    if not all(passes(value) for column, passes in rules for value in column):
        return None
    if len(set(values["email"])) < len(rows):
        return None
    return CleanBatch(headers=headers, values=values)
