import codecs

import pytest

from core.errors import UnreadableFile
from core.fields import ROW
from core.files.reading import detect_delimiter, read_contacts


def records(data: bytes, name: str = "contacts.csv") -> list[dict]:
    return read_contacts(data, name).frame.to_dict("records")


def test_reads_csv_rows_with_spreadsheet_row_numbers():
    assert records(b"email,full_name\na@x.io,Ann\nb@x.io,Bob\n") == [
        {"email": "a@x.io", "full_name": "Ann", ROW: 2},
        {"email": "b@x.io", "full_name": "Bob", ROW: 3},
    ]


def test_empty_cell_stays_an_empty_string_never_nan():
    rows = records(b"email,company,locale\na@x.io,,\nb@x.io,NA,null\n")
    assert rows[0]["company"] == "" and rows[0]["locale"] == ""
    assert rows[1]["company"] == "NA" and rows[1]["locale"] == "null"
    assert all(isinstance(v, str) for r in rows for k, v in r.items() if k != ROW)


def test_values_that_look_like_numbers_stay_text():
    assert records(b"email,company\n007@x.io,00123\n")[0]["company"] == "00123"


def test_utf8_bom_is_not_part_of_the_first_header():
    data = codecs.BOM_UTF8 + "email,full_name\na@x.io,Zoë\n".encode()
    source = read_contacts(data, "bom.csv")
    assert source.headers == ["email", "full_name"]
    assert source.frame.loc[0, "full_name"] == "Zoë"


def test_windows_1252_text_is_detected():
    data = "email,full_name\na@x.io,José Müller\n".encode("cp1252")
    assert records(data)[0]["full_name"] == "José Müller"


def test_utf16_with_bom_is_read():
    data = "email,full_name\na@x.io,Łukasz\n".encode("utf-16")
    assert records(data)[0]["full_name"] == "Łukasz"


def test_rfc4180_quoting_with_embedded_delimiters_quotes_and_newlines():
    data = b'email,full_name,metadata\na@x.io,"Doe, John","{""source"": ""csv""}"\nb@x.io,"two\nlines",\n'
    rows = records(data)
    assert rows[0]["full_name"] == "Doe, John"
    assert rows[0]["metadata"] == '{"source": "csv"}'
    assert rows[1]["full_name"] == "two\nlines" and rows[1][ROW] == 3


def test_blank_lines_are_skipped_but_row_numbers_still_match_the_file():
    rows = records(b"email\na@x.io\n\nb@x.io\n")
    assert [r[ROW] for r in rows] == [2, 4]


def test_crlf_line_endings():
    assert [r["email"] for r in records(b"email\r\na@x.io\r\nb@x.io\r\n")] == ["a@x.io", "b@x.io"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delimiter):
    data = delimiter.join(["email", "full_name", "company"]).encode() + b"\n" + \
        delimiter.join(["a@x.io", "Ann", "Acme, Inc" if delimiter != "," else "Acme"]).encode()
    source = read_contacts(data, "x.csv")
    assert source.delimiter == delimiter
    assert source.headers == ["email", "full_name", "company"]


def test_single_column_file_defaults_to_comma():
    assert detect_delimiter("email\na@x.io") == ","


def test_reads_a_json_array_of_objects_with_metadata_object():
    data = b'[{"email": "a@x.io", "metadata": {"tier": 1}}, {"email": "b@x.io", "company": null}]'
    rows = records(data, "c.json")
    assert rows[0] == {"email": "a@x.io", "metadata": '{"tier": 1}', "company": "", ROW: 1}
    assert rows[1]["metadata"] == "" and rows[1][ROW] == 2


def test_json_is_recognised_by_content_without_the_extension():
    assert records(b'  [{"email": "a@x.io"}]', "upload.txt")[0]["email"] == "a@x.io"


@pytest.mark.parametrize("data, name, reason", [
    (b"", "empty.csv", "the file is empty"),
    (b"   \n\n", "blank.csv", "the file is empty"),
    (b"email,full_name\n", "header.csv", "header row but no contact rows"),
    (b"email,full_name\n\n\n", "header2.csv", "header row but no contact rows"),
    (b"email,name\na@x.io,Ann,extra\nb@x.io,Bob,more\n", "wide.csv", "more values than the header"),
    (b"PK\x03\x04\x14\x00\x06\x00", "book.xlsx", "Excel workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png", "binary file"),
    (b'[{"email": "a@x.io"', "broken.json", "JSON is malformed (line 1"),
    (b'{"email": "a@x.io"}', "object.json", "must be an array of contact objects, but this file holds an object"),
    (b"[]", "none.json", "holds no contacts"),
    (b'[{"email": "a@x.io"}, 42]', "mixed.json", "item 2 of the array is a number"),
])
def test_unreadable_files_raise_one_domain_error_that_names_the_file_and_the_problem(data, name, reason):
    with pytest.raises(UnreadableFile) as raised:
        read_contacts(data, name)
    assert str(raised.value).startswith(f"{name}: ")
    assert reason in str(raised.value)


def test_a_ragged_row_is_a_row_error_and_the_rest_of_the_file_is_read():
    source = read_contacts(b"email,name\na@x.io,Ann\nb@x.io,Bob,extra\nc@x.io\nd@x.io,Dee\n", "ragged.csv")
    assert source.frame["email"].tolist() == ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]
    assert source.row_errors.to_dict("records") == [
        {"row": 3, "column": "(whole row)", "reason": "has 3 values but the header has 2 columns",
         "value": "b@x.io,Bob,extra"},
        {"row": 4, "column": "(whole row)", "reason": "has 1 values but the header has 2 columns",
         "value": "c@x.io"},
    ]
