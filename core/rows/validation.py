"""Normalize and validate mapped rows with one pandera model, then dedupe by email.

Every failure is reported with its source row number, column, reason and value; nothing is dropped
silently (pandera's drop_invalid_rows is deliberately not used).
"""
from __future__ import annotations

import json
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Callable

import langcodes
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from email_validator import EmailNotValidError, EmailSyntaxError, ValidatedEmail
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from email_validator.syntax import (split_email, validate_email_domain_name, validate_email_length,
                                    validate_email_local_part)
from pandera.typing import Series

from core.fields import FIELDS, MAX_TEXT_LENGTH, ROW, field_label
from core.files.memory import release_memory
from core.progress import Progress, ignore_progress
from core.files.reading import empty_row_errors
from core.rows.quick_fixes import (FIELDS_FIXED, KINDS, FixOffer, applied_counts, arrow_text, candidates, fix_field,
                                   kinds_of, offers_of)

# The HTML standard's "valid e-mail address" (WHATWG), written as a regex there too: the fast,
# vectorized check of ASCII addresses. Internationalized ones (RFC 6531: omar.müller@example.com,
# or a domain spelled xn--…) go to email-validator instead (international_email).
# A contact's address needs a dotted domain ("jordan@northwind" is an intranet name, not an address).
EMAIL_PATTERN = (r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                 r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$")
# The host in ASCII only ((?ai:): case-insensitive matching over Unicode takes "lınkedın" with
# dotless i's, or a Kelvin sign for K, as linkedin), and no invisible or direction-changing
# characters anywhere (a right-to-left override makes a slug read as another).
# Written so that Python's re and Arrow's RE2 read it alike (is_linkedin_profile runs on a whole
# column in Arrow): the ASCII case-insensitive host spelled out, and Python's \s (Unicode
# whitespace) with the invisible characters as literal characters, not \u escapes RE2 lacks.
_INVISIBLE = ("\x00-\x20\x7f" + "\x85\xa0\u00ad\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064"
              "\u2066-\u2069\u3000\ufeff")


def _any_case(text: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in text)


LINKEDIN_PATTERN = (rf"^{_any_case('http')}[sS]?://(?:[a-zA-Z0-9-]+\.)*{_any_case('linkedin.com/in/')}"
                    rf"[^/?#{_INVISIBLE}]+/?(?:[?#][^{_INVISIBLE}]*)?$")
# A flat JSON object of strings without escapes, numbers, true, false and null: every text this
# matches is one that _is_json_object accepts, so the common metadata cell is checked in one
# vectorized pass and only the others (nested, escaped or invalid) go through the JSON parser.
_JSON_STRING = r'"[^"\\\x00-\x1f]*"'
# Numbers of bounded length only: longer ones go through the parser, which checks that PostgreSQL
# can store them and Python read them back (MAX_NUMBER_CHARS).
_JSON_VALUE = _JSON_STRING + r"|-?(?:0|[1-9][0-9]{0,99})(?:\.[0-9]{1,100})?(?:[eE][-+]?[0-9]{1,3})?|true|false|null"
_JSON_MEMBER = rf"{_JSON_STRING}[ \t\n\r]*:[ \t\n\r]*(?:{_JSON_VALUE})[ \t\n\r]*"
FLAT_JSON_OBJECT = rf"^\{{[ \t\n\r]*(?:{_JSON_MEMBER}(?:,[ \t\n\r]*{_JSON_MEMBER})*)?\}}$"

# Rows are validated in slices of this many, with progress reported after each.
VALIDATE_CHUNK = 200_000
# Up to this many rows the schema's checks run directly (_failed_checks): pandera's machinery costs
# ~25 ms a call whatever the size, most of a 1-row API call.
DIRECT_ROWS = 5_000

REASONS = {
    "required": "is required but empty",
    "max_length": f"is longer than {MAX_TEXT_LENGTH} characters",
    "email_syntax": "is not a valid email address",
    "linkedin_url": "is not a LinkedIn profile URL (expected https://linkedin.com/in/<name>)",
    "bcp47_locale": "is not a language code such as en, en-US or pt-BR",
    "iana_timezone": "is not a time zone name such as Europe/Berlin or America/New_York",
    "json_object": 'is not a set of extra fields written as {"source": "csv"}',
    "no_nul": "contains a NUL character, which cannot be stored",
}


@lru_cache(maxsize=1 << 18)  # normalizing and then checking a file meet each address twice
def international_email(value: str) -> str | None:
    """An internationalized address in its one stored form (NFC, lower case, the domain in
    Unicode rather than xn--), or None when it is not a valid one. Syntax only, no DNS lookup.

    email-validator's validate_email, step by step with its own functions, except that a domain's
    check is done once per domain (_checked_domain): it is four fifths of the cost, and a file's
    addresses share a few domains. tests/test_validation.py proves the verdicts equal
    validate_email's on a large sample."""
    try:
        checked = _checked_address(value)
    except EmailNotValidError:
        return None
    return unicodedata.normalize("NFC", checked.normalized.lower())


def _checked_address(email: str) -> ValidatedEmail:
    """validate_email(email, check_deliverability=False, allow_smtputf8=True) of email-validator
    2.2.0, with the library's defaults for the other options, the domain's check cached."""
    display_name, local_part, domain_part, quoted = _split(email)
    checked = ValidatedEmail()
    checked.original = (local_part if not quoted else f'"{local_part}"') + "@" + domain_part
    local = validate_email_local_part(local_part, allow_smtputf8=True, allow_empty_local=False,
                                      quoted_local_part=quoted)
    checked.local_part, checked.ascii_local_part, checked.smtputf8 = (
        local["local_part"], local["ascii_local_part"], local["smtputf8"])
    normalized = unicodedata.normalize("NFC", checked.local_part)
    if normalized != checked.local_part:
        validate_email_local_part(normalized, allow_smtputf8=True, allow_empty_local=False, quoted_local_part=quoted)
        checked.local_part = normalized
    if quoted:
        raise EmailSyntaxError("Quoting the part before the @-sign is not allowed here.")
    if checked.ascii_local_part is not None and checked.ascii_local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        checked.ascii_local_part, checked.local_part = checked.ascii_local_part.lower(), checked.local_part.lower()
    if not domain_part:
        raise EmailSyntaxError("There must be something after the @-sign.")
    if domain_part.startswith("[") and domain_part.endswith("]"):
        raise EmailSyntaxError("A bracketed IP address after the @-sign is not allowed here.")
    checked.domain, checked.ascii_domain = _checked_domain(domain_part)
    checked.normalized = checked.local_part + "@" + checked.domain
    checked.ascii_email = None if checked.smtputf8 else (checked.ascii_local_part or "") + "@" + checked.ascii_domain
    validate_email_length(checked)
    if display_name is not None:
        raise EmailSyntaxError("A display name and angle brackets around the email address are not permitted here.")
    return checked


def _split(email: str) -> tuple[str | None, str, str, bool]:
    """split_email's answer: without quotes or angle brackets, the address parts either side of
    the first @ (split_email walks the address character by character, a third of the cost)."""
    if '"' in email or "<" in email:
        return split_email(email)
    local, at, domain = email.partition("@")
    if not at:
        raise EmailSyntaxError("An email address must have an @-sign.")
    return None, local, domain, False


@lru_cache(maxsize=10_000)
def _checked_domain(domain: str) -> tuple[str, str]:
    """(the domain in Unicode, in ASCII); raises EmailSyntaxError (cached: lru_cache keeps no
    exceptions, so a bad domain is checked again, as rare as it is)."""
    info = validate_email_domain_name(domain, test_environment=False, globally_deliverable=True)
    return info["domain"], info["ascii_domain"]


def _needs_email_library(emails: pd.Series) -> np.ndarray:
    """Where only email-validator can tell (a missing value is no address: False)."""
    odd = (~emails.str.isascii().to_numpy(dtype=bool, na_value=True)
           | emails.str.contains("xn--", regex=False).to_numpy(dtype=bool, na_value=False))
    return odd & emails.notna().to_numpy()


# The rules for one field's values (normalized: trimmed, emails lower case), shared by the
# checks below and by core.rows.mapping, which suggests a column from what its values look like.

# RFC 5321's limits, which the HTML standard's pattern leaves out: at most 64 characters before the
# @ and 254 in all (email-validator holds internationalized addresses to the same).
MAX_LOCAL_PART = 64
MAX_ADDRESS = 254


def is_email(series: pd.Series) -> pd.Series:
    ok = (series.str.match(EMAIL_PATTERN).to_numpy(dtype=bool, na_value=False)
          & _within_limits(arrow_text(series)))
    rest = ~ok & _needs_email_library(series)
    if rest.any():
        ok[rest] = [international_email(value) == value for value in series[rest]]
    return pd.Series(ok, index=series.index)


def _within_limits(emails: pyarrow.Array) -> np.ndarray:
    """RFC 5321's limits, counted in bytes: only ASCII addresses match EMAIL_PATTERN, and there a
    byte is a character. pandas counts characters one value at a time in a column that holds any
    other (an export's international addresses: 0.1 s per 200k rows)."""
    within = pc.and_(pc.less_equal(pc.binary_length(emails), MAX_ADDRESS),
                     pc.less_equal(pc.find_substring(emails, "@"), MAX_LOCAL_PART))
    return pc.fill_null(within, False).to_numpy(zero_copy_only=False)


def is_linkedin_profile(series: pd.Series) -> pd.Series:
    """One pass of Arrow's regex kernel (RE2, whose $ is the end, as fullmatch's); Python's re took
    ~0.5 s per 1M URLs."""
    found = pc.fill_null(pc.match_substring_regex(arrow_text(series), LINKEDIN_PATTERN), False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=series.index, dtype=bool)


def is_locale(series: pd.Series) -> pd.Series:
    valid = {tag for tag in series.unique() if tag and langcodes.tag_is_valid(tag)}
    return _among(series, valid)


def is_timezone(series: pd.Series) -> pd.Series:
    return _among(series, _timezones())


def _among(series: pd.Series, values: set | frozenset) -> pd.Series:
    """series.isin(values), which costs ~2 ms for any size: a small batch asks the set itself."""
    if len(series) > 1_000:
        return series.isin(values)
    return pd.Series([value in values for value in series], index=series.index, dtype=bool)


def _filled(series: pd.Series) -> pd.Series:
    return series.str.len() > 0


def _optional(series: pd.Series, ok: pd.Series) -> pd.Series:
    return ~_filled(series) | ok


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# The same rules one value at a time, for a small batch read without pandas (core.rows.clean_batch):
# check name -> whether a normalized value passes. tests/test_clean_batch.py holds each equal to its
# ContactRow check. fullmatch, like Arrow's regex engine, lets no "$" match before a final newline.
_EMAIL = re.compile(EMAIL_PATTERN)
_LINKEDIN = re.compile(LINKEDIN_PATTERN)
VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "required": lambda value: len(value) > 0,
    "max_length": lambda value: len(value) <= MAX_TEXT_LENGTH,
    "email_syntax": lambda value: (not value or (_EMAIL.fullmatch(value) is not None and len(value) <= MAX_ADDRESS
                                                 and value.find("@") <= MAX_LOCAL_PART)
                                   or (_needs_library(value) and international_email(value) == value)),
    "linkedin_url": lambda value: not value or _LINKEDIN.fullmatch(value) is not None,
    "bcp47_locale": lambda value: not value or langcodes.tag_is_valid(value),
    "iana_timezone": lambda value: not value or value in _timezones(),
    "json_object": lambda value: not value or _is_json_object(value),
    "no_nul": lambda value: "\x00" not in value,
}


