"""People's data (admins): erase a person everywhere, export what is held about them, and keep
emails from ever being imported (the suppression list, an opt-out file)."""
from __future__ import annotations

import json

import streamlit as st

from core.access import Actor
from pages.common import admin_page, md, plural, service, show_error

ERASED = "personal_data_erased"  # what the last erasure did, shown until the next one


def erase_form(who: Actor) -> None:
    st.subheader("Erase a person")
    st.caption("Deletes the contact, the values imports replaced (undo cannot bring them back), the rows "
               "imports rejected, unfinished imports whose file holds the email and what recorded API answers "
               "say of it, in one transaction; then suppresses the email. The audit trail keeps a keyed hash "
               "of the email, not the email.")
    with st.form("erase_person", clear_on_submit=True):
        email = st.text_input("Email", placeholder="name@example.com")
        sure = st.checkbox("I understand this cannot be undone")
        if st.form_submit_button("Erase", type="primary"):
            if not sure:
                st.warning("Tick the box to confirm: an erasure cannot be undone.")
            else:
                done = service().erase_person(email, who)
                st.session_state[ERASED] = (email.strip(), done)
    if ERASED in st.session_state:
        email, done = st.session_state[ERASED]
        st.success(f"{md(email)} is erased: {plural(done.contacts, 'contact')}, {plural(done.links, 'import link')}, "
                   f"{plural(done.rejected_rows, 'rejected row')}, {plural(done.drafts, 'unfinished import')}, "
                   f"{plural(done.answers, 'recorded API answer')}. It is on the suppression list now.",
                   icon=":material/delete_forever:")


def export_form(who: Actor) -> None:
    st.subheader("Export a person's data")
    email = st.text_input("Email to export", placeholder="name@example.com", key="export_email")
    if email.strip():
        data = service().export_person(email, who)
        st.caption(f"Contact: {'yes' if data['contact'] else 'none'} · linked by "
                   f"{plural(len(data['imports']), 'import')} · {plural(len(data['rejected_rows']), 'rejected row')}"
                   f" · {'suppressed' if data['suppressed'] else 'not suppressed'}")
        st.download_button("Download as JSON", json.dumps(data, ensure_ascii=False, indent=2).encode(),
                           file_name="person.json", mime="application/json", on_click="ignore")


def suppress_form(who: Actor) -> None:
    st.subheader("Suppression list")
    st.caption(f"{plural(service().suppression_count(), 'email')} on the list, kept as keyed hashes. "
               "Every import skips them, counted as suppressed.")
    upload = st.file_uploader("Add an opt-out list (CSV, .xlsx or JSON; a column of emails)",
                              type=["csv", "txt", "xlsx", "json"], key="opt_out_file")
    if upload is not None and st.button("Add to the suppression list"):
        added, bad = service().suppress_file(upload.getvalue(), upload.name, who)
        st.success(f"{plural(added, 'email')} added." + (f" Left out, not emails: {plural(len(bad), 'value')}."
                                                          if bad else ""))


def main() -> None:
    who = admin_page("People's data", "erase")
    if who is None:
        return
    for form in (erase_form, export_form, suppress_form):
        try:
            form(who)
        except Exception as error:
            show_error(error)


main()
