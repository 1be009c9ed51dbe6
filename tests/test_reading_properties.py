"""Property: whatever bytes are uploaded, the reader returns a SourceFile or raises UnreadableFile,
never another exception (issue 5)."""
from __future__ import annotations

import codecs

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import UnreadableFile
from core.fields import ROW
from core.files.reading import SourceFile, read_contacts

NAMES = st.sampled_from(["contacts.csv", "contacts.json", "book.xlsx", "upload.txt", "noext"])
# Text made of the characters that steer a CSV parser, so that odd dialects come up often.
CSV_TEXT = st.lists(st.sampled_from(list(',;\t|"\r\n \'=@x1é\x00\x07{}[]:') + ["a@x.io", "Notes:", "name"]),
                   max_size=120).map("".join)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
PREFIXES = st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"PK\x03\x04", b"[", b"{",
                            b"\x89PNG\r\n\x1a\n", b"\xd0\xcf\x11\xe0"])


def _check(data: bytes, name: str) -> None:
    try:
        source = read_contacts(data, name)
    except UnreadableFile as error:
        assert str(error).startswith(f"{name}: ")
        return
    assert isinstance(source, SourceFile)
    assert ROW in source.frame.columns and len(source.frame) > 0
    assert all(isinstance(h, str) for h in source.headers)
    assert set(source.row_errors.columns) == {"row", "column", "reason", "value"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), prefix=PREFIXES, name=NAMES)
def test_any_bytes_give_a_source_file_or_unreadable_file(data, prefix, name):
    _check(prefix + data, name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=CSV_TEXT, encoding=ENCODINGS, name=NAMES)
def test_any_csv_like_text_gives_a_source_file_or_unreadable_file(text, encoding, name):
    _check(text.encode(encoding, errors="replace"), name)


# Rows as exports write them: cells quoted when they must be (or at random), JSON with doubled
# quotes, line breaks inside quotes, an optional last column often empty, and now and then a short
# row, a blank line or a stray quote mid-cell.
CELLS = st.sampled_from(["", "", "Ann", "ann@x.io", "müller@bücher.de", 'say "hi"', "a,b", "two\nlines", " padded",
                         '{"source": "csv", "score": 5}', "x\"y", "  ", "Zoë"])


def _cell(value: str, quote_always: bool) -> str:
    if quote_always or any(c in value for c in ',"\n\r') and not value.startswith("x"):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def export_like_csv(draw) -> bytes:
    width = draw(st.integers(2, 5))
    lines = [",".join(f"col{i}" for i in range(width))]
    for _ in range(draw(st.integers(1, 12))):
        shape = draw(st.sampled_from(["full", "full", "full", "short", "blank"]))
        cells = draw(st.lists(CELLS, min_size=width, max_size=width))
        if shape == "short":
            cells = cells[:draw(st.integers(1, width - 1))]
        quote_always = draw(st.booleans())
        lines.append("" if shape == "blank" else ",".join(_cell(c, quote_always) for c in cells))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return (ending.join(lines) + draw(st.sampled_from(["", ending]))).encode("utf-8")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=export_like_csv())
def test_the_fast_reader_reads_export_like_files_as_the_exact_reader_does(file):
    """Short rows told apart from empty last cells on the bytes (core.files.record_widths): where
    the C parser's pass is kept, it holds what the record-by-record reader reads, row errors too."""
    data = file
    from core.files.reading import _fast_csv, _slow_csv
    facts = {"encoding": "utf-8", "delimiter": ",", "line_ending": None}
    header = data.split(b"\n", 1)[0].decode().rstrip("\r").split(",")
    try:
        exact = _slow_csv(data, "f.csv", 0, 1000, dict(facts))
    except UnreadableFile:
        return
    fast = _fast_csv(data, "f.csv", header, 1000, dict(facts))
    if fast is None:
        return
    assert fast.frame.to_dict("records") == exact.frame.to_dict("records")
    assert fast.row_errors.to_dict("records") == exact.row_errors.to_dict("records")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=export_like_csv())
def test_record_widths_count_what_pythons_csv_reader_counts(file):
    data = file
    import csv
    import io

    from core.files.record_widths import record_widths
    widths = record_widths(data, ",")
    if widths is None:
        return
    text = data.decode("utf-8")
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert widths.tolist() == [max(len(r), 1) for r in records]
