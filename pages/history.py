"""Import history: every import, newest first, with filters; one import's detail below."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core import importing
from core.access import AccessRefused, Actor, can
from core.errors import ImportConsoleError
from core.fields import FIELDS, field_label
from pages.common import (HISTORY_IMPORT_PARAM, blank, continue_in_wizard, count_columns, csv_download, drop_streamlit_upload,
                          invalid_rows_chart, md, page_picker,
                          plural, service, show_error, shown_time, signed_in, stored_commit_progress, time_column,
                          viewer_zone, working)

ANY = "Any"
CONTACTS_PAGE = 100
# The counts of an import, as the wizard shows them (core.rows.counts), in rows of four.
SHOWN_COUNTS = ("rows", "invalid", "duplicates", "skipped", "suppressed", "inserted", "updated", "unchanged",
                "already_there", "not_found", "total_rows")
SHOWN_WHEN_ANY = {importing.COUNT_LABELS[name] for name in ("skipped", "suppressed", "already_there", "not_found")}
UNDONE = "history_undone"  # import id -> its undo's result, shown after the rerun
COUNT_COLUMNS = ["inserted", "updated", "unchanged", "invalid", "duplicates"]
TABLE_COLUMNS = ["created_at", "status", "source", "file_name", "created_by", "file_rows", "total_rows",
                 *COUNT_COLUMNS, "campaign", "follows_file"]
TABLE_PICK = "history_table_pick"  # the row last picked in the table


def filters() -> dict:
    status, source, campaign, search = st.columns([1, 1, 1, 2])
    campaigns = service().list_campaigns()
    chosen = {
        "status": status.selectbox("Status", [ANY, *importing.STATUSES]),
        "source": source.selectbox("Source", [ANY, *service().recent_sources(limit=200)]),
        "campaign": campaign.selectbox("Campaign", [ANY, *campaigns["name"]]),
        "search": search.text_input("File name contains", placeholder="e.g. hubspot"),
    }
    by_name = dict(zip(campaigns["name"], campaigns["id"]))
    return {"status": None if chosen["status"] == ANY else chosen["status"],
            "source": None if chosen["source"] == ANY else chosen["source"],
            "campaign_id": by_name.get(chosen["campaign"]),
            "search": chosen["search"].strip() or None}


OVER_TIME = ["inserted", "updated", "unchanged", "invalid", "duplicates"]  # stacked in this order
OVER_TIME_COLORS = ["#2563eb", "#93c5fd", "#cbd5e1", "#dc2626", "#f59e0b"]


def imports_over_time(imports) -> None:
    """The listed imports' rows per day (in the viewer's zone), stacked by what became of them."""
    days = imports.assign(day=imports["created_at"].dt.tz_convert(viewer_zone()).dt.strftime("%Y-%m-%d"))
    per_day = days.groupby("day")[OVER_TIME].sum().reset_index().melt(
        "day", var_name="what", value_name="rows")
    chart = alt.Chart(per_day).mark_bar(size=28).encode(
        x=alt.X("day:O", title=f"day ({viewer_zone()})", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("sum(rows):Q", title="rows"),
        color=alt.Color("what:N", title=None, sort=OVER_TIME,
                        scale=alt.Scale(domain=OVER_TIME, range=OVER_TIME_COLORS)),
        order=alt.Order("what_order:Q"),
        tooltip=["day:O", "what:N", alt.Tooltip("sum(rows):Q", title="rows", format=",")],
    ).transform_calculate(what_order=f"indexof({OVER_TIME!r}, datum.what)").properties(height=220)
    with st.expander("Imports over time", expanded=True):
        st.altair_chart(chart, width="stretch")


def history_table(imports):
    """The imports, a row selectable in the table itself; the box below names the selection too
    (and lets a keyboard pick one)."""
    st.caption(plural(len(imports), "import") + " · select a row to see its details")
    table = st.dataframe(blank(imports[TABLE_COLUMNS]), hide_index=True, on_select="rerun", selection_mode="single-row",
                         key="history_table", column_config={
                             "created_at": time_column("created"), "file_name": "file", "created_by": "user",
                             "follows_file": "fixed rows of",
                             **count_columns(*COUNT_COLUMNS, file_rows="rows in file",
                                             total_rows="contacts linked")})
    rows = table.selection.rows
    picked = imports.iloc[rows[0]].id if rows else None
    if picked != st.session_state.get(TABLE_PICK):  # a new pick in the table drives the box
        st.session_state[TABLE_PICK] = picked
        if picked is not None:
            st.session_state["history_selected"] = picked
    # no status in the label: after an undo the browser went on showing the label it had drawn
    # ("· completed") for the kept choice; the heading below says the status
    labels = {row.id: f"{shown_time(row.created_at, named=False)} · {row.file_name or '(no file)'} · "
                      f"{row.source} · {plural(int(row.file_rows) if pd.notna(row.file_rows) else 0, 'row')}"
              for row in imports.itertuples(index=False)}
    linked = st.query_params.get(HISTORY_IMPORT_PARAM)  # a link to one import (the wizard's)
    if linked in labels and st.session_state.get("history_linked") != linked:
        st.session_state["history_linked"] = st.session_state["history_selected"] = linked
    return st.selectbox("Details of", list(labels), index=None, format_func=labels.get,
                        placeholder="Pick an import", key="history_selected")


def import_detail(import_id: str, who: Actor) -> None:
    record = service().get_import(import_id)
    st.divider()
    st.subheader(f"{md(record['file_name'] or 'Import')} — {record['status']}")
    st.caption(f"source {md(record['source'])} · by {md(record['created_by'])} · "
               f"{shown_time(record['created_at'])}" + (f" · campaign {md(record['campaign'])}" if record["campaign"] else "")
               + (f" · {importing.MODES[record['mode']]}" if record["mode"] != "upsert" else ""))
    related_imports(record)
    if record["status"] == "processing":
        stored_commit_progress(record["id"])
    if record["error"]:
        st.error(f"This import failed and wrote nothing: {md(record['error'])}")
    if record["status"] == "failed":
        retry_form(record, who)
    counts = importing.record_counts(record).labelled(*SHOWN_COUNTS)
    counts = [(label, value) for label, value in counts if value or label not in SHOWN_WHEN_ANY]
    for start in range(0, len(counts), 4):
        for column, (label, value) in zip(st.columns(4), counts[start:start + 4]):
            column.metric(label, f"{value:,}")
    views = {"Errors": lambda: errors_tab_view(record), "Contacts": lambda: contacts_page(import_id, record["total_rows"], record["status"]),
             "Campaign": lambda: attach_form(import_id, who), "Activity": lambda: activity(import_id),
             "Undo": lambda: undo_form(record, who)}
    # Only the open tab runs: a 1M-row import's errors and contacts took a second of every rerun,
    # so that a click on Undo showed nothing for that long.
    for tab, view in zip(st.tabs(list(views), key=tabs_key(import_id), on_change="rerun"), views.values()):
        if tab.open:
            with tab:
                view()


def tabs_key(import_id: str) -> str:
    """The session state key of an import's open tab (its label)."""
    return f"import_tabs_{import_id}"


