"""The review: what a commit of a report would do, computed by PostgreSQL with the merge's own SQL
(review_import_stage and review_import_changes in sql/functions/merge.sql) in a transaction that is
rolled back, so nothing is written: how many contacts would be inserted, updated or left unchanged,
how many contacts each field changes on, and the first changes (old -> new) in row order."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.rows import same_person
from core.fields import FIELDS
from core.progress import Progress, ignore_progress
from core.storage.staging import SMALL_STAGE, analyze_stage, on_citus, stage_rows
from core.rows.validation import ValidationReport

CHANGE_COLUMNS = ["row", "email", "field", "old", "new"]
COMPARED = [f for f in FIELDS if f != "email"]
# How many changes (one per changed field of a contact) the review returns to show; the counts
# cover every row.
SHOWN_CHANGES = 1000
SHOWN_SAME_PERSON = 10_000
# On Citus, below this many staged rows their profiles go to the stored contacts' shards without
# counting those: shipping them costs less than the count would (0.17 s per 1M stored profiles,
# whatever the file's size).
SHIP_STAGED_BELOW = 50_000


@dataclass(frozen=True)
class Review:
    will_insert: int
    will_update: int                  # stored contacts of which at least one field changes
    unchanged: int                    # stored contacts that already hold these values
    changes_by_field: dict[str, int] = field(default_factory=dict)  # field -> contacts it changes on
    changes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CHANGE_COLUMNS))
    # rows whose LinkedIn profile a stored contact holds under another email (core.rows.same_person)
    same_person_stored: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=same_person.COLUMNS))
    already_there: int = 0            # stored contacts an import that only creates leaves as they are
    not_found: int = 0                # emails not stored, which an import that only updates leaves out

    @property
    def total_changes(self) -> int:
        return sum(self.changes_by_field.values())

    def as_dict(self) -> dict:
        """The dry run's summary, as `python -m core import --dry-run --json` prints it."""
        return {"would_insert": self.will_insert, "would_update": self.will_update,
                "unchanged": self.unchanged, "already_there": self.already_there, "not_found": self.not_found,
                "changes": dict(self.changes_by_field)}


def review_commit(engine: Engine, report: ValidationReport, shown: int = SHOWN_CHANGES,
                  on_progress: Progress | None = None, mode: str = "upsert",
                  rules: dict[str, str] | None = None) -> Review:
    """What commit_import would do with report now, in an import of this mode and these rules;
    writes nothing."""
    if not report.valid_count:
        return Review(will_insert=0, will_update=0, unchanged=0)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
            staged = stage_rows(conn, report, on_progress or ignore_progress, in_lock_order=False)
            analyze_stage(conn)
            ruled = {"rules": json.dumps(rules or {})}
            counts = conn.execute(sa.text("SELECT * FROM review_import_stage(CAST(:rules AS jsonb))"),
                                  ruled).mappings().one()
            changes = (_first_changes(conn, shown, ruled, staged, counts["changed"])
                       if mode != "create" and counts["changed"]  # a create changes none
                       else pd.DataFrame(columns=CHANGE_COLUMNS))
            stored = _stored_same_person(conn, staged)
        finally:
            transaction.rollback()  # the stage goes with it
    matched = counts["matched"]
    if mode == "create":  # the stored contacts are left as they are: nothing of theirs changes
        return Review(will_insert=staged - matched, will_update=0, unchanged=0, already_there=matched,
                      same_person_stored=stored)
    return Review(will_insert=0 if mode == "update" else staged - matched, will_update=counts["changed"],
                  unchanged=matched - counts["changed"],
                  changes_by_field={f: counts[f] for f in COMPARED if counts[f]}, changes=changes,
                  same_person_stored=stored, not_found=staged - matched if mode == "update" else 0)


def _first_changes(conn: Connection, shown: int, ruled: dict, staged: int, changed: int) -> pd.DataFrame:
    """The first `shown` changes in row order. Asked only when a contact changes: with none to
    find, the query would compare every staged row again after the counts did.

    Where at least two thirds of a large stage change, the rows are read in row order from an
    index and the reading stops at the last change shown (1M rows that all change: 2.9 s -> 0.03
    s, the index 0.3 s). Each row read that way costs three times its share of the hash join the
    query makes otherwise (9 s for 1M rows against 3 s), so with fewer changes, which may all come
    last, the hash join is kept. On Citus the stage's shards keep their one index."""
    if changed * 3 >= staged * 2 and staged > SMALL_STAGE and not on_citus(conn):
        conn.execute(sa.text("CREATE INDEX ON import_stage (row_number)"))
    found = conn.execute(sa.text("SELECT * FROM review_import_changes(:limit, CAST(:rules AS jsonb))"),
                         {"limit": shown, **ruled})
    return pd.DataFrame(found.all(), columns=CHANGE_COLUMNS)


def _stored_same_person(conn: Connection, staged: int) -> pd.DataFrame:
    """The staged rows whose profile a stored contact holds under another email. On Citus, the
    side with fewer profiles is shipped to the other's shards (same_person.STORED_SQL): a first
    large import into an empty table ships nothing instead of every staged profile to each shard.
    staged: how many rows are staged (each has a profile, a required field). On one server
    nothing is shipped and both ways take the same time, so the count would only cost."""
    ship_stored = (staged >= SHIP_STAGED_BELOW and on_citus(conn)
                   and conn.execute(sa.text(same_person.STORED_PROFILES)).scalar_one() <= staged)
    # Staged profiles shipped: one index probe per staged row, where JIT compiling (its estimate
    # is far off) costs more, and a merge join sorted them all by slug on every shard, in two
    # parallel workers each. Stored ones shipped: a hash join on each shard of the stage.
    for setting in ("jit = off", "enable_mergejoin = off", "max_parallel_workers_per_gather = 0"):
        conn.execute(sa.text(f"SET LOCAL {setting}"))
    found = conn.execute(sa.text(same_person.SHIP_STORED if ship_stored else same_person.SHIP_STAGED),
                         {"limit": SHOWN_SAME_PERSON})
    return pd.DataFrame(found.all(), columns=same_person.COLUMNS)
