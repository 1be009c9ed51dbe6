"""Synthetic contact files for the benchmark: seeded, any size, the 7 contract fields.

About 5% of the rows repeat the email of an earlier row (in-file duplicates: the last one wins),
about 1% are invalid (one broken field each).

A Shape says what the file looks like, each ingredient a knob. REALISTIC is shaped like real CRM
exports (issue 20): emails in mixed case, international addresses (müller@…, …@bücher.de), the
JSON metadata on half the rows and the last column (metadata) empty on the other half, optional
cells often empty. CLEAN is its twin: the same people, with ASCII lower-case emails and every
optional cell filled, the file the benchmark always used. A 1,000,000-row file is about 180 MB
clean and 140 MB realistic.

UNTIDY is REALISTIC with most LinkedIn profile URLs written the way LinkedIn's own exports and
CRMs write them (a trailing slash, a tracking query, http://, no scheme, a country subdomain).

The "changed" variant holds the same people with one field changed in every row (company, time
zone or the metadata's score, in turn): re-imported over the plain file, every contact updates
exactly one field.
"""
from __future__ import annotations

from dataclasses import dataclass
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
# International people and domains, as exports from Europe, Latin America and Asia hold them.
INTERNATIONAL_FIRST = ("Jürgen Müller Zoë Søren Łukasz Çağla José Françoise Ñuño Björk Dvořák Øystein "
                       "Ángel Renée Gülşen Małgorzata Đorđe Þóra").split()
INTERNATIONAL_DOMAINS = ("bücher.de", "müller-gmbh.de", "société.fr", "españa-ventas.es", "tōkyō.jp")


@dataclass(frozen=True)
class Shape:
    """What a generated file looks like; every share is of the rows."""

    name: str
    international_local: float = 0.0   # a non-ASCII local part: jürgen.smith.7@example.com
    international_domain: float = 0.0  # a non-ASCII domain: anna.lee.7@bücher.de
    mixed_case: float = 0.0            # Anna.Lee.7@Example.com
    metadata: float = 1.0              # rows with a metadata object; the others leave it empty
    optional_empty: float = 0.0        # company, locale, time zone each left empty this often
    quote_all: bool = False            # every cell quoted, as some exporters write them
    invalid: float = INVALID_SHARE
    untidy_linkedin: float = 0.0       # a profile URL as exports write it: …/in/anna-lee/, ?trk=…, http://…


CLEAN = Shape("clean")
REALISTIC = Shape("realistic", international_local=0.045, international_domain=0.022, mixed_case=0.5,
                  metadata=0.5, optional_empty=0.3)
# REALISTIC with the profile URLs of a LinkedIn or Sales Navigator export: most end in a slash
# or carry a tracking query, each a one-click fix (core.rows.quick_fixes) offered in the review.
UNTIDY = Shape("untidy", international_local=0.045, international_domain=0.022, mixed_case=0.5,
               metadata=0.5, optional_empty=0.3, untidy_linkedin=0.8)
SHAPES = {shape.name: shape for shape in (CLEAN, REALISTIC, UNTIDY)}
# How an untidy profile URL is written, in turn: https://www.linkedin.com/in/anna-lee-7 becomes
UNTIDY_URLS = ("{url}/", "{url}?trk=public_profile", "{url}/?originalSubdomain=de",
               "http://{rest}", "{rest}", "https://de.{bare}")


def _cell(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def rows(n: int, seed: int = 42, changed: bool = False, shape: Shape = CLEAN):
    """Yield n dicts of field -> text; changed: the same rows, one field of each changed. The same
    seed gives the same people in every shape."""
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
    looks = rng.random((n, 7))  # the shape's dice, drawn whatever the shape: the same people in each
    untidy = rng.random(n)  # drawn last, so that the files of the shapes before it stay as they were
    for i in range(n):
        k = kind[i]
        who = int(duplicate_of[i]) if (k < DUPLICATE_SHARE and i > 0) else i
        f, l = FIRST[first[who]], LAST[last[who]]
        email = _email(shape, looks[who], f, l, who, DOMAINS[domain[who]])
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
        if untidy[who] < shape.untidy_linkedin:
            row["linkedin_profile"] = _untidy(row["linkedin_profile"], who)
        _thin_out(shape, looks[i], row)
        if changed:
            _change_one_field(row, i, company[i], zone[i], score[i])
        if DUPLICATE_SHARE <= k < DUPLICATE_SHARE + shape.invalid:
            column, value = BROKEN[i % len(BROKEN)]
            row[column] = value
        yield row


def _email(shape: Shape, dice: np.ndarray, first: str, last: str, who: int, domain: str) -> str:
    local = f"{first}.{last}.{who}"
    if dice[0] < shape.international_local:
        local = f"{INTERNATIONAL_FIRST[who % len(INTERNATIONAL_FIRST)]}.{last}.{who}"
    if dice[1] < shape.international_domain:
        domain = INTERNATIONAL_DOMAINS[who % len(INTERNATIONAL_DOMAINS)]
    email = f"{local}@{domain}"
    if dice[2] < shape.mixed_case:  # Anna.Lee.7@Example.com
        local, domain = email.split("@")
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return email.lower()


def _untidy(url: str, who: int) -> str:
    rest = url.removeprefix("https://")
    return UNTIDY_URLS[who % len(UNTIDY_URLS)].format(url=url, rest=rest, bare=rest.removeprefix("www."))


def _thin_out(shape: Shape, dice: np.ndarray, row: dict) -> None:
    """Leave optional cells empty as the shape says (the metadata, the file's last column, too)."""
    if not dice[3] < shape.metadata:
        row["metadata"] = ""
    for column, die in (("company", dice[4]), ("locale", dice[5]), ("timezone", dice[6])):
        if die < shape.optional_empty:
            row[column] = ""


def _change_one_field(row: dict, i: int, company: int, zone: int, score: int) -> None:
    which = i % 3
    if which == 0:
        row["company"] = COMPANIES[(company + 1) % len(COMPANIES)]
    elif which == 1:  # never to "": an empty cell would keep the stored zone
        row["timezone"] = ZONES_SET[(ZONES_SET.index(TIMEZONES[zone]) + 1) % len(ZONES_SET)] \
            if TIMEZONES[zone] else ZONES_SET[0]
    elif row["metadata"]:
        row["metadata"] = row["metadata"].replace(f'"score": {score}}}', f'"score": {score + 1}}}')
    else:  # an empty cell keeps what is stored: give the contact a metadata object
        row["metadata"] = f'{{"score": {score + 1}}}'


ZONES_SET = [zone for zone in TIMEZONES if zone]


def write_csv(path: Path, n: int, seed: int = 42, changed: bool = False, shape: Shape = CLEAN) -> Path:
    """Write the file once; an existing file of the same size, seed, variant and shape is reused."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    cell = _quoted if shape.quote_all else _cell
    with open(partial, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(cell(f) for f in FIELDS) + "\n")
        buffer = []
        for row in rows(n, seed, changed, shape):
            buffer.append(",".join(cell(row[f]) for f in FIELDS))
            if len(buffer) >= 50_000:
                out.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            out.write("\n".join(buffer) + "\n")
    partial.rename(path)
    return path


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def bench_file(folder: Path, n: int, seed: int = 42, changed: bool = False, shape: Shape = CLEAN) -> Path:
    """The benchmark's file of n rows in this shape, written once under folder."""
    suffix = "" if shape is CLEAN else f"_{shape.name}"
    return write_csv(Path(folder) / f"contacts_{n}_{seed}{'_changed' if changed else ''}{suffix}.csv",
                     n, seed, changed, shape)
