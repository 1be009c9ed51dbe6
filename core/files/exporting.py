"""Export-safe CSV: values from uploaded files are stored verbatim, but a spreadsheet must never run
them as formulas when a person opens an export (CSV injection; OWASP "CSV Injection").

A cell (or a column name) that starts with =, +, -, @, tab or carriage return is prefixed with '.
"""
from __future__ import annotations

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """'=1+1' -> "'=1+1"; other values, and non-strings, unchanged.

    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("Ann")
    ('\\'=HYPERLINK("http://x")', 'Ann')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of frame whose text cells and column names cannot start a formula."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.astype("object")
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES)).astype(bool)
            if risky.any():
                safe[column] = text.where(~risky, "'" + text[risky].astype(str))
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe


def to_export_csv(frame: pd.DataFrame, *, bom: bool = True) -> bytes:
    """CSV bytes of frame for download: formulas neutralised, UTF-8 with a BOM so Excel reads the
    accents right, every row ending in CRLF as RFC 4180 says.

    >>> to_export_csv(pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "Ann"]}), bom=False)
    b"name\\r\\n'=cmd|' /C calc'!A0\\r\\nAnn\\r\\n"
    """
    text = export_safe(frame).to_csv(index=False, lineterminator="\r\n")
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
