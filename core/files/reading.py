"""Read an uploaded CSV, Excel (.xlsx) or JSON file into a frame of strings that keeps each row's
source row number, and say what was detected on the way.

Row numbers are what a person sees in a spreadsheet: the header is row 1, the first contact row 2
(past a preamble such as LinkedIn's "Notes:" lines, the header's own row number counts). In a JSON
array, row N is the N-th object.

Speed (issue 5): the common file, UTF-8 or any ASCII-compatible text with the header on row 1 and
every row as wide as the header, goes through pandas' C parser in one pass. Only when that pass
reports a problem (a ragged row, a preamble, a footer, an unclosed quote) is the file read again
record by record with the csv module, which can say exactly which row is wrong.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterable, Iterator
from uuid import uuid4

import charset_normalizer
import numpy as np
import pandas as pd

from core.errors import UnreadableFile, plural
from core.fields import ROW
from core.files.record_widths import record_widths
from core.files.sheet_bounds import MAX_COLUMNS, check_sheet, check_workbook

DELIMITERS = (",", ";", "\t", "|")
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_ROWS = 2_000_000
MAX_CELL_CHARS = 10_000
ROW_ERROR_COLUMNS = ("row", "column", "reason", "value")
WHOLE_ROW = "(whole row)"

_SNIFF_BYTES = 64 * 1024
_SNIFF_RECORDS = 200
_SCAN_CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A lone UTF-16 surrogate, which a JSON "\ud800" escape decodes to: not text, and not storable.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_FOOTER_WORDS = re.compile(r"(?i)copyright|\(c\)|©|all rights reserved|confidential|generated|"
                           r"exported|grand total|total|records?\b|report")
# Single-byte Latin code pages that charset-normalizer often proposes for short Windows-1252 text.
_LATIN_GUESSES = {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "mac_roman", "mac_latin2",
                  "cp850", "cp437", "cp852", "cp775", "cp858"}
_MAGIC = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"), (b"\x7fELF", "a program"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or Word .doc) file"),
    (b"RIFF", "a media file"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
)


_NO_ROW_ERRORS = pd.DataFrame({"row": pd.Series(dtype=int), "column": pd.Series(dtype=str),
                               "reason": pd.Series(dtype=str), "value": pd.Series(dtype=str)})


def empty_row_errors() -> pd.DataFrame:
    return _NO_ROW_ERRORS.copy()  # a copy costs a tenth of building the frame, every small batch


@dataclass
class SourceFile:
    """What was read: the rows (all strings, plus ROW) and what was detected on the way.

    frame keeps every data row, also those listed in row_errors (ragged rows are padded or cut to
    the header's width) so that a person can see and fix them; core.importing leaves those rows out
    of the import and reports the errors with the validation errors.
    """

    frame: pd.DataFrame
    file_name: str
    format: str                       # "csv", "xlsx" or "json"
    encoding: str                     # codec used ("utf-8", "utf-8-sig", "cp1252", "utf-16", "xlsx")
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)      # what a person should know, in sentences
    header_row: int | None = None                       # spreadsheet row of the header (None: JSON)
    skipped_preamble: list[str] = field(default_factory=list)  # non-blank lines above the header
    skipped_footer: list[str] = field(default_factory=list)    # lines after the last contact row
    line_ending: str | None = None                      # "LF", "CRLF" or "CR"
    sheet: str | None = None                            # the sheet read, for a workbook
    sheet_names: list[str] = field(default_factory=list)
    renamed_headers: dict[str, str] = field(default_factory=dict)  # shown name -> name in the file
    row_errors: pd.DataFrame = field(default_factory=empty_row_errors)  # row, column, reason, value
    # JSON only: per key, the rows whose value is not a string (a number, true/false, an object, an
    # array). Such a value is an error only in a column mapped to a text field (core.importing).
    not_text: dict[str, list[int]] = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        return [c for c in self.frame.columns if c != ROW]


def read_contacts(data: bytes, file_name: str, *, encoding: str | None = None,
                  delimiter: str | None = None, header_row: int | None = None,
                  sheet: str | None = None, max_bytes: int = MAX_FILE_BYTES,
                  max_rows: int = MAX_ROWS) -> SourceFile:
    """Read CSV, .xlsx or JSON bytes. The keyword arguments override what is detected.

    >>> read_contacts(b"email,full_name\\nA@x.io,Ann", "a.csv").frame.to_dict("records")
    [{'email': 'A@x.io', 'full_name': 'Ann', '__row__': 2}]
    >>> read_contacts(b"Notes:\\n\\nemail;name\\na@x.io;Ann", "b.csv").header_row
    3
    """
    if len(data) > max_bytes:
        raise UnreadableFile(file_name, f"the file is {_megabytes(len(data))}; the limit is "
                             f"{_megabytes(max_bytes)}.", "Split it into smaller files.")
    if header_row is not None and header_row < 1:
        raise UnreadableFile(file_name, "the header row must be 1 or more.")
    if delimiter is not None and len(delimiter) != 1:
        raise UnreadableFile(file_name, f"the delimiter must be one character, not {delimiter!r}.")
    if _reject_binary(data, file_name) == "xlsx":
        return _read_xlsx(data, file_name, sheet, header_row, max_rows)
    encoding = _codec(encoding, file_name) if encoding else detect_encoding(data, file_name)
    if _looks_like_json(data, encoding, file_name):
        return _read_json(data, encoding, file_name, max_rows)
    return _read_csv(data, encoding, file_name, delimiter, header_row, max_rows)


# --- encoding and file kind --------------------------------------------------------------------

def detect_encoding(data: bytes, file_name: str) -> str:
    """BOM first, then strict UTF-8, then charset-normalizer (Windows-1252 for Latin text)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bomless = _bomless_utf16(data)
    if bomless:
        return bomless
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    guess = charset_normalizer.from_bytes(_non_ascii_sample(data)).best()
    candidates = [guess.encoding] if guess is not None else []
    if guess is None or guess.encoding in _LATIN_GUESSES or guess.encoding == "ascii":
        candidates.insert(0, "cp1252")
    for candidate in candidates:
        try:  # the whole file: a guess from part of it may not hold for the rest
            data.decode(candidate)
            return candidate
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(file_name, "its text encoding could not be recognised.",
                         "Save it again as CSV UTF-8 and upload that file.")


def _non_ascii_sample(data: bytes, limit: int = _SNIFF_BYTES * 4) -> bytes:
    """limit bytes from the line of the file's first non-ASCII byte, wherever it is: a file that is
    ASCII for its first megabyte and Windows-1252 after it is judged by the part that tells."""
    first = _first_non_ascii(data)
    if first is None or first < limit // 2:
        return data[:limit]
    start = data.rfind(b"\n", 0, first) + 1
    return data[start:start + limit]


def _first_non_ascii(data: bytes) -> int | None:
    array = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, len(array), _SCAN_CHUNK):
        high = np.flatnonzero(array[start:start + _SCAN_CHUNK] >= 0x80)
        if len(high):
            return start + int(high[0])
    return None


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: mostly ASCII text has a NUL in every other byte."""
    head = data[:4096]
    if len(head) < 4 or len(head) % 2:
        head = head[:len(head) // 2 * 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    half = len(head) // 2
    for encoding, nuls, text in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nuls.count(0) > 0.9 * half and text.count(0) == 0:
            try:
                data[:len(data) // 2 * 2].decode(encoding)
            except UnicodeDecodeError:
                return None
            return encoding
    return None


def _codec(name: str, file_name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise UnreadableFile(file_name, f"{name!r} is not a text encoding this reader knows.",
                             "Pick one such as utf-8, cp1252 or utf-16.") from None
    return name


def _ascii_compatible(encoding: str) -> bool:
    return not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _reject_binary(data: bytes, file_name: str) -> str | None:
    """Raise UnreadableFile for content that is not text; returns "xlsx" for an Excel workbook."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise UnreadableFile(file_name, "the file is empty.", "Choose the file that holds the contacts.")
    if data.startswith(b"PK"):
        return _zip_kind(data, file_name)
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            hint = ("Open it in Excel and save it as .xlsx or CSV UTF-8." if "xls" in kind
                    else "Export the contacts as CSV and upload that file.")
            raise UnreadableFile(file_name, f"this is a binary file ({kind}), not CSV, Excel or JSON.",
                                 hint)
    head = data[:_SNIFF_BYTES]
    text_bom = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not text_bom and b"\x00" in head and not _bomless_utf16(data):
        raise UnreadableFile(file_name, "this is a binary file (an image, a document or an archive), "
                             "not CSV or JSON.", "Export the contacts as CSV and upload that file.")
    return None