def _needs_library(email: str) -> bool:
    return not email.isascii() or "xn--" in email


# A number longer than this, or with a larger exponent, is refused: PostgreSQL's numeric stops at
# an exponent of 131072, and Python will not read back an integer of more than 4300 digits.
MAX_NUMBER_CHARS = 1000
MAX_EXPONENT = 10_000


def _reject_constant(name):
    raise ValueError(name)  # NaN and Infinity are not JSON and PostgreSQL refuses them


def _bounded_number(text: str) -> float:
    mantissa, _, exponent = text.lower().partition("e")
    if len(text) > MAX_NUMBER_CHARS or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise _NumberTooLarge(f"number too large: {text[:20]}")
    return 0.0  # only the syntax matters here; the value is not kept


# json.loads with a keyword argument builds a new decoder per call; one is enough.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_bounded_number,
                                 parse_int=_bounded_number)


def _is_json_object(text: str) -> bool:
    return json_problem(text) is None


class _NumberTooLarge(ValueError):
    pass


def json_problem(text: str) -> str | None:
    """Why a metadata cell cannot be stored, or None for a JSON object that PostgreSQL stores and
    Python reads back: no NUL, no lone surrogate escape (\\ud800), no unbounded number, not nested
    beyond the parser's depth."""
    try:
        value = _JSON_DECODER.decode(text)
        if "\\u" in text:  # an escape may decode to a lone surrogate, which is not text
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except _NumberTooLarge:
        return (f"holds a number too large to store (over {MAX_NUMBER_CHARS:,} characters or an "
                f"exponent over {MAX_EXPONENT:,})")
    except RecursionError:
        return "is nested too deeply to store"
    except UnicodeEncodeError:
        return "holds a \\u escape that is not a character (a lone surrogate), which cannot be stored"
    except ValueError:
        return REASONS["json_object"]
    if not isinstance(value, dict):
        return REASONS["json_object"]
    if "\\u0000" in text:
        return "holds a NUL character (\\u0000), which cannot be stored"
    return None


