"""Synthetic contact files for the benchmark: seeded, any size, the 7 contract fields.

About 5% of the rows repeat the email of an earlier row (in-file duplicates: the last one wins),
about 1% are invalid (one broken field each). A 1,000,000-row file is about 177 MB.

The "changed" variant holds the same people with one field changed in every row (company, time
zone or the metadata's score, in turn): re-imported over the plain file, every contact updates
exactly one field.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.fields import FIELDS

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
         "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
         "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily "
         "Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
        "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
        "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen "
        "Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts").split()
COMPANIES = ("Acme Corporation", "Globex Industries", "Initech Software", "Umbrella Holdings",
             "Stark Manufacturing", "Wayne Enterprises", "Hooli Cloud Services", "Vandelay Imports",
             "Soylent Foods", "Tyrell Robotics", "Cyberdyne Systems", "Wonka Confectionery")
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "sales.example.io")
LOCALES = ("en", "en-US", "en-GB", "pt-BR", "fr-FR", "de-DE", "es-ES", "ja-JP", "")
TIMEZONES = ("America/New_York", "Europe/Paris", "Asia/Tokyo", "America/Sao_Paulo",
             "Europe/Berlin", "Australia/Sydney", "UTC", "")
SOURCES = ("hubspot", "salesforce", "apollo", "linkedin", "webinar")
# One broken field per invalid row, cycling through these.
BROKEN = (("email", "not-an-email"), ("linkedin_profile", "https://example.com/in/nobody"),
          ("timezone", "Mars/Olympus"), ("locale", "english"), ("full_name", ""),
          ("metadata", "[1, 2]"))

DUPLICATE_SHARE = 0.05
INVALID_SHARE = 0.01


def _cell(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def rows(n: int, seed: int = 42, changed: bool = False):
    """Yield n dicts of field -> text; changed: the same rows, one field of each changed."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(FIRST), n)
    last = rng.integers(0, len(LAST), n)
    company = rng.integers(0, len(COMPANIES), n)
    domain = rng.integers(0, len(DOMAINS), n)
    locale = rng.integers(0, len(LOCALES), n)
    zone = rng.integers(0, len(TIMEZONES), n)
    source = rng.integers(0, len(SOURCES), n)
    score = rng.integers(0, 1000, n)
    kind = rng.random(n)
    # A duplicate repeats the identity (email) of an earlier row, sometimes in another case.
    duplicate_of = (rng.random(n) * np.arange(n)).astype(np.int64)
    for i in range(n):
        k = kind[i]
        who = int(duplicate_of[i]) if (k < DUPLICATE_SHARE and i > 0) else i
        f, l = FIRST[first[who]], LAST[last[who]]
        email = f"{f}.{l}.{who}@{DOMAINS[domain[who]]}".lower()
        if who != i and i % 3 == 0:
            email = email.upper()
        row = {
            "full_name": f"{f} {l}",
            "email": email,
            "linkedin_profile": f"https://www.linkedin.com/in/{f.lower()}-{l.lower()}-{who}",
            "company": COMPANIES[company[i]],
            "locale": LOCALES[locale[i]],
            "timezone": TIMEZONES[zone[i]],
            "metadata": f'{{"source": "{SOURCES[source[i]]}", "score": {score[i]}}}',
        }
        if changed:
            _change_one_field(row, i, company[i], zone[i], score[i])
        if DUPLICATE_SHARE <= k < DUPLICATE_SHARE + INVALID_SHARE:
            column, value = BROKEN[i % len(BROKEN)]
            row[column] = value
        yield row


def _change_one_field(row: dict, i: int, company: int, zone: int, score: int) -> None:
    which = i % 3
    if which == 0:
        row["company"] = COMPANIES[(company + 1) % len(COMPANIES)]
    elif which == 1:  # never to "": an empty cell would keep the stored zone
        row["timezone"] = ZONES_SET[(ZONES_SET.index(TIMEZONES[zone]) + 1) % len(ZONES_SET)] \
            if TIMEZONES[zone] else ZONES_SET[0]
    else:
        row["metadata"] = row["metadata"].replace(f'"score": {score}}}', f'"score": {score + 1}}}')


ZONES_SET = [zone for zone in TIMEZONES if zone]


def write_csv(path: Path, n: int, seed: int = 42, changed: bool = False) -> Path:
    """Write the file once; an existing file of the same size, seed and variant is reused."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(FIELDS) + "\n")
        buffer = []
        for row in rows(n, seed, changed):
            buffer.append(",".join(_cell(row[f]) for f in FIELDS))
            if len(buffer) >= 50_000:
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            out.write("\n".join(buffer) + "\n")
    partial.rename(path)
    return path