def _zip_kind(data: bytes, file_name: str) -> str:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise UnreadableFile(file_name, "this is a damaged zip archive or Excel workbook.",
                             "Save the file again and upload the new copy.") from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "word/document.xml" in names:
        kind = "a Word document"
    elif "content.xml" in names:
        kind = "an OpenDocument file"
    else:
        kind = "a zip archive"
    raise UnreadableFile(file_name, f"this is {kind}, not an Excel workbook, CSV or JSON.",
                         "Unpack it or save the contacts as .xlsx or CSV UTF-8, then upload that file.")


def _megabytes(size: int) -> str:
    """In binary megabytes, as the upload page and the browser's file dialog count them."""
    if size < 1 << 20:
        return f"{size:,} bytes"
    return f"{size / (1 << 20):,.1f} MB".replace(".0 MB", " MB")


# --- JSON --------------------------------------------------------------------------------------

def _looks_like_json(data: bytes, encoding: str, file_name: str) -> bool:
    if file_name.lower().endswith(".json"):
        return True
    start = data[:_SNIFF_BYTES].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    return start.startswith(("[", "{"))


def _read_json(data: bytes, encoding: str, file_name: str, max_rows: int) -> SourceFile:
    try:
        items = _json_items(data.decode(encoding))
    except RecursionError:
        raise UnreadableFile(file_name, "the JSON is nested too deeply to be a contact list.") from None
    except (ValueError, UnicodeDecodeError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        raise UnreadableFile(file_name, f"the JSON is malformed{where}: {getattr(error, 'msg', error)}.",
                             "Fix the JSON or export the contacts again.") from None
    if not isinstance(items, list):
        raise UnreadableFile(file_name, f"JSON must be an array of contact objects, but this file holds "
                             f"{_json_kind(items)}.", 'Wrap the contacts in [ ... ].')
    if not items:
        raise UnreadableFile(file_name, "the JSON array holds no contacts.")
    _check_row_count(len(items), max_rows, file_name)
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise UnreadableFile(file_name, f"item {position} of the array is {_json_kind(item)}, "
                                 "not a contact object.", "Every item must look like {\"email\": ...}.")
    rows = [{str(key).strip(): _json_cell(value) for key, value in item.items()} for item in items]
    not_text = _not_text(items)
    surrogates = _spell_out_surrogates(rows) if _SURROGATE_ESCAPE.search(data) else empty_row_errors()
    frame = pd.DataFrame.from_records(rows).fillna("").astype(str)
    if frame.columns.empty:
        raise UnreadableFile(file_name, "the JSON objects hold no fields.")
    frame[ROW] = range(1, len(frame) + 1)
    return SourceFile(frame=frame, file_name=file_name, format="json", encoding=encoding,
                      row_errors=_merge_errors(_cell_problems(frame, None), surrogates), not_text=not_text)


def _not_text(items: list[dict]) -> dict[str, list[int]]:
    """SourceFile.not_text of a JSON array's objects (keys as _read_json names them)."""
    found: dict[str, list[int]] = {}
    for number, item in enumerate(items, start=1):
        for key, value in item.items():
            if value is not None and not isinstance(value, str):
                found.setdefault(str(key).strip(), []).append(number)
    return found


def plain_json_objects(data: bytes, keys: Iterable[str], max_rows: int,
                       free_form: str = "metadata") -> tuple[list[str], list[dict]] | None:
    """(the keys in order of first appearance, each object's cells as _read_json reads them) when
    data is a UTF-8 JSON array of 1 to max_rows objects, with no key outside keys, no value but a
    string or null outside the free_form key, and no cell that has a reading problem (over-long,
    a control character, a lone surrogate): a batch
    _read_json would read exactly so, with no reading error. None for anything else, which
    read_contacts then reads and reports."""
    if _SURROGATE_ESCAPE.search(data):
        return None
    try:
        items = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or not 0 < len(items) <= max_rows:
        return None
    allowed, seen, rows = frozenset(keys), {}, []
    for item in items:
        if not isinstance(item, dict) or not allowed.issuperset(item):
            return None
        if any(value is not None and not isinstance(value, str) for key, value in item.items() if key != free_form):
            return None  # a text field sent as a number or an object: the general path reports it
        row = {key: _json_cell(value) for key, value in item.items()}
        if any(len(cell) > MAX_CELL_CHARS or _CONTROL.search(cell) or _SURROGATE.search(cell) for cell in row.values()):
            return None
        seen.update(dict.fromkeys(row))
        rows.append(row)
    return list(seen), rows


def _spell_out_surrogates(rows: list[dict]) -> pd.DataFrame:
    """Lone surrogates (from \\ud800 escapes) in keys and values, spelled out as the escape they
    came from, each value one error: the row is left out, shown as it was written."""
    errors = []
    for number, row in enumerate(rows, start=1):
        for key in [k for k in row if _SURROGATE.search(k)]:
            row[_visible(key)] = row.pop(key)
        for key, text in row.items():
            found = _SURROGATE.search(text)
            if found:
                row[key] = _visible(text)
                errors.append((number, key, f"contains a lone surrogate U+{ord(found.group()):04X} (a \\u "
                               "escape that is not a character), which is not allowed in contact data",
                               preview(row[key], 100)))
    return pd.DataFrame(errors, columns=list(ROW_ERROR_COLUMNS)) if errors else empty_row_errors()


def _json_kind(value) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(value), "a value")


