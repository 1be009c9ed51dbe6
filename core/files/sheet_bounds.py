"""How big an .xlsx sheet really is, found on the zip before calamine reads it (issue 9, point 1).

calamine allocates the sheet's whole rectangle, from A1 to its last cell, before Python sees a
row: a 1.7 KB workbook with cells at A1 and XFD1048576 asks for 550 GB and aborts the process, and
a 920 KB zip can hold 450 MB of sheet XML. So the sheet's XML is streamed once here, with its
expansion and size capped, and the rectangle its cells span is measured and bounded.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from posixpath import dirname, join, normpath
from typing import Iterator

from core.errors import UnreadableFile

MAX_COLUMNS = 1_000
# Reading a sheet peaks at about 140 bytes a cell (calamine's copy, then the Python strings):
# 10 million cells peaked at 1.58 GB, so 7 million (700,000 rows of ten columns) stay near 1.1 GB.
MAX_SHEET_CELLS = 7_000_000
MAX_SHEET_XML_BYTES = 1 << 30
MAX_XML_EXPANSION = 200  # spreadsheet XML deflates 5 to 20 times; a zip bomb thousands of times
_SMALL_PART = 16 << 20  # workbook.xml and its relationships
_CHUNK = 4 << 20

_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_CELL_COLUMN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br=[\"']([A-Z]{1,4})[0-9]")
_CELL_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br=[\"'][A-Z]{1,4}([0-9]{1,9})[\"']")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_POSITION_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)")
_REF = re.compile(rb"\br=[\"']([A-Z]{0,4})([0-9]{0,9})[\"']")
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass
class SheetSize:
    rows: int = 0        # the last row a cell is in (or the number of rows, for cells without r)
    columns: int = 0     # the last column a cell is in, 1 for A
    cells: int = 0       # cell elements
    refs: int = 0        # cell elements that carry their reference (r="B7")
    row_tags: int = 0


def check_workbook(book: zipfile.ZipFile, file_name: str) -> None:
    """Before the workbook is opened: calamine reads every shared string when it opens one."""
    for info in book.infolist():
        _check_expansion(info, file_name)
        if info.filename.endswith("sharedStrings.xml") and info.file_size > MAX_SHEET_XML_BYTES:
            raise UnreadableFile(file_name, f"its shared strings take more than {MAX_SHEET_XML_BYTES >> 20:,} "
                                 "MB of XML.", "Save it as CSV UTF-8 and upload that file.")


def check_sheet(book: zipfile.ZipFile, file_name: str, sheet: str) -> None:
    """Raise UnreadableFile, before any of it is read, for a sheet too big to read safely."""
    part = _sheet_part(book, sheet)
    if part is None:
        return  # calamine reports the missing part in its own words
    size = measure_sheet(book, part, file_name)
    if size.refs < size.cells:  # some cells give no reference: each follows the one before it
        if size.cells > MAX_SHEET_CELLS:
            _refuse_cells(size.cells, file_name, sheet)
        size.rows, size.columns = _walk_positions(book, part, file_name)
    _check_rectangle(size, file_name, sheet)


def measure_sheet(book: zipfile.ZipFile, part: str, file_name: str) -> SheetSize:
    size = SheetSize()
    for xml in _xml_pieces(book, part, file_name):
        _measure(size, xml)
    size.rows = max(size.rows, size.row_tags)
    return size


def _xml_pieces(book: zipfile.ZipFile, part: str, file_name: str) -> Iterator[bytes]:
    """The part's XML in pieces of a few MB that end at a tag's end, up to MAX_SHEET_XML_BYTES."""
    carry, total = b"", 0
    with book.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
            if total > MAX_SHEET_XML_BYTES:
                raise UnreadableFile(file_name, f"its sheet holds more than {MAX_SHEET_XML_BYTES >> 20:,} "
                                     "MB of spreadsheet XML.", "Save it as CSV UTF-8 and upload that file.")
            data = carry + chunk
            cut = data.rfind(b">") + 1 or len(data)  # no tag is cut in two between the pieces
            yield data[:cut]
            carry = data[cut:]
    yield carry


def _measure(size: SheetSize, xml: bytes) -> None:
    size.cells += len(_CELL_TAG.findall(xml))
    size.row_tags += len(_ROW_TAG.findall(xml))
    columns = _CELL_COLUMN.findall(xml)
    size.refs += len(columns)
    if columns:  # sets first: a chunk holds some 100,000 cells but few distinct columns and rows
        size.columns = max(size.columns, column_number(max(set(columns), key=_numeric).decode()))
        size.rows = max(size.rows, int(max(set(_CELL_ROW.findall(xml)), key=_numeric)))


def _numeric(digits_or_letters: bytes) -> tuple[int, bytes]:
    return len(digits_or_letters), digits_or_letters


def _walk_positions(book: zipfile.ZipFile, part: str, file_name: str) -> tuple[int, int]:
    """(last row, last column) cell by cell, as calamine places cells that carry no reference:
    one column right of the cell before, in the row after the row before. Slower than
    measure_sheet, so only for such sheets, and only once their cell count is known to be bounded."""
    row = column = last_row = last_column = 0
    matches = (m for xml in _xml_pieces(book, part, file_name) for m in _POSITION_TAG.finditer(xml))
    for match in matches:
        ref = _REF.search(match.group(2))
        if match.group(1) == b"row":
            row = int(ref.group(2)) if ref and ref.group(2) else row + 1
            column = 0
        else:
            if ref and ref.group(1):
                column = column_number(ref.group(1).decode())
                row = int(ref.group(2)) if ref.group(2) else row
            else:
                column += 1
            last_row, last_column = max(last_row, row), max(last_column, column)
    return last_row, last_column


def column_number(letters: str) -> int:
    """'A' -> 1, 'XFD' -> 16384."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _check_expansion(info: zipfile.ZipInfo, file_name: str) -> None:
    packed = max(info.compress_size, 1)
    if info.file_size > 10 << 20 and info.file_size / packed > MAX_XML_EXPANSION:
        raise UnreadableFile(file_name, f"its part {info.filename} unpacks from {packed:,} bytes to "
                             f"{info.file_size:,} ({info.file_size // packed:,} times): this is not a "
                             "spreadsheet Excel wrote "
                             "(a zip bomb?).", "Open it in Excel and save it again, or save it as CSV UTF-8.")


