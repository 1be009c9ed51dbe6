"""Follow-ups: an import's error file (its rows left out, fixed in a spreadsheet) uploaded again is
recorded as a follow-up of that import (imports.follows), so History shows the two together.

The file names no import (a person may rename it, and a column or a comment added to say so would
change the file they edit). It is recognized by what it holds: the headers of the import's file,
and "errors" cells that say what the import said of those rows, word for word."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.files.reading import SourceFile
from core.rows.error_file import is_error_file

SAMPLE = 5  # rows of the file whose errors cell must match the import's own (a row fixed may be edited)
NEWEST = 20  # imports of the same headers looked at, newest first


def find_followed(engine: Engine, file: SourceFile) -> str | None:
    """The import whose error file this file is, or None: the newest import of the same headers
    that rejected the file's rows with the same words (every one of its first SAMPLE rows)."""
    if not is_error_file(file):
        return None
    *headers, errors = file.headers
    said = file.frame[errors].astype(str)
    said = list(dict.fromkeys(said[said.str.strip() != ""].head(SAMPLE)))
    with engine.connect() as conn:
        newest = conn.execute(sa.text(
            "SELECT id FROM imports WHERE file_headers = CAST(:h AS text[]) ORDER BY created_at DESC LIMIT :newest"),
            {"h": _original_headers(file, headers), "newest": NEWEST}).scalars().all()
        if not newest:
            return None
        # each cell begins "row N:", so a cell matches the row it was written for, and no other
        matching = dict(conn.execute(sa.text(
            "SELECT import_id, count(*) FROM import_error_rows "
            "WHERE import_id = ANY(CAST(:ids AS uuid[])) AND errors = ANY(CAST(:said AS text[])) GROUP BY import_id"),
            {"ids": newest, "said": said}).all())
    return next((str(key) for key in newest if matching.get(key) == len(said)), None)


def _original_headers(file: SourceFile, shown: list[str]) -> list[str]:
    """The headers as the file wrote them (the error file repeats the first file's)."""
    return [file.renamed_headers.get(name, name) for name in shown]


def follow_ups(engine: Engine, import_id: str) -> list[dict]:
    """The imports that follow this one (its error file uploaded again), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id::text AS id, file_name, status, created_at, inserted, updated, invalid FROM imports "
            "WHERE follows = CAST(:id AS uuid) ORDER BY created_at"), {"id": import_id}).mappings()
        return [dict(row) for row in rows]