def related_imports(record: dict) -> None:
    """The import whose error file this import's file is, the imports of its own error file, and
    the one-click fixes it made."""
    if record["follows"]:
        st.caption(f"The fixed rows of {md(record['follows_file'] or 'an import')}: its error file, uploaded again "
                   f"([open it](?{HISTORY_IMPORT_PARAM}={record['follows']})).")
    for later in service().follow_ups(record["id"]):
        st.caption(f"Its error file was fixed and imported again on {shown_time(later['created_at'])}: "
                   f"{md(later['file_name'] or 'no file name')}, {later['status']}, "
                   f"{plural((later['inserted'] or 0) + (later['updated'] or 0), 'contact')} written "
                   f"([open it](?{HISTORY_IMPORT_PARAM}={later['id']})).")
    for stamp, what in (("rejected_expired_at", "The values of its rejected rows"),
                        ("previous_expired_at", "The values it replaced (what its undo gives back)")):
        if record[stamp] is not None:
            st.caption(f"{what} were deleted on {record[stamp]:%Y-%m-%d}, after the retention period.")
    if record["fixes"]:
        labels = {kind: fix.label for kind, fix in importing.FIX_KINDS.items()}
        st.caption("Fixes made: " + " · ".join(f"{md(labels.get(kind, kind))} ({plural(rows, 'row')})"
                                                for kind, rows in record["fixes"].items()))


AUDIT_COLUMNS = {"at": None, "action": "what", "actor": "who", "role": "role", "via": "through",
                 "campaign": "campaign", "subject": "key or action", "detail": "details"}


def activity(import_id: str) -> None:
    """The audit trail's rows of this import: who committed, attached, undid or tried to."""
    rows = service().import_activity(import_id)
    if rows.empty:
        st.caption("Nothing recorded for this import yet (imports made before the audit trail existed "
                   "have no rows).")
        return
    st.dataframe(blank(rows[list(AUDIT_COLUMNS)]), hide_index=True,
                 column_config={**AUDIT_COLUMNS, "at": time_column("when")})