def _json_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, _LongInteger):
        return value.digits
    # Objects (metadata) and other scalars keep their JSON spelling: true, 1.5, {"a": 1}.
    return _json_text(value)


@dataclass(frozen=True)
class _LongInteger:
    """An integer with more digits than Python reads (sys.get_int_max_str_digits()), kept as its
    digits: the row is then judged like any other with too large a number (a row error), rather
    than the whole body refused with Python's own message (issue 21, point 6)."""

    digits: str


def _json_items(text: str):
    """json.loads(text); only a text it refuses is read again keeping over-long integers (a
    parse_int of our own costs every integer a Python call)."""
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(text, parse_int=_integer)  # raises again when the text is malformed


def _integer(text: str) -> int | _LongInteger:
    return _LongInteger(text) if len(text.lstrip("-")) > sys.get_int_max_str_digits() else int(text)


def _json_text(value) -> str:
    """json.dumps(value); a value holding a _LongInteger (a rare text) is written with its digits."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return _json_text_with_long_integers(value)


def _json_text_with_long_integers(value) -> str:
    marker, found = f"long-integer-{uuid4().hex}-", []

    def placeholder(item):
        if not isinstance(item, _LongInteger):
            raise TypeError(f"{type(item).__name__} is not JSON")
        found.append(item.digits)
        return f"{marker}{len(found) - 1}"
    text = json.dumps(value, ensure_ascii=False, default=placeholder)
    for number, digits in enumerate(found):
        text = text.replace(f'"{marker}{number}"', digits)
    return text


# --- CSV: dialect and header -------------------------------------------------------------------

def detect_delimiter(sample: str) -> str:
    """The candidate that splits the most records into the same number (> 1) of fields.

    >>> detect_delimiter("name;email\\nDoe, John;j@x.io\\n")
    ';'
    """
    return _sniff_delimiter(sample, truncated=False)


def _sample_records(sample: str, delimiter: str, truncated: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, skipinitialspace=True, strict=False)
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > _SNIFF_RECORDS:
                truncated = True
                break
    except csv.Error:
        truncated = True
    if truncated and len(records) > 1:
        records.pop()  # the last record of a cut sample may be cut too
    return records


def _width(records: list[list[str]]) -> tuple[int, int]:
    """(most common field count above 1, how many records have it); (1, 0) if none."""
    widths = [len(r) for r in records if len(r) > 1]
    if not widths:
        return 1, 0
    counts = np.bincount(widths)
    width = int(counts.argmax())
    return width, int(counts[width])


def _sniff_delimiter(sample: str, truncated: bool) -> str:
    scores = {}
    for delimiter in DELIMITERS:
        width, count = _width(_sample_records(sample, delimiter, truncated))
        scores[delimiter] = (count, width, delimiter == ",")
    best = max(DELIMITERS, key=lambda d: scores[d])
    return best if scores[best][0] > 0 else ","


def _find_header(records: list[list[str]]) -> int:
    """Index of the header: the first record about as wide as the data, with two names or more.

    Preambles (LinkedIn's "Notes:" and its quoted paragraph, report titles) are narrower.
    """
    width, _ = _width(records)
    needed = max(2, math.ceil(width / 2)) if width > 1 else 1
    for index, record in enumerate(records):
        filled = sum(1 for cell in record if cell.strip())
        if len(record) >= needed and filled >= min(needed, 2):
            return index
    return next((i for i, r in enumerate(records) if any(c.strip() for c in r)), 0)


def _line_ending(sample: str) -> str | None:
    crlf = sample.count("\r\n")
    cr, lf = sample.count("\r") - crlf, sample.count("\n") - crlf
    counts = {"CRLF": crlf, "LF": lf, "CR": cr}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def _unique_headers(raw: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """Strip names, name blank columns, and number repeated names: Email, Email (2)."""
    headers, renamed, notes = [], {}, []
    seen: set[str] = set()
    for position, original in enumerate(raw, start=1):
        name = str(original).strip()
        base = name or f"Column {position}"
        candidate, n = base, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{base} ({n})"
        seen.add(candidate.lower())
        headers.append(candidate)
        if not name:
            renamed[candidate] = name
            notes.append(f"Column {position} has no name in the file; it is shown as '{candidate}'.")
        elif candidate != name:
            renamed[candidate] = name
            notes.append(f"More than one column is named '{name}'; column {position} is shown as "
                         f"'{candidate}'.")
    return headers, renamed, notes


# --- CSV: reading ------------------------------------------------------------------------------

def _read_csv(data: bytes, encoding: str, file_name: str, delimiter: str | None,
              header_row: int | None, max_rows: int) -> SourceFile:
    sample_bytes = data[:_SNIFF_BYTES]
    sample = sample_bytes.decode(encoding, errors="ignore").lstrip("\ufeff")
    if not sample.strip():
        raise UnreadableFile(file_name, "the file is empty.", "Choose the file that holds the contacts.")
    truncated = len(data) > _SNIFF_BYTES
    delimiter = delimiter or _sniff_delimiter(sample, truncated)
    records = _sample_records(sample, delimiter, truncated)
    header_index = header_row - 1 if header_row else _find_header(records)
    if header_index < len(records):
        _check_width(len(records[header_index]), file_name, header_index + 1)
    facts = {"encoding": encoding, "delimiter": delimiter, "line_ending": _line_ending(sample)}
    if header_index == 0 and records:
        source = _fast_csv(data, file_name, records[0], max_rows, facts)
        if source is not None:
            return source
    return _slow_csv(data, file_name, header_index, max_rows, facts)


def _fast_csv(data: bytes, file_name: str, header: list[str], max_rows: int,
              facts: dict) -> SourceFile | None:
    """pandas' C parser in one pass; None when the file needs the exact, record by record reader."""
    headers, renamed, notes = _unique_headers(header)
    try:
        frame = pd.read_csv(io.BytesIO(data), encoding=facts["encoding"], sep=facts["delimiter"],
                            header=0, names=headers, dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=False, engine="c", quotechar='"',
                            doublequote=True, skipinitialspace=True, nrows=max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeError, csv.Error):
        return None
    if not isinstance(frame.index, pd.RangeIndex) or list(frame.columns) != headers:
        return None
    frame[ROW] = range(2, len(frame) + 2)
    frame = _without_blank_rows(frame, headers, data, facts)
    if frame is None:
        return None
    if frame.empty:
        raise UnreadableFile(file_name, "it has a header row but no contact rows.")
    _check_row_count(len(frame), max_rows, file_name)
    scan = data if _ascii_compatible(facts["encoding"]) else None
    return SourceFile(frame=frame, file_name=file_name, format="csv", header_row=1, notes=notes,
                      renamed_headers=renamed, row_errors=_cell_problems(frame, scan), **facts)


def _without_blank_rows(frame: pd.DataFrame, headers: list[str], data: bytes, facts: dict) -> pd.DataFrame | None:
    """The C parser's rows less the blank ones (every cell blank, as the exact reader skips them);
    None when the file needs the exact reader: a short row (fewer fields than the header) holding
    values, which is a row error, or a last row of one value, which may be a footer."""
    last_blank = _blank(frame[headers[-1]])
    blank = last_blank.copy()  # only a row whose last cell is blank can be blank
    if last_blank.any() and len(headers) > 1:
        blank[last_blank] = np.logical_and.reduce([_blank(frame[name][last_blank]) for name in headers[:-1]])
        # pandas fills a short row's missing cells with "", as it reads an empty last cell: tell
        # them apart on the bytes when a row with values ends blank.
        if (last_blank & ~blank).any():
            short = _short_rows(data, facts, len(headers), len(frame))
            if short is None or (short & ~blank).any():
                return None
    kept = frame[~blank].reset_index(drop=True)
    if len(headers) > 1 and len(kept) and (~_blank(kept.iloc[-1][headers])).sum() <= 1:
        return None
    return kept


def _blank(cells: pd.Series) -> np.ndarray:
    """Empty or only spaces (the parser keeps a quoted "  ")."""
    blank = (cells.to_numpy() == "")
    filled = ~blank
    if filled.any():
        blank[filled] = cells[filled].str.isspace().to_numpy(dtype=bool)
    return blank


def _short_rows(data: bytes, facts: dict, width: int, rows: int) -> np.ndarray | None:
    """Which data rows of the file have fewer fields than the header, counted on its bytes
    (core.files.record_widths); None when that cannot be told exactly."""
    if not _ascii_compatible(facts["encoding"]):
        return None
    widths = record_widths(data, facts["delimiter"])
    if widths is None or len(widths) != rows + 1:  # the header's record, then one per frame row
        return None
    return widths[1:] < width


def _slow_csv(data: bytes, file_name: str, header_index: int, max_rows: int, facts: dict) -> SourceFile:
    encoding, delimiter = facts["encoding"], facts["delimiter"]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise UnreadableFile(file_name, f"it is not valid {encoding} text ({error.reason} at byte "
                             f"{error.start}).", "Pick its encoding, or save it again as CSV UTF-8.") from None
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, sys.maxsize)))
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter,
                        quotechar='"', doublequote=True, skipinitialspace=True, strict=False)
    records = _guarded(reader, file_name)
    source = _from_records(records, file_name, header_index, max_rows, delimiter, first_number=1)
    source.format = "csv"
    for key, value in facts.items():
        setattr(source, key, value)
    scan = data if _ascii_compatible(encoding) else None
    source.row_errors = _merge_errors(source.row_errors, _cell_problems(source.frame, scan))
    return source


