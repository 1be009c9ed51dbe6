"""Remember the mapping a person confirmed for a set of headers and offer it first next time.

The signature ignores column order, case and surrounding spaces, so the next export of the same
kind (another LinkedIn Connections.csv, the same HubSpot view) is recognised.
"""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.fields import FIELDS
from core.rows.mapping import Mapping, missing_required, suggest_mapping


def header_signature(headers: list[str]) -> str:
    names = sorted(str(h).strip().lower() for h in headers)
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def remember_mapping(engine: Engine, headers: list[str], mapping: Mapping,
                     created_by: str | None = None, rules: dict[str, str] | None = None,
                     extras: dict[str, str] | None = None) -> None:
    """Store (or replace) the confirmed mapping, with its field rules and kept columns, for these
    headers. Incomplete mappings are ignored."""
    clean = {f: list(mapping[f]) for f in FIELDS if mapping.get(f)}
    if missing_required(clean):
        return
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO saved_mappings (signature, headers, mapping, created_by, rules, extras) "
            "VALUES (:s, CAST(:h AS jsonb), CAST(:m AS jsonb), :u, CAST(:r AS jsonb), CAST(:x AS jsonb)) "
            "ON CONFLICT (signature) DO UPDATE SET mapping = EXCLUDED.mapping, headers = EXCLUDED.headers, "
            "rules = EXCLUDED.rules, extras = EXCLUDED.extras, uses = saved_mappings.uses + 1, updated_at = now()"),
            {"s": header_signature(headers), "h": json.dumps(list(headers)),
             "m": json.dumps(clean), "u": created_by, "r": json.dumps(rules or {}), "x": json.dumps(extras or {})})


def recall_rules(engine: Engine, headers: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The field rules and the kept columns (spelled as in these headers) confirmed last time with
    a mapping of these headers; empty when none."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT rules, extras FROM saved_mappings WHERE signature = :s"),
                           {"s": header_signature(headers)}).first()
    if row is None:
        return {}, {}
    by_lower = {str(h).strip().lower(): h for h in headers}
    return row.rules, {by_lower[c.strip().lower()]: key for c, key in row.extras.items() if c.strip().lower() in by_lower}


def recall_mapping(engine: Engine, headers: list[str]) -> Mapping | None:
    """The remembered mapping for these headers, with column names spelled as in this file."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT mapping FROM saved_mappings WHERE signature = :s"),
                              {"s": header_signature(headers)}).scalar_one_or_none()
    if not stored:
        return None
    by_lower = {str(h).strip().lower(): h for h in headers}
    try:
        return {f: [by_lower[c.strip().lower()] for c in columns] for f, columns in stored.items()
                if f in FIELDS}
    except (KeyError, AttributeError):
        return None


def suggest_mapping_for(engine: Engine, headers: list[str]) -> tuple[Mapping, bool]:
    """(mapping, remembered): the remembered mapping when there is one, else the suggestion."""
    remembered = recall_mapping(engine, headers)
    mapping = suggest_mapping(headers, remembered=remembered)
    return mapping, bool(remembered) and mapping == {f: remembered[f] for f in FIELDS if remembered.get(f)}


def forget_mapping(engine: Engine, headers: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM saved_mappings WHERE signature = :s"),
                     {"s": header_signature(headers)})
