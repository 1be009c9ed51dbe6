"""Exports that are safe to open in a spreadsheet."""
from __future__ import annotations

import pandas as pd

# A cell starting with one of these is run as a formula by Excel, Sheets or LibreOffice
# (OWASP "CSV injection"); a leading apostrophe makes it plain text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM, so Excel reads accents right) with every formula neutralised.

    >>> safe_csv(pd.DataFrame({"v": ["=1+1", "ok"]}))
    b"\\xef\\xbb\\xbfv\\r\\n'=1+1\\r\\nok\\r\\n"
    """
    cleaned = frame.astype(object).map(neutralise)
    cleaned.columns = [neutralise(str(c)) for c in cleaned.columns]
    # CRLF as RFC 4180 says; it also makes the writer quote values holding a lone CR.
    return cleaned.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
