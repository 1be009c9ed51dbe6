"""Map source columns to contact fields: suggest a mapping, then apply the one the user confirmed.

A mapping is {field: [source column, ...]}; only full_name takes several columns
(First Name + Middle Name + Last Name), joined with a space.

Suggestions come, in order, from a mapping the user confirmed before for the same headers (see
core.storage.saved_mappings), the field's own name, the header spellings of real CRM exports (SYNONYMS),
name parts, and last a fuzzy match (rapidfuzz) for near misses such as "emial".
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from core.errors import ImportConsoleError, MappingIncomplete, plural
from core.fields import FIELDS, REQUIRED_FIELDS, ROW

Mapping = dict[str, list[str]]

# Header spellings of the exports people upload. Compared on header_key(), so case, spaces and
# punctuation do not matter ("E-mail Address" == "email address" == "EmailAddress").
#   LinkedIn Connections.csv: First Name, Last Name, URL, Email Address, Company, Position, Connected On
#   HubSpot contacts:   Record ID, First Name, Last Name, Email, Company Name, Job Title,
#                       LinkedIn URL, Preferred language, Time Zone
#   Salesforce report:  First Name, Last Name, Full Name, Email, Account Name, Title
#   Salesforce Data Loader: FIRSTNAME, LASTNAME, NAME, EMAIL, ACCOUNT.NAME, LINKEDIN_PROFILE__C
#   Apollo:             First Name, Last Name, Title, Company, Email, Email Status, Person Linkedin Url,
#                       Company Linkedin Url
#   Google Contacts:    First Name, Middle Name, Last Name, E-mail 1 - Label, E-mail 1 - Value,
#                       Organization Name (older: Name, Given Name, Additional Name, Family Name,
#                       Organization 1 - Name)
#   Outlook:            First Name, Middle Name, Last Name, E-mail Address, E-mail 2 Address, Company,
#                       Language
#   Pipedrive people:   Person - Name, Person - First name, Person - Last name, Person - Email - Work,
#                       Person - Organization, Organization - Name
SYNONYMS: dict[str, tuple[str, ...]] = {
    "full_name": ("full name", "name", "contact name", "contact", "fullname", "display name",
                  "contact full name", "person name", "person - name", "lead name", "your name"),
    "email": ("email", "email address", "e mail", "e-mail", "e mail address", "emailaddress",
              "work email", "primary email", "business email", "email 1", "e-mail 1 - value",
              "e-mail address", "contact email", "person - email", "person - email - work",
              "person - email - other", "person - email - home", "email (work)", "work e-mail",
              "email value", "emails", "mail"),
    "linkedin_profile": ("linkedin", "linkedin url", "linkedin profile", "linkedin profile url",
                         "person linkedin url", "linkedin link", "profile url", "url", "linkedinurl",
                         "linkedin_profile__c", "linkedin_url__c", "linkedin__c", "hs_linkedin_url",
                         "person - linkedin", "person - linkedin profile", "linkedin public url",
                         "public profile url", "li url", "linkedin member url"),
    "company": ("company", "company name", "organization", "organisation", "organization name",
                "organization 1 - name", "account name", "account", "account.name", "employer",
                "company account", "person - organization", "organization - name", "current company"),
    "locale": ("locale", "language", "preferred language", "lang", "language code", "hs_language"),
    "timezone": ("timezone", "time zone", "tz", "contact time zone", "hs_timezone", "time-zone"),
    "metadata": ("metadata", "meta", "custom fields", "extra", "attributes"),
}
NAME_PARTS: tuple[tuple[str, ...], ...] = (
    ("first name", "firstname", "given name", "first", "fname", "person - first name", "first_name"),
    ("middle name", "middlename", "additional name", "middle", "middle initial"),
    ("last name", "lastname", "surname", "family name", "last", "lname", "person - last name"),
)
FUZZY_CUTOFF = 80  # rapidfuzz ratio, 0..100, on header_key()
# Columns that name another thing than the person's profile, whatever their spelling.
_NOT_PERSONAL = re.compile(r"company|account|organi[sz]ation|status|label|type|domain")


def header_key(header: str) -> str:
    """Letters and digits only, lower-case, without Salesforce's custom-field suffix __c."""
    text = str(header).strip().lower()
    text = re.sub(r"__c$", "", text)
    return re.sub(r"[^0-9a-z]+", "", text)


_SYNONYM_KEYS = {f: tuple(dict.fromkeys(header_key(s) for s in (f, *SYNONYMS[f]))) for f in FIELDS}
_NAME_PART_KEYS = tuple(tuple(dict.fromkeys(header_key(s) for s in part)) for part in NAME_PARTS)


