"""Map source columns to contact fields: suggest a mapping, then apply the one the user confirmed.

A mapping is {field: [source column, ...]}; only full_name takes several columns
(First Name + Middle Name + Last Name), joined with a space.
"""
from __future__ import annotations

import difflib
import re

import pandas as pd

from core.errors import MappingIncomplete
from core.fields import FIELDS, REQUIRED_FIELDS, ROW

Mapping = dict[str, list[str]]

# Header spellings of common CRM exports (LinkedIn, HubSpot, Salesforce, Apollo, Google, Outlook).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "full_name": ("full name", "name", "contact name", "contact", "fullname", "display name",
                  "contact full name", "person name"),
    "email": ("email", "email address", "e mail", "e mail address", "emailaddress", "work email",
              "primary email", "business email", "email 1", "e mail 1 value", "contact email"),
    "linkedin_profile": ("linkedin", "linkedin url", "linkedin profile", "linkedin profile url",
                         "person linkedin url", "linkedin link", "profile url", "url", "linkedinurl"),
    "company": ("company", "company name", "organization", "organisation", "organization name",
                "account name", "account", "employer", "company account"),
    "locale": ("locale", "language", "preferred language", "lang", "language code"),
    "timezone": ("timezone", "time zone", "tz", "contact time zone"),
    "metadata": ("metadata", "meta", "custom fields", "extra", "attributes"),
}
NAME_PARTS: tuple[tuple[str, ...], ...] = (
    ("first name", "firstname", "given name", "first"),
    ("middle name", "middlename", "additional name", "middle"),
    ("last name", "lastname", "surname", "family name", "last"),
)
FUZZY_CUTOFF = 0.8


def normalize_header(header: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(header).lower()).split())


def suggest_mapping(headers: list[str]) -> Mapping:
    """Exact field names first, then known synonyms, then name parts, then close spellings.

    >>> suggest_mapping(["First Name", "Last Name", "Email Address", "LinkedIn URL"])
    {'email': ['Email Address'], 'linkedin_profile': ['LinkedIn URL'], 'full_name': ['First Name', 'Last Name']}
    """
    by_normal = {}
    for header in headers:
        by_normal.setdefault(normalize_header(header), header)
    mapping: Mapping = {}
    used: set[str] = set()

    def take(field: str, columns: list[str]) -> None:
        mapping[field] = columns
        used.update(columns)

    for field in FIELDS:
        for spelling in (normalize_header(field), *SYNONYMS[field]):
            header = by_normal.get(spelling)
            if header is not None and header not in used:
                take(field, [header])
                break
    if "full_name" not in mapping:
        parts = [_first_match(by_normal, spellings, used) for spellings in NAME_PARTS]
        parts = [p for p in parts if p]
        if parts:
            take("full_name", parts)
    for field in FIELDS:
        if field not in mapping:
            header = _fuzzy_match(field, [h for h in headers if h not in used])
            if header:
                take(field, [header])
    return mapping


def _first_match(by_normal: dict[str, str], spellings: tuple[str, ...], used: set[str]) -> str | None:
    return next((by_normal[s] for s in spellings if s in by_normal and by_normal[s] not in used), None)


def _fuzzy_match(field: str, headers: list[str]) -> str | None:
    candidates = {normalize_header(h): h for h in headers}
    best, best_score = None, FUZZY_CUTOFF - 1e-9
    for spelling in (normalize_header(field), *SYNONYMS[field]):
        for normal, header in candidates.items():
            score = difflib.SequenceMatcher(None, spelling, normal).ratio()
            if score > best_score:
                best, best_score = header, score
    return best


def missing_required(mapping: Mapping) -> list[str]:
    return [f for f in REQUIRED_FIELDS if not mapping.get(f)]


def describe_mapping(mapping: Mapping) -> dict[str, str]:
    """{field: "Source Column"} with combined columns as "First Name + Last Name"."""
    return {f: " + ".join(mapping[f]) for f in FIELDS if mapping.get(f)}


def apply_mapping(frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """A frame with exactly the contact fields (empty string where unmapped) and ROW."""
    missing = missing_required(mapping)
    if missing:
        raise MappingIncomplete(missing)
    unknown = [c for columns in mapping.values() for c in columns if c not in frame.columns]
    if unknown:
        raise MappingIncomplete([f"{c!r} (not a column of this file)" for c in unknown])
    mapped = pd.DataFrame(index=frame.index)
    for field in FIELDS:
        columns = mapping.get(field) or []
        if not columns:
            mapped[field] = ""
        elif len(columns) == 1:
            mapped[field] = frame[columns[0]].astype(str)
        else:
            parts = frame[columns].astype(str).apply(lambda s: s.str.strip())
            mapped[field] = parts.agg(" ".join, axis=1).str.split().str.join(" ")
    mapped[ROW] = frame[ROW].to_numpy()
    return mapped
