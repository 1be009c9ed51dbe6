"""Safe one-click fixes: the obvious mistakes of a file (an email written as mailto:, a LinkedIn URL
without https://, full-width letters) that validation finds, each kind offered with its count and
examples and made only when the user accepts it.

A fix is safe when it cannot change what a value means: it only takes away what is around the
value (a prefix, quotes, a query string) or spells it in its one usual form. A value is fixed only
when the result passes every rule of its field; anything else is left as it was, and stays invalid
with its reason. Fixes apply to normalized values (core.rows.validation.normalize), in the order of
KINDS, and the result is normalized again (an email that becomes international gets its stored form).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.fields import ROW

EXAMPLES = 2  # before -> after pairs shown for each kind


@dataclass(frozen=True)
class FixKind:
    kind: str
    label: str                      # what it does, for people
    fields: tuple[str, ...]
    fix: Callable[[str], str]       # one value -> the value with this fix (unchanged when it does not apply)


@dataclass
class FixOffer:
    """One kind of fix the file's values can take: how many rows, and examples."""

    kind: str
    label: str
    rows: int
    examples: list[dict] = field(default_factory=list)  # {"row", "field", "before", "after"}
    applied: int = 0  # rows this kind fixed (0: not chosen, or no row it fixes passes without another kind)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "rows": self.rows, "example": self.examples[:1],
                "examples": self.examples, "applied": self.applied}


# Full-width forms of ASCII (U+FF01-FF5E, an IME's "ａｎｎ＠ｘ．ｉｏ") and the ideographic space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_QUOTES = "\"'“”‘’«»„‚"
_WRAPPED_EMAIL = re.compile(rf"^(?:[^<>@]*<)?[\s{_QUOTES}<]*(?P<email>[^\s{_QUOTES}<>]+@[^\s{_QUOTES}<>]+)"
                            rf"[\s{_QUOTES}>]*$")
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_LINKEDIN = re.compile(r"(?ai)^(?P<scheme>https?://)?(?P<host>(?:[a-z0-9-]+\.)*linkedin\.com)"
                       r"(?P<path>/in/[^/?#\s]+)(?P<slash>/*)(?P<rest>[?#].*)?$")
_USUAL_HOSTS = ("linkedin.com", "www.linkedin.com")


def _full_width(value: str) -> str:
    return value.translate(_FULL_WIDTH)


def _mailto(value: str) -> str:
    return _MAILTO.sub("", value, count=1)


def _unwrapped(value: str) -> str:
    found = _WRAPPED_EMAIL.match(value)
    return found["email"] if found else value


def _linkedin_part(change: Callable[[re.Match], dict]) -> Callable[[str], str]:
    """A fix of one part of a LinkedIn profile URL; the others stay as written."""
    def fix(value: str) -> str:
        found = _LINKEDIN.match(value)
        if not found:
            return value
        parts = {name: found[name] or "" for name in ("scheme", "host", "path", "slash", "rest")}
        parts.update(change(found))
        return "".join(parts.values())
    return fix


def _scheme(found: re.Match) -> dict:
    return {} if found["scheme"] else {"scheme": "https://"}


def _host(found: re.Match) -> dict:
    return {} if found["host"].lower() in _USUAL_HOSTS else {"host": "www.linkedin.com"}


KINDS: dict[str, FixKind] = {kind.kind: kind for kind in (
    FixKind("full_width", "Full-width characters written as plain ones",
            ("email", "linkedin_profile", "locale", "timezone"), _full_width),
    FixKind("mailto", "mailto: taken off emails", ("email",), _mailto),
    FixKind("email_wrapping", "Spaces, quotes or angle brackets taken from around emails", ("email",), _unwrapped),
    FixKind("linkedin_scheme", "https:// added to LinkedIn URLs without it", ("linkedin_profile",),
            _linkedin_part(_scheme)),
    FixKind("linkedin_subdomain", "A country or mobile subdomain of LinkedIn URLs made www",
            ("linkedin_profile",), _linkedin_part(_host)),
    FixKind("linkedin_query", "Query strings taken off LinkedIn URLs", ("linkedin_profile",),
            _linkedin_part(lambda found: {"rest": ""})),
    FixKind("linkedin_slash", "Trailing slashes taken off LinkedIn URLs", ("linkedin_profile",),
            _linkedin_part(lambda found: {"slash": ""})),
)}
FIELDS_FIXED = tuple(dict.fromkeys(f for kind in KINDS.values() for f in kind.fields))


