"""Export-safe CSV: values from uploaded files are stored verbatim, but a spreadsheet must never run
them as formulas when a person opens an export (CSV injection; OWASP "CSV Injection").

A cell (or a column name) that starts with =, +, -, @, tab or carriage return is prefixed with '.
So is a text cell that a spreadsheet would turn into a number, a date, a time or a truth value
(a ZIP code 02134 would lose its zero, 3/4 would become a date), and one that starts with an
apostrophe: the guard is then exactly reversible (core.rows.error_file.restored takes it off when an
error file comes back).
"""
from __future__ import annotations

import re

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
GUARDED = (*FORMULA_PREFIXES, "'")
# Text a spreadsheet reads as something else when it opens a CSV file: numbers (with thousands
# separators, a decimal comma or point, an exponent, a percent sign), dates, times, TRUE/FALSE.
CONVERTED = re.compile(r"""
    [+-]?(\d[\d,.\s]*|[.,]\d+)([eE][+-]?\d+)?%?        # 0012, 1,5, 1e5, 12%
  | \d{1,4}[/.-]\d{1,2}([/.-]\d{1,4})?                   # 3/4, 2026-12-07, 07.12.26
  | \d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?(\s?[AaPp][Mm])?      # 00:30, 12:30:00 PM
  | (?i:true|false)
""", re.VERBOSE)


def needs_guard(value: str) -> bool:
    """Whether a text cell gets an apostrophe in front in an export.

    >>> [needs_guard(v) for v in ("=1+1", "'a", "02134", "3/4", "Ann", "3M", "")]
    [True, True, True, True, False, False, False]
    """
    return value.startswith(GUARDED) or CONVERTED.fullmatch(value.strip()) is not None


def neutralise(value):
    """'=1+1' -> "'=1+1", "'quoted" -> "''quoted"; other values, and non-strings, unchanged.

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("Ann"), neutralise("'a")
    ('\\'=HYPERLINK("http://x")', 'Ann', "''a")
    """
    if isinstance(value, str) and needs_guard(value):
        return "'" + value
    return value


def export_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text cells and column names cannot start a formula nor be read as
    another type (numbers, whatever their dtype, stay numbers)."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.astype("object")
            risky = text.map(lambda v: isinstance(v, str) and needs_guard(v)).astype(bool)
            if risky.any():
                safe[column] = text.where(~risky, "'" + text[risky].astype(str))
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe


def to_export_csv(frame: pd.DataFrame, *, bom: bool = True, header: bool = True) -> bytes:
    """CSV bytes of frame for download: formulas neutralised, UTF-8 with a BOM so Excel reads the
    accents right, every row ending in CRLF as RFC 4180 says. A later chunk of a download goes
    without the BOM and the header.

    >>> to_export_csv(pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "Ann"]}), bom=False)
    b"name\\r\\n'=cmd|' /C calc'!A0\\r\\nAnn\\r\\n"
    """
    text = export_safe(frame).to_csv(index=False, header=header, lineterminator="\r\n")
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def error_file_name(file_name: str | None) -> str:
    """The error file's name, the same in the wizard and in History: contacts.csv -> contacts-errors.csv."""
    stem = (file_name or "import").rsplit(".", 1)[0] or "import"
    return f"{stem}-errors.csv"


TEMPLATE_ROW = {"full_name": "Jane Smith", "email": "jane@example.com",
                "linkedin_profile": "https://www.linkedin.com/in/janesmith", "company": "Tech Corp",
                "locale": "en-US", "timezone": "America/New_York", "metadata": '{"source": "template"}'}


def template_csv() -> bytes:
    """A CSV to start from: every field as a column, one example contact that imports as it is."""
    return to_export_csv(pd.DataFrame([TEMPLATE_ROW]))