class ContactRow(pa.DataFrameModel):
    """The rules table of ARCHITECTURE.md, one check per rule."""

    full_name: Series[str]
    email: Series[str]
    linkedin_profile: Series[str]
    company: Series[str]
    locale: Series[str]
    timezone: Series[str]
    metadata: Series[str]

    class Config:
        strict = "filter"

    @pa.check("full_name", "email", "linkedin_profile", name="required")
    def required(cls, series: Series[str]) -> Series[bool]:
        return _filled(series)

    @pa.check("full_name", "company", name="max_length")
    def max_length(cls, series: Series[str]) -> Series[bool]:
        return series.str.len() <= MAX_TEXT_LENGTH

    @pa.check("email", name="email_syntax")
    def email_syntax(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, is_email(series))

    @pa.check("linkedin_profile", name="linkedin_url")
    def linkedin_url(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, is_linkedin_profile(series))

    @pa.check("locale", name="bcp47_locale")
    def bcp47_locale(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, is_locale(series))

    @pa.check("timezone", name="iana_timezone")
    def iana_timezone(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, is_timezone(series))

    @pa.check("metadata", name="json_object")
    def json_object(cls, series: Series[str]) -> Series[bool]:
        ok = series.str.match(FLAT_JSON_OBJECT).to_numpy(dtype=bool, copy=True)
        rest = ~ok & _filled(series).to_numpy(dtype=bool)
        if rest.any():
            ok[rest] = [_is_json_object(text) for text in series[rest]]
        return _optional(series, pd.Series(ok, index=series.index))

    @pa.check("full_name", "email", "linkedin_profile", "company", "locale", "timezone",
              name="no_nul")
    def no_nul(cls, series: Series[str]) -> Series[bool]:
        return ~series.str.contains("\x00", regex=False)