def _check_rectangle(size: SheetSize, file_name: str, sheet: str) -> None:
    if size.columns > MAX_COLUMNS:
        raise UnreadableFile(file_name, f"sheet '{sheet}' reaches column {size.columns:,}; the limit is "
                             f"{MAX_COLUMNS:,} columns.", "Delete the columns to the right of the contacts "
                             "(a stray cell far to the right counts too), or save the sheet as CSV UTF-8.")
    if size.rows * size.columns > MAX_SHEET_CELLS:
        _refuse_cells(size.rows * size.columns, file_name, sheet,
                      f" spans {size.rows:,} rows by {size.columns:,} columns")


def _refuse_cells(cells: int, file_name: str, sheet: str, shape: str = " has") -> None:
    raise UnreadableFile(file_name, f"sheet '{sheet}'{shape} ({cells:,} cells); the limit for Excel files "
                         f"is {MAX_SHEET_CELLS:,} cells.", "Save it as CSV UTF-8 (no cell limit) and upload "
                         "that, or delete the rows and columns past the contacts.")


def _sheet_part(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the named sheet, through xl/workbook.xml and its relationships."""
    workbook = _small_xml(book, "xl/workbook.xml")
    rels = _small_xml(book, "xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return None
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(_RELS)}
    for element in workbook.iter():
        if element.tag.endswith("}sheet") and element.get("name") == sheet:
            target = targets.get(element.get(_DOC_RELS), "")
            name = target.lstrip("/") if target.startswith("/") else normpath(join(dirname("xl/workbook.xml"), target))
            return name if name in book.NameToInfo else None
    return None


def _small_xml(book: zipfile.ZipFile, name: str) -> ET.Element | None:
    try:
        info = book.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _SMALL_PART:
        return None
    with book.open(info) as stream:
        data = stream.read(_SMALL_PART + 1)
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        return None
