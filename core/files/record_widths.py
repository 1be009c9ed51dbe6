"""How many fields each record of a CSV file has, counted on its bytes with numpy, without
parsing it: the fast reader (pandas' C parser) fills a short row's missing cells with "" just as
it reads an empty last cell, and real exports leave their optional last column empty on half the
rows. This tells the two apart, so that only files with truly short rows go to the exact reader.

The count follows RFC 4180 as pandas reads it: a quote opens a field only at its start, and a
quote inside a quoted field is doubled, so a byte is inside quotes when an odd number of quotes
precede it. Where that could be wrong (a quote opening mid-field or after spaces, a line ending in
CR alone), the answer is None and the caller reads the file the exact way.
"""
from __future__ import annotations

import numpy as np

CHUNK = 1 << 22  # bytes counted at once: memory stays a few times this, whatever the file's size
QUOTE, LF, CR = ord('"'), ord("\n"), ord("\r")
UTF8_BOM = b"\xef\xbb\xbf"


def record_widths(data: bytes, delimiter: str) -> np.ndarray | None:
    """Fields per record (a blank line counts 1), in file order; None where the bytes cannot be
    counted exactly this way. data: text in an encoding where the delimiter, quotes and line ends
    are the ASCII bytes (UTF-8, Windows-1252, Latin-1)."""
    if len(delimiter) != 1 or not delimiter.isascii():
        return None
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    whole = np.frombuffer(data, dtype=np.uint8)[start:]
    counter = _Counter(ord(delimiter))
    widths = []
    for offset in range(0, len(whole), CHUNK):
        chunk = counter.count(whole, offset, min(offset + CHUNK, len(whole)))
        if chunk is None:
            return None
        widths.append(chunk)
    if counter.inside_quotes:
        return None  # an unclosed quote: the exact reader says where
    if len(whole) and whole[-1] != LF:
        widths.append(np.array([counter.delimiters + 1], dtype=np.int32))  # the last line, unended
    return np.concatenate(widths) if widths else np.zeros(0, dtype=np.int32)


class _Counter:
    """The count carried from one chunk to the next: inside quotes or not, and the delimiters of
    the record not ended yet."""

    def __init__(self, delimiter: int):
        self.delimiter = delimiter
        self.inside_quotes = False
        self.delimiters = 0

    def count(self, whole: np.ndarray, begin: int, end: int) -> np.ndarray | None:
        chunk = whole[begin:end]
        positions = np.flatnonzero((chunk == QUOTE) | (chunk == self.delimiter) | (chunk == LF) | (chunk == CR))
        kinds = chunk[positions]
        quotes = kinds == QUOTE
        before = np.cumsum(quotes) - quotes + self.inside_quotes  # quotes before each special byte
        outside = (before & 1) == 0
        if not _quotes_open_fields(whole, begin + positions[quotes & outside], self.delimiter):
            return None
        if _lone_cr(whole, begin + positions[(kinds == CR) & outside]):
            return None
        delimiters = (kinds == self.delimiter) & outside
        ends = np.flatnonzero((kinds == LF) & outside)
        seen = np.cumsum(delimiters)  # delimiters up to each special byte, this chunk
        at_ends = seen[ends]
        widths = np.diff(at_ends, prepend=0).astype(np.int32) + 1
        if len(widths):
            widths[0] += self.delimiters
            self.delimiters = int(seen[-1] - at_ends[-1])
        elif len(seen):
            self.delimiters += int(seen[-1])
        self.inside_quotes = bool((before[-1] + quotes[-1]) & 1) if len(kinds) else self.inside_quotes
        return widths


def _quotes_open_fields(whole: np.ndarray, openings: np.ndarray, delimiter: int) -> bool:
    """Every quote that opens a quoted field stands at a field's start (or right after a closing
    quote: a doubled quote inside a field)."""
    openings = openings[openings > 0]
    if not len(openings):
        return True
    return bool(np.isin(whole[openings - 1], [QUOTE, LF, CR, delimiter]).all())


def _lone_cr(whole: np.ndarray, returns: np.ndarray) -> bool:
    """A CR outside quotes that is not part of CRLF: pandas ends a line there."""
    following = returns + 1
    return bool(len(returns)) and bool(((following >= len(whole)) | (whole[np.minimum(following, len(whole) - 1)] != LF)).any())
