"""One way to count an import (issue 19, point 3). Each name below has one meaning, computed here
and shown the same by the wizard, History, the CLI and the API (README, "Counts"):

    rows = invalid + skipped + duplicates + suppressed + inserted + updated + unchanged + already_there + not_found
    valid = rows - invalid - skipped - duplicates - suppressed  (the rows a commit writes, links or its mode leaves out)
    total_rows = inserted + updated + unchanged              (the seed's: contacts linked)
    written = inserted + updated                             (contacts whose stored values changed)

>>> counts = Counts(rows=12, invalid=2, duplicates=1, inserted=1, updated=0, unchanged=8)
>>> counts.valid, counts.total_rows, counts.written, counts.adds_up
(9, 9, 1, True)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# What each count is called on screen, in this order.
LABELS = {
    "rows": "Rows in file",
    "valid": "Valid",
    "invalid": "Invalid",
    "skipped": "Skipped by you",
    "duplicates": "Duplicates in file",
    "suppressed": "Suppressed",
    "inserted": "Inserted",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "already_there": "Already there",
    "not_found": "Not found",
    "total_rows": "Contacts linked",
    "written": "Contacts written",
}
# One sentence each, for README's table and the API's docs.
MEANINGS = {
    "rows": "rows the file held (for an import filled in batches, all its batches' rows)",
    "valid": "rows to commit: rows - invalid - skipped - duplicates - suppressed",
    "invalid": "rows left out for a problem (each with its row, column and reason)",
    "skipped": "valid rows the user chose to leave out (possibly the same person as another contact)",
    "duplicates": "rows whose email a later row repeats: the later row is imported instead",
    "suppressed": "rows whose email is on the suppression list (erased or opted out): never written",
    "inserted": "new contacts created",
    "updated": "stored contacts at least one of whose values changed",
    "unchanged": "stored contacts linked to the import, already holding these values",
    "already_there": "rows whose email is stored, left as it is by an import that only creates",
    "not_found": "rows whose email is not stored, left out by an import that only updates",
    "total_rows": "contacts linked to the import: inserted + updated + unchanged (the seed's total_rows)",
    "written": "contacts created or changed: inserted + updated",
}


@dataclass(frozen=True)
class Counts:
    rows: int = 0
    invalid: int = 0
    skipped: int = 0
    duplicates: int = 0
    suppressed: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    already_there: int = 0
    not_found: int = 0

    @property
    def valid(self) -> int:
        return self.rows - self.invalid - self.skipped - self.duplicates - self.suppressed

    @property
    def total_rows(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    @property
    def adds_up(self) -> bool:
        """Every row lands in exactly one count (once the import is committed)."""
        return self.valid == self.total_rows + self.already_there + self.not_found

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "valid": self.valid, "total_rows": self.total_rows, "written": self.written}

    def labelled(self, *names: str) -> list[tuple[str, int]]:
        """(label, value) of these counts, for metrics."""
        values = self.as_dict()
        return [(LABELS[name], values[name]) for name in names]


def of_report(report) -> Counts:
    """What validation found in a file (a core.rows.validation.ValidationReport): nothing written yet."""
    return Counts(rows=report.rows, invalid=report.invalid, skipped=report.skipped,
                  duplicates=len(report.duplicates), suppressed=report.suppressed)


def planned(report, review) -> Counts:
    """What a commit would do now: the file's counts with the review's (core.storage.review.Review)."""
    return Counts(rows=report.rows, invalid=report.invalid, skipped=report.skipped,
                  duplicates=len(report.duplicates), suppressed=report.suppressed, inserted=review.will_insert,
                  updated=review.will_update, unchanged=review.unchanged,
                  already_there=review.already_there, not_found=review.not_found)


def of_record(record: dict) -> Counts:
    """The counts an import record holds (core.storage.history.get_import); 0 for what it never had."""
    return Counts(**{name: int(record.get("file_rows" if name == "rows" else name) or 0)
                     for name in ("rows", "invalid", "skipped", "duplicates", "suppressed", "inserted", "updated", "unchanged",
                                  "already_there", "not_found")})
