"""What a commit would do, read from the database without writing: how many rows insert, how many
update, and for updates which fields change (old -> new), following the same merge rules as
sql/002_apply_import_stage.sql (empty never erases, metadata merges key by key)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.fields import FIELDS, ROW
from core.validation import ValidationReport

COMPARED = [f for f in FIELDS if f != "email"]


@dataclass
class Preview:
    will_insert: int
    will_update: int
    changes: pd.DataFrame  # row, email, field, old, new


def preview_commit(engine: Engine, report: ValidationReport) -> Preview:
    incoming = report.valid
    emails = incoming["email"].tolist()
    with engine.connect() as conn:
        stored = pd.DataFrame(conn.execute(sa.text(
            f"SELECT email, {', '.join(COMPARED)} FROM contacts WHERE email = ANY(:emails)"),
            {"emails": emails}).mappings().all(), columns=["email", *COMPARED])
    merged = incoming.merge(stored, on="email", how="inner", suffixes=("", "_stored"))
    changes = [change for record in merged.to_dict("records") for change in _changes(record)]
    return Preview(will_insert=len(incoming) - len(merged), will_update=len(merged),
                   changes=pd.DataFrame(changes, columns=["row", "email", "field", "old", "new"]))


def _changes(record: dict) -> list[dict]:
    found = []
    for field in COMPARED:
        old, new = record[f"{field}_stored"], record[field]
        if new == "":
            continue  # an empty cell never erases
        if field == "metadata":
            old_object = old or {}
            merged = {**old_object, **json.loads(new)}
            if merged != old_object:
                found.append(_change(record, field, json.dumps(old_object), json.dumps(merged)))
        elif new != old:
            found.append(_change(record, field, old, new))
    return found


def _change(record: dict, field: str, old, new) -> dict:
    return {"row": record[ROW], "email": record["email"], "field": field,
            "old": "" if old is None else old, "new": new}
