"""Campaigns: create one, and see each with its imports and contacts."""
from __future__ import annotations

import streamlit as st

from core.campaigns import create_campaign, list_campaigns
from core.history import list_imports
from pages.common import engine, md, show_error


def create_form() -> None:
    with st.form("new_campaign", clear_on_submit=True):
        name = st.text_input("New campaign", placeholder="e.g. Q4 Outreach")
        if st.form_submit_button("Create campaign"):
            create_campaign(engine(), name)
            st.success(f"Campaign {md(name.strip())} is ready.")


def campaign_list() -> None:
    campaigns = list_campaigns(engine())
    if campaigns.empty:
        st.info("No campaign yet.")
        return
    st.dataframe(campaigns.drop(columns=["id"]), hide_index=True,
                 column_config={"created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm")})
    for campaign in campaigns.itertuples(index=False):
        with st.expander(f"{md(campaign.name)} — {campaign.imports} imports, {campaign.contacts:,} contacts"):
            imports = list_imports(engine(), campaign_id=campaign.id)
            if imports.empty:
                st.caption("No import attached yet.")
            else:
                st.dataframe(imports[["created_at", "status", "source", "file_name", "total_rows"]],
                             hide_index=True, column_config={"total_rows": "contacts written"})


def main() -> None:
    st.title("Campaigns")
    try:
        create_form()
        campaign_list()
    except Exception as error:
        show_error(error)


main()
