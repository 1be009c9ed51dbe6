"""Normalize and validate mapped rows with one pandera model, then dedupe by email.

Every failure is reported with its source row number, column, reason and value; nothing is dropped
silently (pandera's drop_invalid_rows is deliberately not used).
"""
from __future__ import annotations

import json
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import langcodes
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from core.fields import FIELDS, MAX_TEXT_LENGTH, ROW

# The HTML standard's "valid e-mail address" (WHATWG), written as a regex there too; a library
# such as email-validator follows RFC 5321 instead, which accepts and rejects other addresses.
EMAIL_PATTERN = (r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                 r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
LINKEDIN_PATTERN = r"(?i)^https?://(?:[a-z0-9-]+\.)*linkedin\.com/in/[^/?#\s]+/?(?:[?#]\S*)?$"

REASONS = {
    "required": "is required but empty",
    "max_length": f"is longer than {MAX_TEXT_LENGTH} characters",
    "email_syntax": "is not a valid email address",
    "linkedin_url": "is not a LinkedIn profile URL (expected https://linkedin.com/in/<name>)",
    "bcp47_locale": "is not a language tag such as en, en-US or pt-BR",
    "iana_timezone": "is not an IANA time zone such as America/New_York",
    "json_object": 'is not a JSON object such as {"source": "csv"}',
    "no_nul": "contains a NUL character, which cannot be stored",
}


def _filled(series: pd.Series) -> pd.Series:
    return series.str.len() > 0


def _optional(series: pd.Series, ok: pd.Series) -> pd.Series:
    return ~_filled(series) | ok


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_json_object(text: str) -> bool:
    def reject_constant(name):
        raise ValueError(name)  # NaN and Infinity are not JSON and PostgreSQL refuses them
    try:
        value = json.loads(text, parse_constant=reject_constant)
    except ValueError:
        return False
    return isinstance(value, dict) and "\\u0000" not in text


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
        return _optional(series, series.str.match(EMAIL_PATTERN))

    @pa.check("linkedin_profile", name="linkedin_url")
    def linkedin_url(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, series.str.match(LINKEDIN_PATTERN))

    @pa.check("locale", name="bcp47_locale")
    def bcp47_locale(cls, series: Series[str]) -> Series[bool]:
        valid = {tag for tag in series.unique() if tag and langcodes.tag_is_valid(tag)}
        return _optional(series, series.isin(valid))

    @pa.check("timezone", name="iana_timezone")
    def iana_timezone(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, series.isin(_timezones()))

    @pa.check("metadata", name="json_object")
    def json_object(cls, series: Series[str]) -> Series[bool]:
        return _optional(series, series.map(_is_json_object).astype(bool))

    @pa.check("full_name", "email", "linkedin_profile", "company", "locale", "timezone",
              name="no_nul")
    def no_nul(cls, series: Series[str]) -> Series[bool]:
        return ~series.str.contains("\x00", regex=False)


@dataclass
class ValidationReport:
    """valid: rows to commit (normalized, one per email); errors and duplicates: what is left out."""

    rows: int
    valid: pd.DataFrame
    errors: pd.DataFrame      # row, column, reason, value
    duplicates: pd.DataFrame  # row, email, kept_row

    @property
    def invalid(self) -> int:
        return int(self.errors["row"].nunique())

    def rejected_rows(self) -> pd.DataFrame:
        """Invalid and superseded rows together, as stored in import_errors."""
        superseded = pd.DataFrame({
            "row": self.duplicates["row"], "column": "email",
            "reason": "duplicate email in this file: row " + self.duplicates["kept_row"].astype(str)
                      + " is imported instead",
            "value": self.duplicates["email"]})
        frames = [f for f in (self.errors, superseded) if not f.empty]
        if not frames:
            return self.errors.copy()
        return pd.concat(frames, ignore_index=True).sort_values(["row", "column"], kind="stable")


def normalize(mapped: pd.DataFrame) -> pd.DataFrame:
    """Trim every value, lower-case emails, and spell locales with hyphens (en_US -> en-US)."""
    normalized = mapped.copy()
    for field in FIELDS:
        normalized[field] = normalized[field].astype(str).str.strip()
    normalized["email"] = normalized["email"].str.lower()
    normalized["locale"] = normalized["locale"].str.replace("_", "-", regex=False)
    return normalized


def validate(mapped: pd.DataFrame) -> ValidationReport:
    """Validate rows that apply_mapping produced; returns every failure, lazily collected."""
    normalized = normalize(mapped).reset_index(drop=True)
    try:
        ContactRow.validate(normalized, lazy=True)
        errors = _empty_errors()
    except pa.errors.SchemaErrors as failures:
        errors = _errors_from(failures.failure_cases, normalized)
    bad_rows = set(errors["row"])
    valid = normalized[~normalized[ROW].isin(bad_rows)]
    valid, duplicates = dedupe(valid)
    return ValidationReport(rows=len(normalized), valid=valid, errors=errors, duplicates=duplicates)


def dedupe(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last valid row of an email wins; the earlier ones are returned as duplicates."""
    is_last = ~valid.duplicated("email", keep="last")
    kept = valid[is_last]
    earlier = valid[~is_last]
    kept_row = earlier["email"].map(kept.set_index("email")[ROW])
    duplicates = pd.DataFrame({"row": earlier[ROW].to_numpy(), "email": earlier["email"].to_numpy(),
                               "kept_row": kept_row.to_numpy()})
    return kept.reset_index(drop=True), duplicates


def _errors_from(cases: pd.DataFrame, normalized: pd.DataFrame) -> pd.DataFrame:
    cases = cases[cases["index"].notna()]
    positions = cases["index"].astype(int).to_numpy()
    errors = pd.DataFrame({
        "row": normalized[ROW].to_numpy()[positions],
        "column": cases["column"].to_numpy(),
        "reason": [REASONS.get(check, check) for check in cases["check"]],
        "value": [normalized.at[p, c] for p, c in zip(positions, cases["column"])],
    })
    return errors.sort_values(["row", "column"], kind="stable").reset_index(drop=True)


def _empty_errors() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype=int), "column": pd.Series(dtype=str),
                         "reason": pd.Series(dtype=str), "value": pd.Series(dtype=str)})