def kinds_of(field_name: str) -> frozenset[str]:
    """The kinds that fix values of this field."""
    return frozenset(kind.kind for kind in KINDS.values() if field_name in kind.fields)


def check_kinds(kinds) -> frozenset[str]:
    """The kinds named, checked; "all" names every kind."""
    chosen = set(kinds)
    if "all" in chosen:
        return frozenset(KINDS)
    unknown = chosen - set(KINDS)
    if unknown:
        from core.errors import ImportConsoleError
        raise ImportConsoleError(f"Unknown fix {', '.join(sorted(unknown))}: the fixes are {', '.join(KINDS)} (or all)")
    return frozenset(chosen)


@dataclass
class FieldFixes:
    """The fixes found for one field: the positions fixed, their values after, and which kinds
    changed which of them (in the order of KINDS)."""

    positions: np.ndarray
    after: list[str] | pa.Array  # an Arrow array from the column path: a file may have a million
    steps: dict[str, Steps]  # kind -> the values it changed

    def values_after(self) -> list[str]:
        return self.after.to_pylist() if isinstance(self.after, pa.Array) else self.after


@dataclass
class Steps:
    """What one kind changed in one field: indexes into FieldFixes.positions, and each value before
    and after it. before and after may be Arrow arrays, read only for the examples: an export whose
    every URL ends in a slash has a million of them."""

    indexes: np.ndarray
    before: Sequence[str] | pa.Array
    after: Sequence[str] | pa.Array

    def __len__(self) -> int:
        return len(self.indexes)

    def first(self, count: int) -> list[tuple[int, str, str]]:
        def text(values, i):
            value = values[i]
            return value.as_py() if isinstance(value, pa.Scalar) else value
        return [(int(self.indexes[i]), text(self.before, i), text(self.after, i)) for i in range(min(count, len(self)))]


def fix_field(field_name: str, values: pd.Series, kinds: frozenset[str],
              passes: Callable[[str], bool], normalized_again: Callable[[str], str]) -> FieldFixes:
    """The values (candidates of one field, at their positions in the file) that these kinds fix
    into values that pass; the others are left out."""
    chosen = [KINDS[k] for k in KINDS if k in kinds and field_name in KINDS[k].fields]
    if field_name == "linkedin_profile" and len(values) > VECTOR_FROM:
        return _fix_urls(values, [kind.kind for kind in chosen])
    positions, after, found = [], [], {kind.kind: [] for kind in chosen}
    for position, value in zip(values.index, values.to_numpy(dtype=object)):
        current, changed = value, []
        for kind in chosen:
            fixed = kind.fix(current)
            if fixed != current:
                changed.append((kind.kind, current, fixed))
                current = fixed
        if not changed:
            continue
        current = normalized_again(current)
        if current == value or not passes(current):
            continue
        for kind, before, step in changed:
            found[kind].append((len(positions), before, step))
        positions.append(position)
        after.append(current)
    steps = {kind: Steps(np.asarray([i for i, _, _ in made], dtype=np.int64), [b for _, b, _ in made],
                         [a for _, _, a in made]) for kind, made in found.items()}
    return FieldFixes(np.asarray(positions, dtype=np.int64), after, steps)


# From this many candidates on, LinkedIn URLs are fixed column by column: an export whose every URL
# ends with a slash sends all its rows here, and one regex per value and kind took 12 s at 1M rows.
VECTOR_FROM = 1_000
# _LINKEDIN for Arrow's RE2 (no ASCII-only flag: what a Unicode case match lets in, the final check,
# is_linkedin_profile, refuses)
_LINKEDIN_RE2 = _LINKEDIN.pattern.replace("(?ai)", "(?i)")


def _without_rest(urls: pa.Array) -> pa.Array:
    """The URLs up to their first ? or # (literal splits: a regex rewrite took twice as long)."""
    for mark in "?#":
        urls = pc.list_element(pc.split_pattern(urls, mark, max_splits=1), 0)
    return urls


