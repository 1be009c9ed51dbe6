"""API keys (admins): make one with a role (shown once), see when each was last used, revoke one."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.access import ROLES, Actor, IMPORTER
from pages.common import admin_page, md, service, show_error, shown_time, time_column

ROLE_HELP = "importer: create imports, add contacts, attach. admin: also undo imports."


def create_form(who: Actor) -> None:
    with st.form("new_api_key", clear_on_submit=True):
        name = st.text_input("Who will use the key", placeholder="e.g. HubSpot sync")
        role = st.selectbox("Role", ROLES, index=ROLES.index(IMPORTER), help=ROLE_HELP)
        if st.form_submit_button("Create key"):
            key = service().create_key(name, who, role)
            st.success(f"The {role} key of {md(name.strip())}. Copy it now: it is not shown again.")
            st.code(key, language=None)


REVOKED = "api_key_revoked"  # the key last revoked: its message stays until dismissed


def key_list(who: Actor) -> None:
    revoked_notice()
    keys = service().list_keys(who)
    if keys.empty:
        st.info("No key yet. Scripts and CRM syncs send one as X-API-Key to /api.")
        return
    keys["state"] = keys["revoked_at"].isna().map({True: "active", False: "revoked"})
    keys["last used"] = keys["last_used_at"].map(lambda at: "never used" if pd.isna(at) else shown_time(at))
    st.dataframe(keys[["name", "role", "state", "created_at", "last used"]], hide_index=True, column_config={
        "created_at": time_column("created")})
    active = keys.loc[keys["state"] == "active", "name"].tolist()
    if active:
        with st.form("revoke_api_key"):
            name = st.selectbox("Revoke a key", active)
            sure = st.checkbox("Yes, revoke it: every call made with it is refused from then on")
            if st.form_submit_button("Revoke"):
                if not sure:
                    st.warning("Tick the box to confirm: a revoked key cannot be used again.")
                else:
                    service().revoke_key(name, who)
                    st.session_state[REVOKED] = name
                    st.rerun()


def revoked_notice() -> None:
    name = st.session_state.get(REVOKED)
    if name is None:
        return
    said, dismiss = st.columns([5, 1])
    said.success(f"{md(name)} is revoked: calls with it are refused from now on.", icon=":material/key_off:")
    if dismiss.button("Dismiss"):
        del st.session_state[REVOKED]
        st.rerun()


def main() -> None:
    who = admin_page("API keys", "manage keys")
    if who is None:
        return
    st.caption("Keys for the HTTP API under /api (see /api/docs). Only a hash is stored. Creating and "
               "revoking a key is recorded in the audit trail.")
    try:
        create_form(who)
        key_list(who)
    except Exception as error:
        show_error(error)


main()