# How the reason of a row the user chose to leave out begins (core.importing.skip_rows).
SKIPPED = "skipped: "


@dataclass
class ValidationReport:
    """What validation found. The rows to commit are not copied out: `normalized` holds every row
    (its unchanged columns shared with the file's frame) and `kept` the positions of the valid
    ones, one per email; `valid` takes them when asked. errors and duplicates: what is left out."""

    rows: int
    normalized: pd.DataFrame
    kept: np.ndarray          # positions in normalized of the rows to commit, in file order
    errors: pd.DataFrame      # row, column, reason, value
    duplicates: pd.DataFrame  # row, email, kept_row
    extras_overridden: int = 0  # rows whose JSON metadata had a key that a kept column replaced
    fixes: list[FixOffer] = field(default_factory=list)  # the one-click fixes offered, and applied
    # rows left out because their email is on the suppression list (core.storage.personal_data)
    suppressed_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    suppression_mark: tuple | None = None  # the suppression list these rows were checked against

    @property
    def suppressed(self) -> int:
        return len(self.suppressed_rows)

    def without(self, positions: np.ndarray) -> "ValidationReport":
        """The report with the rows at these positions left out as suppressed: not committed, not
        reported as invalid or duplicate, their values nowhere in the errors."""
        rows = self.normalized[ROW].to_numpy()[positions]
        kept = self.kept[~np.isin(self.kept, positions)]
        return replace(self, kept=kept, errors=self.errors[~self.errors["row"].isin(rows)].reset_index(drop=True),
                       duplicates=self.duplicates[~self.duplicates["row"].isin(rows)].reset_index(drop=True),
                       suppressed_rows=np.union1d(self.suppressed_rows, rows))

    def emails_of(self, rows) -> list[str]:
        """The (normalized) emails of these source rows, "" for a row not in the report."""
        positions = pd.Index(self.normalized[ROW]).get_indexer(rows)
        found = positions >= 0
        emails = np.full(len(positions), "", dtype=object)
        # only these rows' emails: the whole column as Python strings took 0.13 s of 1M rows
        emails[found] = self.normalized["email"].take(positions[found]).to_numpy(dtype=object)
        return emails.tolist()

    @property
    def fixes_applied(self) -> dict[str, int]:
        return applied_counts(self.fixes)

    @property
    def valid(self) -> pd.DataFrame:
        """The rows to commit (a copy, made on each call)."""
        return self.normalized.take(self.kept).reset_index(drop=True)

    @property
    def valid_count(self) -> int:
        return len(self.kept)

    def valid_table(self) -> pyarrow.Table:
        """The rows to commit, ROW and the fields, as the commit stages them."""
        return pyarrow.Table.from_pandas(self.normalized[[ROW, *FIELDS]], preserve_index=False).take(self.kept)

    def kept_emails(self, limit: int) -> list[str]:
        """The emails of the first `limit` rows to commit."""
        return self.normalized["email"].take(self.kept[:limit]).tolist()

    @cached_property
    def skipped(self) -> int:
        """Rows left out only because the user chose so (core.importing.skip_rows)."""
        if self.errors.empty:
            return 0
        chosen = self.errors["reason"].astype(str).str.startswith(SKIPPED)
        return int(chosen.groupby(self.errors["row"]).all().sum())

    @cached_property
    def invalid(self) -> int:
        """Rows left out for a problem (a skipped row is not one: see skipped)."""
        return int(self.errors["row"].nunique()) - self.skipped

    @cached_property
    def problems_by_row(self) -> pd.Series:
        """row -> "Email is not a valid email address; Time zone is not …", for the console's
        grids (kept: each rerun of the review page asks for it, 0.6 s at 1M rows)."""
        said = self.errors["column"].map(field_label) + " " + self.errors["reason"]
        return said.groupby(self.errors["row"]).agg("; ".join)

    def error_report(self) -> pd.DataFrame:
        """The error report: every row left out (invalid, or a duplicate superseded by a later row),
        one line per problem (row, column, reason, value), as import_errors stores it."""
        superseded = pd.DataFrame({
            "row": self.duplicates["row"], "column": "email",
            "reason": "duplicate email in this file: row " + self.duplicates["kept_row"].astype(str)
                      + " is imported instead",
            "value": self.duplicates["email"]})
        frames = [f for f in (self.errors, superseded) if not f.empty]
        if not frames:
            return self.errors.copy()
        return (pd.concat(frames, ignore_index=True).sort_values(["row", "column"], kind="stable")
                .reset_index(drop=True))


