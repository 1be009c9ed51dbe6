"""API keys (admins): make one with a role (shown once), see when each was last used, revoke one."""
from __future__ import annotations

import streamlit as st

from core.access import ROLES, Actor, IMPORTER
from pages.common import admin_page, md, service, show_error, time_column

ROLE_HELP = "importer: create imports, add contacts, attach. admin: also undo imports."


def create_form(who: Actor) -> None:
    with st.form("new_api_key", clear_on_submit=True):
        name = st.text_input("Who will use the key", placeholder="e.g. HubSpot sync")
        role = st.selectbox("Role", ROLES, index=ROLES.index(IMPORTER), help=ROLE_HELP)
        if st.form_submit_button("Create key"):
            key = service().create_key(name, who, role)
            st.success(f"The {role} key of {md(name.strip())}. Copy it now: it is not shown again.")
            st.code(key, language=None)


def key_list(who: Actor) -> None:
    keys = service().list_keys(who)
    if keys.empty:
        st.info("No key yet. Scripts and CRM syncs send one as X-API-Key to /api.")
        return
    keys["state"] = keys["revoked_at"].isna().map({True: "active", False: "revoked"})
    st.dataframe(keys[["name", "role", "state", "created_at", "last_used_at"]], hide_index=True, column_config={
        "created_at": time_column("created"), "last_used_at": time_column("last used")})
    active = keys.loc[keys["state"] == "active", "name"].tolist()
    if active:
        with st.form("revoke_api_key"):
            name = st.selectbox("Revoke a key", active)
            if st.form_submit_button("Revoke"):
                service().revoke_key(name, who)
                st.success(f"{md(name)} is revoked: calls with it are refused from now on.")
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