def suggest_mapping(headers: list[str], *, remembered: Mapping | None = None) -> Mapping:
    """A remembered mapping if it fits these headers, else exact names, synonyms, name parts, fuzzy.

    >>> suggest_mapping(["First Name", "Last Name", "Email Address", "LinkedIn URL"])
    {'email': ['Email Address'], 'linkedin_profile': ['LinkedIn URL'], 'full_name': ['First Name', 'Last Name']}
    """
    if remembered and _fits(remembered, headers):
        return {f: list(remembered[f]) for f in FIELDS if remembered.get(f)}
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(header_key(header), header)
    mapping: Mapping = {}
    used: set[str] = set()

    def take(field: str, columns: list[str]) -> None:
        mapping[field] = columns
        used.update(columns)

    for field in FIELDS:
        header = _first_match(by_key, _SYNONYM_KEYS[field], used)
        if header is not None:
            take(field, [header])
    if "full_name" not in mapping:
        parts = [_first_match(by_key, keys, used) for keys in _NAME_PART_KEYS]
        parts = [p for p in parts if p]
        if parts and (len(parts) > 1 or header_key(parts[0]) in _NAME_PART_KEYS[0] + _NAME_PART_KEYS[2]):
            take("full_name", parts)
    for field in FIELDS:
        if field not in mapping:
            header = _fuzzy_match(field, [h for h in headers if h not in used])
            if header:
                take(field, [header])
    return mapping


def _fits(mapping: Mapping, headers: list[str]) -> bool:
    present = set(headers)
    return all(c in present for columns in mapping.values() for c in columns) and \
        not missing_required(mapping)


def _first_match(by_key: dict[str, str], keys: tuple[str, ...], used: set[str]) -> str | None:
    return next((by_key[k] for k in keys if k in by_key and by_key[k] not in used), None)