# What trimming removes from both ends of a value: every Unicode space, and the invisible
# characters files carry there (a byte order mark from files glued together, zero-width spaces
# from web copies), which str.strip() keeps.
TRIMMED = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\ufeff\u200b\u200c\u200d\u2060"


def normalize(mapped: pd.DataFrame) -> pd.DataFrame:
    """Trim every value, lower-case emails, and spell locales with hyphens (en_US -> en-US)."""
    # A shallow copy: a column that normalizing leaves as it is shares the caller's memory
    # (pandas copies on write), so a large file is not held twice.
    normalized = mapped.copy(deep=False)
    for field in FIELDS:
        column = normalized[field].astype(str)
        cleaned = column.str.strip(TRIMMED)
        if field == "email":
            cleaned = _normalize_emails(cleaned.str.lower())
        elif field == "locale":
            cleaned = cleaned.str.replace("_", "-", regex=False)
        normalized[field] = column if cleaned.equals(column) else cleaned
    return normalized


def normalize_value(field: str, value: str) -> str:
    """normalize() of one value (tests/test_clean_batch.py holds the two equal). Lower case through
    Arrow's kernel, which normalize uses: Python's str.lower spells some letters differently
    (U+0130 becomes two code points)."""
    cleaned = value.strip(TRIMMED)
    if field == "email":
        cleaned = cleaned.lower() if cleaned.isascii() else pc.utf8_lower(pyarrow.scalar(cleaned)).as_py()
        if _needs_library(cleaned):
            cleaned = international_email(cleaned) or unicodedata.normalize("NFC", cleaned)
    elif field == "locale":
        cleaned = cleaned.replace("_", "-")
    return cleaned