def _guarded(reader, file_name: str) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise UnreadableFile(file_name, f"it is not a well-formed CSV file near row {reader.line_num}: "
                             f"{error}.", "Check for an unclosed quote.") from None


# --- rows of records (CSV read record by record, and Excel sheets) ------------------------------

def _from_records(records: Iterable[list[str]], file_name: str, header_index: int, max_rows: int,
                  delimiter: str, first_number: int) -> SourceFile:
    """Preamble, header, data rows and footer out of a sequence of records, numbered from
    first_number; ragged rows become row errors."""
    iterator = iter(records)
    preamble = []
    header = None
    number = first_number - 1
    for number, record in enumerate(iterator, start=first_number):
        if number - first_number == header_index:
            header = record
            break
        if any(cell.strip() for cell in record):
            preamble.append(delimiter.join(record).rstrip(delimiter + " ").strip())
    if header is None or not any(cell.strip() for cell in header):
        if number - first_number < header_index and header_index > 0:
            raise UnreadableFile(file_name, f"it has no row {header_index + first_number} to use as "
                                 "the header.", "Pick the row that holds the column names.")
        raise UnreadableFile(file_name, "the file is empty.", "Choose the file that holds the contacts.")
    _check_width(len(header), file_name, header_index + first_number)
    headers, renamed, notes = _unique_headers(header)
    width = len(headers)
    rows: list[tuple[int, list[str] | None]] = []
    kept = 0
    for number, record in enumerate(iterator, start=number + 1):
        if any(cell.strip() for cell in record):
            rows.append((number, record))
            kept += 1
            if kept > max_rows + 100:
                break
        else:
            rows.append((number, None))
    footer = _footer(rows, width)
    if footer:
        rows = rows[:len(rows) - footer[0]]
    data = [(n, r) for n, r in rows if r is not None]
    if not data:
        raise UnreadableFile(file_name, "it has a header row but no contact rows.")
    _check_row_count(len(data), max_rows, file_name)
    columns: list[list[str]] = [[] for _ in range(width)]
    numbers, errors, too_wide = [], [], 0
    padded = _padded_width(data, width)
    for n, record in data:
        if len(record) != width:
            extra = record[width:]
            if len(record) not in (width, padded) or any(cell.strip() for cell in extra):
                too_wide += len(record) > width
                errors.append((n, WHOLE_ROW, f"has {len(record)} values but the header has {width} "
                               "columns", preview(delimiter.join(record))))
            record = (record + [""] * width)[:width]
        numbers.append(n)
        for column, cell in zip(columns, record):
            column.append(cell)
    if too_wide == len(data):
        raise UnreadableFile(file_name, f"every row has more values than the header has columns "
                             f"({width}, in row {header_index + first_number}).",
                             "Check the header row and the delimiter, or quote values that contain "
                             "the delimiter.")
    frame = pd.DataFrame(dict(zip(headers, columns)), columns=headers, dtype=object).astype(str)
    frame[ROW] = numbers
    header_row = header_index + first_number
    if preamble:
        notes.insert(0, f"Skipped {plural(len(preamble), 'line')} above the header, which is row {header_row}.")
    footer_lines = footer[1] if footer else []
    if footer_lines:
        notes.append(f"Skipped {plural(len(footer_lines), 'line')} after the last contact row (a footer).")
    row_errors = pd.DataFrame(errors, columns=list(ROW_ERROR_COLUMNS)) if errors else empty_row_errors()
    return SourceFile(frame=frame, file_name=file_name, format="csv", encoding="", notes=notes,
                      header_row=header_row, skipped_preamble=preamble, skipped_footer=footer_lines,
                      renamed_headers=renamed, row_errors=row_errors)