# Each LinkedIn kind, column-wise: whether a URL that _LINKEDIN_RE2 matches has the part the kind
# changes, and the change, each one RE2 pass. Splitting the URLs into their parts with submatches
# instead took 1.3 s per 1M URLs: RE2 finds submatches with its slow engines, and none of these
# tests asks for one (the rewrites run on the URLs the kind changes only). Within a match the
# parts are easy to find: the host cannot hold ":/?#", the path "?#" (nor "/" after /in/), and
# the slashes are what ends the URL or comes just before its query.
_URL_KINDS: dict[str, tuple[str, bool, Callable[[pa.Array], pa.Array]]] = {
    "linkedin_scheme": (r"^(?i:https?://)", False,
                        lambda urls: pc.binary_join_element_wise(_text("https://"), urls, _text(""))),
    "linkedin_subdomain": (r"^(?i:https?://)?(?i:(?:www\.)?linkedin\.com)/", False,
                           lambda urls: pc.replace_substring_regex(urls, r"^((?i:https?://)?)[^/]*",
                                                                   r"\1www.linkedin.com", max_replacements=1)),
    "linkedin_query": (r"[?#]", True, _without_rest),
    "linkedin_slash": (r"^[^?#]*/(?:[?#]|$)", True,
                       lambda urls: pc.replace_substring_regex(urls, r"/+((?:[?#].*)?)$", r"\1", max_replacements=1)),
}


def _fix_urls(values: pd.Series, kinds: list[str]) -> FieldFixes:
    """fix_field for many LinkedIn URLs, in Arrow: each kind finds its URLs with one match over the
    column, the URLs that any kind changes get every change they need (each kind changes its own
    part, so the order does not matter for the result), and the results are normalized and checked
    in one pass each (is_linkedin_profile: fix_field's passes; strip: normalize_value's, for this
    field). A kind's values before and after it, in the order of KINDS, are worked out only for
    the offer's examples. Full-width characters are rare: those values go one by one."""
    from core.rows.validation import LINKEDIN_PATTERN, TRIMMED
    original = arrow_text(values)
    column, widened = _plain_width(original) if "full_width" in kinds else (original, None)
    matched = _matches(column, _LINKEDIN_RE2)
    needs = {kind: matched & (_matches(column, _URL_KINDS[kind][0]) == _URL_KINDS[kind][1])
             for kind in kinds if kind in _URL_KINDS}
    touched = np.zeros(len(values), dtype=bool) if widened is None else widened.copy()
    for mask in needs.values():
        touched |= mask
    touched = np.flatnonzero(touched)
    fixed = pc.utf8_trim(_fixed_urls(column.take(touched), {kind: mask[touched] for kind, mask in needs.items()},
                                     matched[touched]), TRIMMED)
    good = (pc.not_equal(fixed, original.take(touched)).to_numpy(zero_copy_only=False)
            & _matches(fixed, LINKEDIN_PATTERN))
    positions = touched[good]
    index = np.full(len(values), -1, dtype=np.int64)
    index[positions] = np.arange(len(positions))
    return FieldFixes(values.index[positions].to_numpy(dtype=np.int64), fixed.filter(pa.array(good)),
                      _steps(original, column, widened, needs, index))