def _normalize_emails(emails: pd.Series) -> pd.Series:
    """Internationalized addresses in their stored form; the others (almost all) as they are."""
    special = _needs_email_library(emails)
    if special.any():
        emails = emails.copy()
        emails[special] = [international_email(value) or unicodedata.normalize("NFC", value)
                           for value in emails[special]]
    return emails


def validate(mapped: pd.DataFrame, on_progress: Progress | None = None,
             problems: pd.DataFrame | None = None, fixes: frozenset[str] = frozenset()) -> ValidationReport:
    """Validate rows that apply_mapping produced; returns every failure, lazily collected.

    problems: errors found before (reading problems: row, column, reason, value); their rows are
    left out and reported with those errors instead of their validation errors.
    fixes: the kinds of one-click fixes to make (core.rows.quick_fixes); every kind the rows could
    take is offered in the report, made or not.
    Rows are checked in slices of VALIDATE_CHUNK (the result does not depend on the size);
    on_progress("validating", done, total) is called after each."""
    notify = on_progress or ignore_progress
    normalized = normalize(mapped).reset_index(drop=True)
    release_memory()
    total = len(normalized)
    found = []
    for start in range(0, max(total, 1), VALIDATE_CHUNK):
        chunk = normalized.iloc[start:start + VALIDATE_CHUNK]
        failed = _failed_checks(chunk) if total <= DIRECT_ROWS else _schema_failures(chunk)
        if failed is not None:
            found.append(_errors_from(failed, normalized))
        release_memory()
        notify("validating", min(start + VALIDATE_CHUNK, total), total)
    left_out = set(problems["row"]) if problems is not None and not problems.empty else set()
    offers, found = _quick_fixes(normalized, found, fixes, left_out)
    international_email.cache_clear()  # kept for one file, not for the life of the server
    if problems is not None and not problems.empty:
        found = [f[~f["row"].isin(set(problems["row"]))] for f in found] + [problems]
    errors = (pd.concat(found, ignore_index=True).sort_values(["row", "column"], kind="stable")
              .reset_index(drop=True) if found else empty_row_errors())
    bad_rows = set(errors["row"])
    is_valid = ~normalized[ROW].isin(bad_rows).to_numpy()
    # Dedupe on integer codes of the emails (no Python string per row); the kept rows stay where
    # they are, named by position.
    positions = np.flatnonzero(is_valid)
    codes, _ = pd.factorize(normalized["email"].take(positions), use_na_sentinel=False)
    order = np.arange(len(positions))
    last = np.full(codes.max() + 1 if len(codes) else 0, -1, dtype=np.int64)
    np.maximum.at(last, codes, order)
    is_last = last[codes] == order
    earlier = positions[~is_last]
    rows = normalized[ROW].to_numpy()
    duplicates = pd.DataFrame({"row": rows[earlier],
                               "email": normalized["email"].take(earlier).to_numpy(),
                               "kept_row": rows[positions[last[codes[~is_last]]]]})
    release_memory()
    return ValidationReport(rows=total, normalized=normalized, kept=positions[is_last], errors=errors,
                            duplicates=duplicates, fixes=offers)