def _padded_width(data: list[tuple[int, list[str]]], width: int) -> int:
    """The width of most rows when a tool ends every row with empty cells the header lacks.

    Only then are empty cells past the header ignored: in a file whose rows match the header, a
    row with one more cell, empty, most likely holds an unquoted delimiter ("Acme, Inc") and
    an empty last value, so its values sit one column off (issue 9, point 18)."""
    padded = Counter(len(record) for _, record in data
                     if len(record) > width and not any(cell.strip() for cell in record[width:]))
    if not padded:
        return width
    usual, rows = padded.most_common(1)[0]
    exact = sum(1 for _, record in data if len(record) == width)
    return usual if rows > exact else width


def _check_width(columns: int, file_name: str, header_row: int) -> None:
    """A contact needs a handful of columns; thousands make pandas and the mapping screen crawl."""
    if columns > MAX_COLUMNS:
        raise UnreadableFile(file_name, f"its header (row {header_row}) has {columns:,} columns or more; "
                             f"the limit is {MAX_COLUMNS:,}.", "Delete the columns the contacts do not need, "
                             "or check that this is the right file.")


def _footer(rows: list[tuple[int, list[str] | None]], width: int) -> tuple[int, list[str]] | None:
    """(how many trailing records, their text) when the file ends in lines that are not data:
    at most one value each, after a blank line or with words such as "Copyright" or "Generated"."""
    if width < 2:
        return None
    count = 0
    for _, record in reversed(rows):
        if record is not None and sum(1 for cell in record if cell.strip()) > 1:
            break
        count += 1
    block = rows[len(rows) - count:]
    lines = [" ".join(c.strip() for c in r if c.strip()) for _, r in block if r is not None]
    if not lines or count == len(rows):
        return None
    after_blank = block[0][1] is None
    if after_blank or any(_FOOTER_WORDS.search(line) for line in lines):
        return count, lines
    return None


