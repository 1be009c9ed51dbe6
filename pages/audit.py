"""Audit trail (admins): who did what and when, filtered, and exported formula-safe."""
from __future__ import annotations

import streamlit as st

from core import importing
from pages.common import admin_page, blank, md, plural, show_error, service, time_column

COLUMNS = {"at": None, "action": "what", "actor": "who", "role": "role", "via": "through",
           "file_name": "file", "import_id": "import", "campaign": "campaign", "subject": "key or action",
           "detail": "details"}


def filtered(rows):
    action, actor, import_id = st.columns([2, 2, 2])
    actions = action.multiselect("Action", sorted(rows["action"].unique()), placeholder="Any")
    who = actor.text_input("Who contains", placeholder="e.g. ana@").strip().lower()
    which = import_id.text_input("Import id starts with", placeholder="e.g. 3f2a").strip().lower()
    if actions:
        rows = rows[rows["action"].isin(actions)]
    if who:
        rows = rows[rows["actor"].str.lower().str.contains(who, regex=False)]
    if which:
        rows = rows[rows["import_id"].fillna("").str.startswith(which)]
    return rows


def main() -> None:
    who = admin_page("Audit trail", "read audit")
    if who is None:
        return
    try:
        rows, total = service().read_audit(who)
        shown_all = "" if total <= len(rows) else (
            f" These are the newest {len(rows):,} of {total:,}; `python -m core audit --csv` exports them all.")
        st.caption(f"{plural(total, 'action')} recorded, newest last. Rows are never changed or removed "
                   f"(the database refuses it).{shown_all}")
        shown = filtered(rows)
        st.dataframe(blank(shown[list(COLUMNS)]), hide_index=True, column_config={**COLUMNS, "at": time_column("when")})
        st.download_button("Download these rows (CSV)", on_click="ignore", mime="text/csv",
                           data=importing.to_export_csv(shown[list(COLUMNS)]), file_name="audit-trail.csv")
    except Exception as error:
        show_error(error)


main()
