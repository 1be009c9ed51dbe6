"""Rows that may be the same person as another contact under another email (issue 9, point 16):
the same LinkedIn profile, compared by its slug (sql/009_linkedin_slug.sql computes the same key),
either on another row of the file or on a stored contact. They are flagged for the user, who may
skip them; nothing is merged automatically."""
from __future__ import annotations

import pandas as pd

from core.fields import ROW

PROFILE_SLUG = r"(?i)/in/([^/?#]+)"
COLUMNS = ["row", "email", "linkedin_profile", "same_as_email", "same_as"]


def profile_key(urls: pd.Series) -> pd.Series:
    return urls.astype(str).str.extract(PROFILE_SLUG, expand=False).str.lower()


def within_file(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows (the valid ones, one per email) whose profile an earlier row holds under another
    email; each names the first row with that profile, which is not flagged itself."""
    keyed = rows[[ROW, "email", "linkedin_profile"]].assign(_key=profile_key(rows["linkedin_profile"]))
    keyed = keyed.dropna(subset=["_key"]).sort_values(ROW, kind="stable")
    first = keyed.groupby("_key", sort=False)[[ROW, "email"]].transform("first")
    later = keyed[ROW].to_numpy() != first[ROW].to_numpy()
    return pd.DataFrame({
        "row": keyed.loc[later, ROW].to_numpy(), "email": keyed.loc[later, "email"].to_numpy(),
        "linkedin_profile": keyed.loc[later, "linkedin_profile"].to_numpy(),
        "same_as_email": first.loc[later, "email"].to_numpy(),
        "same_as": [f"row {n} of this file" for n in first.loc[later, ROW]]}, columns=COLUMNS)


# In the review's transaction, with the valid rows in import_stage. One side of the join goes as
# one result (OFFSET 0): on Citus the stage and contacts are sharded by email and this join goes by
# profile, so every shard gets that result. SHIP_STAGED sends the staged profiles (each slug worked
# out once, not on each shard), and each shard of contacts probes its index with them; SHIP_STORED
# sends the stored profiles, and each shard of the stage joins them with its own rows. For a file of
# 50,000 rows or more, the side with fewer profiles goes (core.storage.review).
STORED_SQL = """
SELECT s.row_number AS row, s.email, s.linkedin_profile, min(c.email) AS same_as_email,
       'a stored contact' AS same_as
FROM (SELECT row_number, email, linkedin_profile, linkedin_slug(linkedin_profile) AS slug FROM import_stage
      WHERE linkedin_profile IS NOT NULL {ship_staged}) s
JOIN (SELECT email, linkedin_slug(linkedin_profile) AS slug FROM contacts
      WHERE linkedin_slug(linkedin_profile) IS NOT NULL {ship_stored}) c ON c.slug = s.slug
WHERE c.email <> s.email
GROUP BY s.row_number, s.email, s.linkedin_profile
ORDER BY s.row_number
LIMIT :limit
"""
SHIP_STAGED = STORED_SQL.format(ship_staged="OFFSET 0", ship_stored="")
SHIP_STORED = STORED_SQL.format(ship_staged="", ship_stored="OFFSET 0")
STORED_PROFILES = "SELECT count(*) FROM contacts WHERE linkedin_slug(linkedin_profile) IS NOT NULL"


def combine(in_file: pd.DataFrame, stored: pd.DataFrame | None) -> pd.DataFrame:
    """One line per row: a stored contact first (it exists already), else the other row. stored is
    None before the review has looked at the stored contacts."""
    frames = [f for f in (stored, in_file) if f is not None and not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    both = pd.concat(frames, ignore_index=True).drop_duplicates("row", keep="first")
    return both.sort_values("row", kind="stable").reset_index(drop=True)