def _fuzzy_match(field: str, headers: list[str]) -> str | None:
    candidates = {}
    for header in headers:
        key = header_key(header)
        if key and not (field != "company" and _NOT_PERSONAL.search(key)):
            candidates.setdefault(key, header)
    if not candidates:
        return None
    best, best_score = None, FUZZY_CUTOFF - 1e-9
    for spelling in _SYNONYM_KEYS[field]:
        found = process.extractOne(spelling, list(candidates), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if found and found[1] > best_score:
            best, best_score = candidates[found[0]], found[1]
    return best


@dataclass(frozen=True)
class SameNamedColumns:
    """Columns the file gives one name, whose values differ on some rows: importing either one
    without asking would drop the other's values (issue 9, point 14)."""

    name: str                  # as the file spells it
    columns: tuple[str, ...]   # as shown: Email, Email (2)
    positions: tuple[int, ...]  # 1 for the file's first column
    differing_rows: int

    def describe(self, field: str) -> str:
        places = " and ".join(str(p) for p in self.positions)
        return (f"{len(self.columns)} columns are named '{self.name}' (columns {places}) and their values "
                f"differ on {plural(self.differing_rows, 'row')}: pick the one to import as {field}.")


def same_named_columns(frame: pd.DataFrame, renamed: dict[str, str]) -> list[SameNamedColumns]:
    """Groups of columns that share a name in the file and disagree on at least one row."""
    headers = [c for c in frame.columns if c != ROW]
    groups: dict[str, list[str]] = {}
    for header in headers:
        original = renamed.get(header, header)
        if original.strip():  # blank names are not a name the columns share
            groups.setdefault(original.strip().lower(), []).append(header)
    found = []
    for columns in (g for g in groups.values() if len(g) > 1):
        values = frame[columns].astype(str).apply(lambda s: s.str.strip())
        differing = int(values.ne(values.iloc[:, 0], axis=0).any(axis=1).sum())
        if differing:
            found.append(SameNamedColumns(renamed.get(columns[0], columns[0]).strip(), tuple(columns),
                                          tuple(headers.index(c) + 1 for c in columns), differing))
    return found


def ambiguous_fields(mapping: Mapping, groups: list[SameNamedColumns]) -> dict[str, SameNamedColumns]:
    """The fields a suggested mapping feeds from one column of such a group."""
    found = {}
    for field, columns in mapping.items():
        group = next((g for g in groups if set(columns) & set(g.columns)), None)
        if group is not None:
            found[field] = group
    return found


# Content-based suggestions (issue 9, point 15): exports such as Google Contacts ("Website 1 -
# Value") or Outlook ("Web Page") keep the LinkedIn URL under a generic header. For a field the
# headers left unmapped, a column whose sampled values mostly pass the field's own rule is offered.
CONTENT_SAMPLE = 200
CONTENT_SHARE = 0.8
# Two-letter country codes pass as language tags ("DE"); such columns are not a locale.
# Headers whose short codes look like language tags but are not: countries, and job titles or
# statuses ("CTO", "CEO" and "VP" are well-formed BCP 47 tags).
_NOT_LOCALE = re.compile(r"country|region|state|province|nation|title|role|position|status|stage|level|seniority"
                         r"|department")


def _content_rules() -> dict[str, tuple[object, str]]:
    from core.rows.validation import is_email, is_linkedin_profile, is_locale, is_timezone
    return {"email": (lambda s: is_email(s.str.lower()), "email addresses"),
            "linkedin_profile": (is_linkedin_profile, "LinkedIn profile URLs"),
            "timezone": (is_timezone, "IANA time zones"),
            "locale": (is_locale, "language tags (BCP 47)")}


def suggest_from_values(frame: pd.DataFrame, mapping: Mapping) -> dict[str, tuple[str, str]]:
    """{field: (column, why)} for the fields mapping leaves out whose values some unused column
    mostly holds, e.g. ("Website 1 - Value", "suggested from its values: 3 of 3 sampled look like
    LinkedIn profile URLs")."""
    used = {c for columns in mapping.values() for c in columns}
    free = [c for c in frame.columns if c != ROW and c not in used]
    samples = {c: _sample(frame[c]) for c in free}
    found: dict[str, tuple[str, str]] = {}
    for field, (rule, what) in _content_rules().items():
        if mapping.get(field):
            continue
        best = _best_column(field, rule, samples, taken={c for c, _ in found.values()})
        if best:
            column, matches, sampled = best
            found[field] = (column, f"suggested from its values: {matches:,} of {sampled:,} sampled look "
                                    f"like {what}")
    return found


def _sample(values: pd.Series) -> pd.Series:
    text = values.head(CONTENT_SAMPLE * 5).astype(str).str.strip()
    return text[text != ""].head(CONTENT_SAMPLE).reset_index(drop=True)


def _best_column(field: str, rule, samples: dict[str, pd.Series], taken: set[str]):
    best = None
    for column, sample in samples.items():
        if column in taken or sample.empty or (field == "locale" and _NOT_LOCALE.search(header_key(column))):
            continue
        matches = int(rule(sample).sum())
        if matches >= CONTENT_SHARE * len(sample) and (best is None or matches / len(sample) > best[1] / best[2]):
            best = (column, matches, len(sample))
    return best


def missing_required(mapping: Mapping) -> list[str]:
    return [f for f in REQUIRED_FIELDS if not mapping.get(f)]


def describe_mapping(mapping: Mapping) -> dict[str, str]:
    """{field: "Source Column"} with combined columns as "First Name + Last Name"."""
    return {f: " + ".join(mapping[f]) for f in FIELDS if mapping.get(f)}


def extra_key(header: str) -> str:
    """The metadata key a kept column goes under by default: its header in snake case.

    >>> extra_key("Job Title"), extra_key("E-mail (work)")
    ('job_title', 'e_mail_work')
    """
    return re.sub(r"\W+", "_", str(header).strip().lower()).strip("_") or "column"


def check_extras(headers: list[str], mapping: Mapping, extras: dict[str, str]) -> None:
    """Kept columns must be columns of the file that no field takes, each under its own key."""
    mapped = {column: field for field, columns in mapping.items() for column in columns}
    for column, key in extras.items():
        if column not in headers:
            raise ImportConsoleError(f"There is no column {column!r} to keep as an extra field; the columns are "
                                     f"{', '.join(map(repr, headers))}.")
        if column in mapped:
            raise ImportConsoleError(f"Column {column!r} is mapped to {mapped[column]}: it cannot also be kept "
                                     "as an extra field.")
        if not key.strip():
            raise ImportConsoleError(f"Say under which key column {column!r} is kept.")
    keys = list(extras.values())
    if len(set(keys)) < len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ImportConsoleError(f"Two kept columns cannot go under the same key: {', '.join(twice)} is named twice.")


def keep_extras(mapped: pd.DataFrame, frame: pd.DataFrame, extras: dict[str, str]) -> int:
    """Lay the kept columns' non-empty cells, each under its key, over the metadata column's
    object (mapped["metadata"], in place); returns how many rows had a key of that object replaced.
    A metadata cell that is not a JSON object is left as it is, for validation to report."""
    if not extras:
        return 0
    keys = list(extras.values())
    cells = frame[list(extras)].astype(str).to_numpy()
    merged, overridden = [], 0
    for json_cell, values in zip(mapped["metadata"].tolist(), cells):
        kept = {key: value for key, value in zip(keys, values) if value.strip()}
        base = json_object_of(json_cell)
        if not kept or base is None:
            merged.append(json_cell)
            continue
        overridden += bool(base.keys() & kept.keys())
        merged.append(json.dumps({**base, **kept}, ensure_ascii=False))
    mapped["metadata"] = merged
    return overridden


def json_object_of(cell: str) -> dict | None:
    """The object a metadata cell holds ({} for an empty one), None when it holds no object."""
    if not cell.strip():
        return {}
    try:
        value = json.loads(cell)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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
