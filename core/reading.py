"""Read an uploaded CSV or JSON file into a frame of strings that keeps each row's source row number.

Row numbers are what a person sees in a spreadsheet: the header is row 1, the first contact row 2.
In a JSON array, row N is the N-th object.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field

import charset_normalizer
import pandas as pd

from core.errors import UnreadableFile
from core.fields import ROW

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_PANDAS_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@dataclass
class SourceFile:
    """What was read: the rows (all strings, plus ROW) and what was detected on the way."""

    frame: pd.DataFrame
    file_name: str
    format: str
    encoding: str
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [c for c in self.frame.columns if c != ROW]


def read_contacts(data: bytes, file_name: str) -> SourceFile:
    """Read CSV or JSON bytes.

    >>> read_contacts(b"email,full_name\\nA@x.io,Ann", "a.csv").frame.to_dict("records")
    [{'email': 'A@x.io', 'full_name': 'Ann', '__row__': 2}]
    """
    _reject_binary(data, file_name)
    encoding = detect_encoding(data, file_name)
    if _looks_like_json(data, encoding, file_name):
        return _read_json(data, encoding, file_name)
    return _read_csv(data, encoding, file_name)


def detect_encoding(data: bytes, file_name: str) -> str:
    """BOM first, then strict UTF-8, then the best guess of charset-normalizer (cp1252 and kin)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    guess = charset_normalizer.from_bytes(data[:_SNIFF_BYTES * 4]).best()
    if guess is None:
        raise UnreadableFile(file_name, "its text encoding could not be recognised.",
                             "Save it again as CSV UTF-8 and upload that file.")
    return guess.encoding


def _reject_binary(data: bytes, file_name: str) -> None:
    if not data.strip():
        raise UnreadableFile(file_name, "the file is empty.", "Choose the file that holds the contacts.")
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(file_name, "this is an Excel workbook or a zip archive, not CSV or JSON.",
                             "In Excel use File > Save As > CSV UTF-8, then upload the CSV.")
    head = data[:_SNIFF_BYTES]
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and b"\x00" in head:
        raise UnreadableFile(file_name, "this is a binary file (an image, a document or an archive), "
                             "not CSV or JSON.", "Export the contacts as CSV and upload that file.")


def _looks_like_json(data: bytes, encoding: str, file_name: str) -> bool:
    if file_name.lower().endswith(".json"):
        return True
    start = data[:_SNIFF_BYTES].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    return start.startswith(("[", "{"))


def _read_json(data: bytes, encoding: str, file_name: str) -> SourceFile:
    try:
        items = json.loads(data.decode(encoding))
    except (ValueError, UnicodeDecodeError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        raise UnreadableFile(file_name, f"the JSON is malformed{where}: {getattr(error, 'msg', error)}.",
                             "Fix the JSON or export the contacts again.") from None
    if not isinstance(items, list):
        raise UnreadableFile(file_name, f"JSON must be an array of contact objects, but this file holds "
                             f"{_json_kind(items)}.", 'Wrap the contacts in [ ... ].')
    if not items:
        raise UnreadableFile(file_name, "the JSON array holds no contacts.")
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise UnreadableFile(file_name, f"item {position} of the array is {_json_kind(item)}, "
                                 "not a contact object.", "Every item must look like {\"email\": ...}.")
    rows = [{key: _json_cell(value) for key, value in item.items()} for item in items]
    frame = pd.DataFrame.from_records(rows).fillna("").astype(str)
    frame[ROW] = range(1, len(frame) + 1)
    return SourceFile(frame=frame, file_name=file_name, format="json", encoding=encoding)


def _json_kind(value) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(value), "a value")


def _json_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # Objects (metadata) and other scalars keep their JSON spelling: true, 1.5, {"a": 1}.
    return json.dumps(value, ensure_ascii=False)


def detect_delimiter(sample: str) -> str:
    """The candidate that splits the header line into the most fields (comma on a tie)."""
    first_line = next(iter(sample.splitlines()), "")
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


def _read_csv(data: bytes, encoding: str, file_name: str) -> SourceFile:
    sample = data[:_SNIFF_BYTES].decode(encoding, errors="ignore").lstrip("\ufeff")
    delimiter = detect_delimiter(sample)
    try:
        frame = pd.read_csv(io.BytesIO(data), encoding=encoding, sep=delimiter, dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False,
                            engine="c", quotechar='"', doublequote=True)
    except pd.errors.ParserError as error:
        raise _ragged_row_error(file_name, str(error)) from None
    except pd.errors.EmptyDataError:
        raise UnreadableFile(file_name, "the file is empty.") from None
    except UnicodeDecodeError as error:
        raise UnreadableFile(file_name, f"it is not valid {encoding} text ({error.reason}).",
                             "Save it again as CSV UTF-8.") from None
    if not isinstance(frame.index, pd.RangeIndex):
        raise UnreadableFile(file_name, "row 2 has more values than the header has columns.",
                             "Check the header row and the delimiter.")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame[ROW] = range(2, len(frame) + 2)
    # Blank lines are dropped after numbering, so later row numbers still match the file.
    frame = frame[frame.drop(columns=ROW).ne("").any(axis=1)].reset_index(drop=True)
    if frame.empty:
        raise UnreadableFile(file_name, "it has a header row but no contact rows.")
    return SourceFile(frame=frame, file_name=file_name, format="csv", encoding=encoding,
                      delimiter=delimiter)


def _ragged_row_error(file_name: str, message: str) -> UnreadableFile:
    found = _PANDAS_LINE.search(message)
    if not found:
        return UnreadableFile(file_name, "it is not a well-formed CSV file.",
                              "Check for an unclosed quote.")
    expected, line, saw = found.groups()
    return UnreadableFile(file_name, f"row {line} has {saw} values but the header has {expected} columns.",
                          "Quote values that contain the delimiter, or remove the extra values.")