def _plain_width(urls: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The URLs with full-width characters made plain (few have any: those go one by one), and
    where that changed them."""
    odd = np.flatnonzero(~pc.fill_null(pc.string_is_ascii(urls), True).to_numpy(zero_copy_only=False))
    before = urls.take(odd)
    plain = pa.array([_full_width(value) for value in before.to_pylist()], pa.large_string())
    differs = pc.not_equal(plain, before)
    widened = np.zeros(len(urls), dtype=bool)
    widened[odd[differs.to_numpy(zero_copy_only=False)]] = True
    return _put(urls, np.flatnonzero(widened), plain.filter(differs)), widened


def _steps(original: pa.Array, column: pa.Array, widened: np.ndarray | None, needs: dict[str, np.ndarray],
           index: np.ndarray) -> dict[str, Steps]:
    """What each kind changed of the URLs that end fixed (index: position -> index of the fix, or
    -1), in the order of KINDS: each kind after the ones before it."""
    steps = {}
    if widened is not None:
        hit = np.flatnonzero(widened & (index >= 0))
        steps["full_width"] = Steps(index[hit], _Made(original, {}, [], hit), _Made(column, {}, [], hit))
    made = list(needs)
    for order, kind in enumerate(made):
        hit = np.flatnonzero(needs[kind] & (index >= 0))
        steps[kind] = Steps(index[hit], _Made(column, needs, made[:order], hit),
                            _Made(column, needs, made[:order + 1], hit))
    return steps


def _fixed_urls(urls: pa.Array, needs: dict[str, np.ndarray], matched: np.ndarray) -> pa.Array:
    """The URLs with the change of each kind made where it is needed. Taking the query off leaves a
    matched URL without one as it is, and so does then taking the slashes off its end: those two
    go over all the matched URLs, the others over the ones that need them. matched: the URLs that
    _LINKEDIN_RE2 matches (the others only had full-width characters made plain)."""
    if not matched.all():
        at = np.flatnonzero(matched)
        return _put(urls, at, _fixed_urls(urls.take(at), {kind: mask[at] for kind, mask in needs.items()}, matched[at]))
    if "linkedin_query" in needs:
        urls = _without_rest(urls)
        if "linkedin_slash" in needs:
            urls = pc.utf8_rtrim(urls, "/")
    for kind in ("linkedin_slash", "linkedin_subdomain", "linkedin_scheme"):
        if kind in needs and not (kind == "linkedin_slash" and "linkedin_query" in needs):
            at = np.flatnonzero(needs[kind])
            urls = _put(urls, at, _URL_KINDS[kind][2](urls.take(at)))
    return urls


def _matches(column: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(column, pattern), False).to_numpy(zero_copy_only=False)


def _put(column: pa.Array, at: np.ndarray, values: pa.Array) -> pa.Array:
    """column with values at these positions (ascending)."""
    if not len(at):
        return column
    mask = np.zeros(len(column), dtype=bool)
    mask[at] = True
    return pc.replace_with_mask(column, pa.array(mask), values)


@dataclass
class _Made:
    """The URLs at these positions with these kinds made, in order, each where it is needed:
    worked out when read, as only the offer's examples are."""

    column: pa.Array
    needs: dict[str, np.ndarray]
    kinds: list[str]
    at: np.ndarray

    def __len__(self) -> int:
        return len(self.at)

    def __getitem__(self, i: int) -> str:
        position = int(self.at[i])
        url = self.column.slice(position, 1)
        for kind in self.kinds:
            if self.needs[kind][position]:
                url = _URL_KINDS[kind][2](url)
        return url[0].as_py()


def arrow_text(values: pd.Series) -> pa.Array:
    """A text column as Arrow large strings for Arrow's kernels, missing values null: pandas' own
    Arrow array when it holds one, else built from the Python strings."""
    if values.dtype == object:
        return pa.array(values.to_numpy(), pa.large_string(), from_pandas=True)
    column = pa.array(values.array, type=pa.large_string())
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def offers_of(possible: dict[str, FieldFixes], made: dict[str, FieldFixes], rows: np.ndarray) -> list[FixOffer]:
    """What each kind could fix across the fields (possible: with every kind) and what it fixed
    (made: with the kinds chosen), in the order of KINDS; rows: the file's row numbers."""
    offers = []
    for kind in KINDS:
        count = _rows_of(possible, kind)
        if count:
            examples = [{"row": int(rows[fixes.positions[index]]), "field": field_name, "before": before, "after": after}
                        for field_name, fixes, (index, before, after) in islice(_hits(possible, kind), EXAMPLES)]
            offers.append(FixOffer(kind, KINDS[kind].label, count, examples, _rows_of(made, kind)))
    return offers


def _hits(found: dict[str, FieldFixes], kind: str):
    return ((field_name, fixes, step) for field_name, fixes in found.items() if kind in fixes.steps
            for step in fixes.steps[kind].first(EXAMPLES))


def _rows_of(found: dict[str, FieldFixes], kind: str) -> int:
    """The rows a kind changes across the fields, each counted once."""
    positions = [fixes.positions[fixes.steps[kind].indexes] for fixes in found.values() if kind in fixes.steps]
    return len(np.unique(np.concatenate(positions))) if positions else 0


def applied_counts(offers: list[FixOffer]) -> dict[str, int]:
    """kind -> rows, of the fixes applied: what the import records."""
    return {offer.kind: offer.applied for offer in offers if offer.applied}


# A LinkedIn URL in its usual form, which no fix changes (RE2 syntax: Arrow's regex engine).
USUAL_LINKEDIN = r"^https://(?:www\.)?linkedin\.com/in/[^/?#]+$"


def candidates(normalized: pd.DataFrame, field_name: str, invalid_positions: np.ndarray) -> pd.Series:
    """The values of a field that a fix may change: the invalid ones (at these positions), and
    LinkedIn URLs that are valid but not in their usual form (one pass of Arrow's regex kernel: a
    1M-row file has 1M URLs)."""
    values = normalized[field_name]
    chosen = np.zeros(len(values), dtype=bool)
    chosen[invalid_positions] = True
    if field_name == "linkedin_profile" and len(values):
        usual = _matches(arrow_text(values), USUAL_LINKEDIN)
        chosen |= ~usual & (values.str.len() > 0).to_numpy(dtype=bool)
    return values[chosen]