def _check_row_count(rows: int, max_rows: int, file_name: str) -> None:
    if rows > max_rows:
        raise UnreadableFile(file_name, f"it has more than {max_rows:,} rows; the limit is {max_rows:,}.",
                             "Split it into smaller files.")


def preview(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


# --- cell checks -------------------------------------------------------------------------------

def _cell_problems(frame: pd.DataFrame, scan: bytes | None) -> pd.DataFrame:
    """Over-long values and control characters, one error per cell. scan: the raw bytes of an
    ASCII-compatible file, checked first in cheap chunks so that clean files skip the column work."""
    columns = [c for c in frame.columns if c != ROW]
    errors = []
    for column in columns:
        values = frame[column]
        if _max_bytes(values) > MAX_CELL_CHARS:
            long = values.str.len() > MAX_CELL_CHARS
            for n, value in zip(frame.loc[long, ROW], values[long]):
                errors.append((n, column, f"is longer than {MAX_CELL_CHARS:,} characters "
                               f"({len(value):,}); cells are capped at {MAX_CELL_CHARS:,}",
                               preview(value, 100)))
    if scan is None or _has_control_bytes(scan):
        for column in columns:
            values = frame[column]
            found = values.str.contains(_CONTROL.pattern, regex=True)
            for n, value in zip(frame.loc[found, ROW], values[found]):
                char = _CONTROL.search(value).group()
                errors.append((n, column, f"contains the control character U+{ord(char):04X}, which is "
                               "not allowed in contact data", preview(_visible(value), 100)))
    if not errors:
        return empty_row_errors()
    return pd.DataFrame(errors, columns=list(ROW_ERROR_COLUMNS))


def _max_bytes(values: pd.Series) -> int:
    if values.empty:
        return 0
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        return int(pc.max(pc.binary_length(pa.array(values.array))).as_py() or 0)
    except (ImportError, TypeError, ValueError, AttributeError, NotImplementedError):
        return int(values.str.len().max())


def _has_control_bytes(data: bytes) -> bool:
    """True when data holds a byte below 0x20 other than tab, LF and CR, or DEL; chunked so that
    the temporary arrays stay in the CPU cache (a few tens of ms for 175 MB)."""
    if b"\x7f" in data:
        return True
    array = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, len(array), _SCAN_CHUNK):
        chunk = array[start:start + _SCAN_CHUNK]
        low = np.count_nonzero(chunk < 32)
        if low and low > np.count_nonzero(chunk == 10) + np.count_nonzero(chunk == 13) + \
                np.count_nonzero(chunk == 9):
            return True
    return False


