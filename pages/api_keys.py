"""API keys: make one (shown once), see when each was last used, revoke one."""
from __future__ import annotations

import streamlit as st

from core.api_keys import create_key, list_keys, revoke_key
from pages.common import engine, md, show_error


def create_form() -> None:
    with st.form("new_api_key", clear_on_submit=True):
        name = st.text_input("Who will use the key", placeholder="e.g. HubSpot sync")
        if st.form_submit_button("Create key"):
            key = create_key(engine(), name)
            st.success(f"The key of {md(name.strip())}. Copy it now: it is not shown again.")
            st.code(key, language=None)


def key_list() -> None:
    keys = list_keys(engine())
    if keys.empty:
        st.info("No key yet. Scripts and CRM syncs send one as X-API-Key to /api.")
        return
    keys["state"] = keys["revoked_at"].isna().map({True: "active", False: "revoked"})
    st.dataframe(keys[["name", "state", "created_at", "last_used_at"]], hide_index=True, column_config={
        "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "last_used_at": st.column_config.DatetimeColumn("last used", format="YYYY-MM-DD HH:mm")})
    active = keys.loc[keys["state"] == "active", "name"].tolist()
    if active:
        with st.form("revoke_api_key"):
            name = st.selectbox("Revoke a key", active)
            if st.form_submit_button("Revoke"):
                revoke_key(engine(), name)
                st.success(f"{md(name)} is revoked: calls with it are refused from now on.")
                st.rerun()


def main() -> None:
    st.title("API keys")
    st.caption("Keys for the HTTP API under /api (see /api/docs). Only a hash is stored.")
    try:
        create_form()
        key_list()
    except Exception as error:
        show_error(error)


main()