def _quick_fixes(normalized: pd.DataFrame, found: list[pd.DataFrame], kinds: frozenset[str],
                 left_out: set[int]) -> tuple[list[FixOffer], list[pd.DataFrame]]:
    """The fixes the rows could take (offered), and the errors once the chosen kinds are made:
    normalized takes the fixed values and their rows are checked again. left_out: rows reported
    for another reason (a reading problem), which no fix is offered for."""
    errors = pd.concat(found, ignore_index=True) if found else empty_row_errors()
    possible, made = {}, {}
    where = pd.Index(normalized[ROW])
    for field_name in FIELDS_FIXED:
        invalid = where.get_indexer(errors.loc[errors["column"] == field_name, "row"])
        values = candidates(normalized, field_name, invalid[invalid >= 0])
        if left_out and len(values):
            values = values[~normalized[ROW].take(values.index).isin(left_out).to_numpy()]
        if values.empty:
            continue
        passes, again = _passes(field_name), lambda value, f=field_name: normalize_value(f, value)
        possible[field_name] = fix_field(field_name, values, frozenset(KINDS), passes, again)
        if kinds:
            # every kind that fixes this field chosen (apply_fixes=true, "all"): what is possible is made
            chosen = made[field_name] = possible[field_name] if kinds >= kinds_of(field_name) else \
                fix_field(field_name, values, kinds, passes, again)
            if len(chosen.positions):
                column = normalized[field_name].copy()
                column.iloc[chosen.positions] = chosen.values_after()
                normalized[field_name] = column
    offers = offers_of(possible, made, normalized[ROW].to_numpy())
    if not any(len(fixes.positions) for fixes in made.values()):
        return offers, found
    fixed = np.unique(np.concatenate([fixes.positions for fixes in made.values()]))
    rows = set(normalized[ROW].to_numpy()[fixed])
    again = _failed_checks(normalized.iloc[fixed])
    kept = [frame[~frame["row"].isin(rows)] for frame in found]
    return offers, kept + ([_errors_from(again, normalized)] if again is not None else [])


def _passes(field_name: str) -> Callable[[str], bool]:
    """Whether one normalized value of this field passes all its rules (VALUE_CHECKS)."""
    checks = [VALUE_CHECKS[check] for column, check in schema_rules() if column == field_name]
    return lambda value: all(check(value) for check in checks)


def _schema_failures(chunk: pd.DataFrame) -> pd.DataFrame | None:
    """pandera's failure cases of the chunk (index, column, check, ...), None when it passes."""
    try:
        ContactRow.validate(chunk, lazy=True)
    except pa.errors.SchemaErrors as failures:
        return failures.failure_cases
    return None


@lru_cache(maxsize=1)
def schema_rules() -> list[tuple[str, str]]:
    """(column, check) in the order pandera runs them; every check is a method of ContactRow."""
    return [(column, check.name) for column, spec in ContactRow.to_schema().columns.items() for check in spec.checks]


def _failed_checks(chunk: pd.DataFrame) -> pd.DataFrame | None:
    """What _schema_failures gives (index, column, check), from ContactRow's checks run one by one
    without pandera's machinery; tests/test_validation.py holds the two equal."""
    cases = []
    for column, check in schema_rules():
        values = chunk[column]
        failing = ~(np.asarray(getattr(ContactRow, check)(values), dtype=bool) | values.isna().to_numpy())
        if failing.any():
            cases.append(pd.DataFrame({"index": chunk.index[failing], "column": column, "check": check}))
    return pd.concat(cases, ignore_index=True) if cases else None


def _cells(frame: pd.DataFrame, labels: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """frame.at[label, column] for each pair, a column at a time: one lookup per cell took 45 µs,
    1.3 s for a file whose 28,000 LinkedIn URLs lack their https://."""
    cells = np.empty(len(labels), dtype=object)
    for column in pd.unique(columns):
        mine = columns == column
        cells[mine] = frame[column].loc[labels[mine]].to_numpy(dtype=object)
    return cells


def _errors_from(cases: pd.DataFrame, normalized: pd.DataFrame) -> pd.DataFrame:
    cases = cases[cases["index"].notna()]
    positions = cases["index"].astype(int).to_numpy()
    errors = pd.DataFrame({
        "row": normalized[ROW].to_numpy()[positions],
        "column": cases["column"].to_numpy(),
        "reason": [REASONS.get(check, check) for check in cases["check"]],
        "value": _cells(normalized, positions, cases["column"].to_numpy()),
    })
    metadata = (errors["column"] == "metadata").to_numpy()
    if metadata.any():  # say which of the ways a metadata cell can fail this one took
        errors.loc[metadata, "reason"] = [json_problem(v) or REASONS["json_object"]
                                          for v in errors.loc[metadata, "value"]]
    return errors.sort_values(["row", "column"], kind="stable").reset_index(drop=True)