def _visible(value: str) -> str:
    value = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _merge_errors(*frames: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_row_errors()
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values(["row"], kind="stable").reset_index(drop=True)


# --- Excel -------------------------------------------------------------------------------------

def _read_xlsx(data: bytes, file_name: str, sheet: str | None, header_row: int | None,
               max_rows: int) -> SourceFile:
    """The first sheet (or the one named) of an .xlsx workbook, through python-calamine."""
    records, chosen, names = _sheet_cells(data, file_name, sheet)
    for row in records:  # in place: a second list of a million rows would double the peak
        row[:] = [_excel_cell(value) for value in row]
    header_index = header_row - 1 if header_row else _find_header(records[:_SNIFF_RECORDS])
    source = _from_records(records, file_name, header_index, max_rows, ",", first_number=1)
    source.format, source.encoding, source.sheet, source.sheet_names = "xlsx", "xlsx", chosen, names
    if len(names) > 1:
        source.notes.insert(0, f"Read sheet '{chosen}' of {len(names)} sheets "
                            f"({', '.join(names)}); pick another sheet if the contacts are there.")
    source.row_errors = _merge_errors(source.row_errors, _cell_problems(source.frame, None))
    return source


def _sheet_cells(data: bytes, file_name: str, sheet: str | None) -> tuple[list[list], str, list[str]]:
    """The cells of the chosen sheet from A1, its name and every sheet's name. calamine's own copy
    of the sheet (about 100 bytes a cell) is freed when this returns, before the frame is built."""
    from python_calamine import CalamineWorkbook

    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        check_workbook(book, file_name)
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(workbook.sheet_names)
        if not names:
            raise UnreadableFile(file_name, "the workbook has no sheets.")
        chosen = names[0] if sheet is None else sheet
        if chosen not in names:
            raise UnreadableFile(file_name, f"it has no sheet named {sheet!r}; its sheets are "
                                 f"{', '.join(repr(n) for n in names)}.", "Pick one of these sheets.")
        check_sheet(book, file_name, chosen)
        return workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False), chosen, names
    except UnreadableFile:
        raise
    except BaseException as error:  # calamine raises its own errors, and pyo3 panics for some files
        if isinstance(error, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        raise UnreadableFile(file_name, f"the Excel workbook cannot be read ({_short(error)}).",
                             "Open it in Excel, save it again as .xlsx or CSV UTF-8, and upload that.") from None


def _excel_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
