"""Files built to take the server down (issue 9, points 1 and 11): refused in well under a second
with a message that says what is wrong, before the Excel reader allocates anything."""
from __future__ import annotations

import io
import tomllib
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from core.errors import UnreadableFile
from core.storage.embedded import PROJECT_ROOT
from core.files.reading import MAX_FILE_BYTES, read_contacts
from core.files.sheet_bounds import MAX_COLUMNS, _walk_positions, column_number
from tests.workbooks import xlsx_bytes, xlsx_with_rows_xml


def _inline(text: str, ref: str = "") -> str:
    where = f' r="{ref}"' if ref else ""
    return f'<c{where} t="inlineStr"><is><t>{text}</t></is></c>'


def test_column_letters_count_like_excel():
    assert [column_number(c) for c in ("A", "Z", "AA", "ALL", "XFD")] == [1, 26, 27, 1000, 16384]


def test_cells_without_references_are_placed_one_after_another_as_the_reader_does():
    header = "<row>" + _inline("email") + _inline("full_name") + "</row>"
    rows = "".join("<row>" + _inline(f"p{n}@example.com") + _inline(f"P {n}") + "</row>" for n in range(3))
    source = read_contacts(xlsx_with_rows_xml(header + rows), "plain.xlsx")
    assert source.frame["email"].tolist() == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert source.frame["__row__"].tolist() == [2, 3, 4]


def test_one_wide_row_without_references_among_narrow_ones_is_measured_exactly():
    narrow = "".join("<row>" + _inline(f"p{n}@example.com") + "</row>" for n in range(5_000))
    wide = "<row>" + "<c><v>1</v></c>" * (MAX_COLUMNS + 1) + "</row>"
    with pytest.raises(UnreadableFile, match=f"reaches column {MAX_COLUMNS + 1:,}; the limit is"):
        read_contacts(xlsx_with_rows_xml(narrow + wide), "wide.xlsx")


def test_the_sheet_chosen_is_the_one_measured():
    book = xlsx_bytes({"Contacts": [["email"], ["ann@example.com"]],
                       "Pivot": [[f"h{n}" for n in range(MAX_COLUMNS + 5)], ["x"] * (MAX_COLUMNS + 5)]})
    assert read_contacts(book, "two.xlsx").frame["email"].tolist() == ["ann@example.com"]
    with pytest.raises(UnreadableFile, match="sheet 'Pivot' reaches column 1,005"):
        read_contacts(book, "two.xlsx", sheet="Pivot")


def test_a_wide_header_below_a_preamble_is_refused_too():
    data = ("Exported contacts\n\n" + ",".join(f"c{n}" for n in range(3_000)) + "\n" +
            ",".join("x" for _ in range(3_000)) + "\n").encode()
    with pytest.raises(UnreadableFile, match="3,000 columns or more; the limit is 1,000"):
        read_contacts(data, "wide.csv", header_row=3)


def test_a_header_at_the_limit_is_read():
    data = (",".join(["email"] + [f"c{n}" for n in range(MAX_COLUMNS - 1)]) + "\n" +
            ",".join(["a@example.com"] + ["x"] * (MAX_COLUMNS - 1)) + "\n").encode()
    assert read_contacts(data, "ok.csv").frame.shape == (1, MAX_COLUMNS + 1)


def test_the_upload_page_and_the_reader_share_one_limit_in_one_unit():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] << 20 == MAX_FILE_BYTES  # Streamlit counts MiB
    with pytest.raises(UnreadableFile, match="the file is 3 MB; the limit is 2 MB"):
        read_contacts(b"x" * (3 << 20), "big.csv", max_bytes=2 << 20)


def test_rows_that_give_only_some_references_are_placed_as_the_reader_places_them():
    rows = ('<row r="1">' + _inline("email") + "</row>" + '<row r="3"><c><v>1</v></c></row>'
            '<row>' + "<c><v>1</v></c>" * 3 + '<c r="F4"><v>1</v></c></row>')
    book = xlsx_with_rows_xml(rows)
    measured = _walk_positions(zipfile.ZipFile(io.BytesIO(book)), "xl/worksheets/sheet1.xml", "mixed.xlsx")
    last_row, last_column = CalamineWorkbook.from_filelike(io.BytesIO(book)).get_sheet_by_index(0).end
    assert measured == (last_row + 1, last_column + 1) == (4, 6)
