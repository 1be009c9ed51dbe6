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