def errors_tab_view(record: dict) -> None:
    errors = service().import_errors(record["id"])
    if errors.empty:
        st.caption("No rejected rows.")
        return
    errors = invalid_rows_chart(errors, key=f"history_errors_chart_{record['id']}")
    start, stop = page_picker(len(errors), f"history_errors_page_{record['id']}")
    errors = errors.iloc[start:stop]
    # the wizard's words: fields as people say them, an expired value empty rather than "None"
    st.dataframe(errors.assign(column=errors["column"].map(field_label), value=errors["value"].fillna("")),
                 hide_index=True, column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    st.download_button("Download the rows to fix (CSV)", on_click="ignore", mime="text/csv",
                       data=lambda: service().import_error_csv(record["id"])[1],
                       file_name=importing.error_file_name(record["file_name"]),
                       help="The invalid rows as the file had them, with an errors column: fix them in a "
                            "spreadsheet and upload the file as a new import. (Imports made before this "
                            "file existed, or through the HTTP API, give the list above instead.)")


def retry_form(record: dict, who: Actor) -> None:
    """A failed or abandoned import wrote nothing; its file uploaded again goes through the same
    mapping and review as a first attempt, in the import wizard, and commits into this import."""
    with st.form("retry_import"):
        uploaded = st.file_uploader(f"Upload {md(record['file_name'] or 'the file')} again to retry this import",
                                    type=["csv", "json", "txt", "tsv", "xlsx"])
        if st.form_submit_button("Retry the import") and uploaded is not None:
            try:
                draft = service().open_retry(record["id"], uploaded.getvalue(), uploaded.name,
                                             actor=who)
            except ImportConsoleError as error:
                show_error(error)
                return
            drop_streamlit_upload(uploaded)
            continue_in_wizard(draft)


def undo_form(record: dict, who: Actor) -> None:
    """The undo, and after it (on the rerun that shows the import as reverted) what it did."""
    undone = st.session_state.setdefault(UNDONE, {})
    if record["id"] in undone:
        undo_result(undone[record["id"]])
        return
    if record["status"] != "completed":
        st.caption(f"Only a completed import can be undone; this one is {record['status']}.")
        return
    st.write("Undo deletes the contacts this import inserted and gives the fields it updated their "
             "previous values back. Whatever a later import changed is kept and listed.")
    allowed = can(who, "undo")
    if not allowed:  # core refuses it all the same: this only saves a click
        st.info(md(AccessRefused(who, "undo")), icon=":material/lock:")
    sure = st.checkbox("I understand: undo this import", disabled=not allowed)
    if st.button("Undo this import", type="primary", disabled=not (sure and allowed)):
        # one statement: its time so far is all there is to show
        svc = service()
        # kept by the work itself: a click during the undo reruns the page once the undo is done,
        # and what it did is shown then
        working(f"Undoing the import of {plural(record['total_rows'] or 0, 'contact')}…",
                lambda _: undone.__setitem__(record["id"], svc.undo(record["id"], who)))
        st.rerun()  # the header, the counts and this tab now show the import as reverted


def undo_result(result) -> None:
    st.success(f"Undone: {plural(result.deleted, 'contact')} deleted, "
               f"{plural(result.restored, 'contact')} restored.")
    if not result.conflicts.empty:
        st.warning(f"{plural(len(result.conflicts), 'change')} kept because a later import made them:")
        st.dataframe(blank(result.conflicts), hide_index=True)


def contacts_page(import_id: str, total: int, status: str) -> None:
    if not total:
        st.caption("No contacts linked to this import.")
        return
    pages = (total - 1) // CONTACTS_PAGE + 1
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1)
    rows = service().import_contacts(import_id, limit=CONTACTS_PAGE, offset=(page - 1) * CONTACTS_PAGE)
    st.dataframe(blank(rows.drop(columns=["id"])), hide_index=True, column_config={
        "row": st.column_config.NumberColumn("row", format="%d"),
        **{name: field_label(name) for name in FIELDS}, "previous": "values before this import"})
    # Streamlit's own table download is off (it keeps formulas).
    svc = service()  # outside the thread that builds a large download
    csv_download("Download all contacts of this import (CSV)",
                 lambda on_progress, out: svc.import_contacts_csv(import_id, on_progress, out=out),
                 f"import-{import_id[:8]}-contacts.csv", total, key=f"import_csv_{import_id}_{status}")


def attach_form(import_id: str, who: Actor) -> None:
    with st.form("attach_campaign"):
        names = service().list_campaigns()["name"].tolist()
        existing = st.selectbox("Existing campaign", ["—", *names])
        new = st.text_input("…or a new campaign", placeholder="e.g. Q4 Outreach").strip()
        if st.form_submit_button("Attach to campaign"):
            name = new or (existing if existing != "—" else None)
            if not name:
                st.warning("Pick a campaign or type a new name.")
                return
            campaign = service().attach_import(import_id, name, who)
            reused = "" if campaign.created else " (it already existed)"
            st.success(f"Attached to campaign {md(campaign.name)}{reused}.")


def main() -> None:
    who = signed_in()
    st.title("Import history")
    try:
        imports = service().list_imports(**filters())
        if imports.empty:
            st.info("No import matches. Start one on the **New import** page.")
            return
        imports_over_time(imports)
        selected = history_table(imports)
        if selected:
            import_detail(selected, who)
        else:
            st.caption("Select an import to see its errors, contacts and campaign.")
    except Exception as error:
        show_error(error)


main()
