"""Campaigns: create one, and see each with its imports and contacts."""
from __future__ import annotations

import streamlit as st

from core.fields import FIELDS, field_label
from pages.common import blank, count_columns, csv_download, md, plural, show_error, service, signed_in, time_column

CONTACTS_PAGE = 100


def create_form() -> None:
    with st.form("new_campaign", clear_on_submit=True):
        name = st.text_input("New campaign", placeholder="e.g. Q4 Outreach")
        if st.form_submit_button("Create campaign"):
            campaign = service().open_campaign(name)
            if campaign.created:
                st.success(f"Campaign {md(campaign.name)} created.")
            else:
                st.info(f"A campaign named {md(campaign.name)} already exists; nothing new was created.")


def campaign_list() -> None:
    campaigns = service().list_campaigns()
    if campaigns.empty:
        st.info("No campaign yet.")
        return
    st.dataframe(campaigns.drop(columns=["id"]), hide_index=True,
                 column_config={"name": "campaign", "created_at": time_column("created"),
                                **count_columns("imports", "contacts")})
    for campaign in campaigns.itertuples(index=False):
        with st.expander(f"{md(campaign.name)} — {plural(campaign.imports, 'import')}, "
                         f"{plural(campaign.contacts, 'contact')}"):
            campaign_detail(campaign)


def campaign_detail(campaign) -> None:
    imports = service().list_imports(campaign_id=campaign.id)
    if imports.empty:
        st.caption("No import attached yet.")
        return
    st.dataframe(blank(imports[["created_at", "status", "source", "file_name", "total_rows"]]), hide_index=True,
                 column_config={"created_at": time_column("imported"), "file_name": "file",
                                **count_columns(total_rows="contacts written")})
    if not campaign.contacts:
        return
    pages = (campaign.contacts - 1) // CONTACTS_PAGE + 1
    page = st.number_input(f"Contacts page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                           key=f"campaign_page_{campaign.id}")
    contacts = service().list_contacts(campaign_id=campaign.id, limit=CONTACTS_PAGE,
                             offset=(page - 1) * CONTACTS_PAGE)
    st.dataframe(blank(contacts.drop(columns=["id"])), hide_index=True,
                 column_config={**{name: field_label(name) for name in FIELDS}, "created_at": time_column("added"),
                                "updated_at": time_column("updated")})
    svc = service()  # outside the thread that builds a large download
    csv_download("Download the campaign's contacts (CSV)",
                 lambda on_progress, out: svc.campaign_contacts_csv(campaign.id, on_progress, campaign.contacts, out),
                 # the key changes with the campaign, so a file prepared before is not offered after
                 f"{campaign.name}-contacts.csv", campaign.contacts,
                 key=f"campaign_csv_{campaign.id}_{campaign.imports}_{campaign.contacts}")


def main() -> None:
    signed_in()
    st.title("Campaigns")
    try:
        create_form()
        campaign_list()
    except Exception as error:
        show_error(error)


main()
