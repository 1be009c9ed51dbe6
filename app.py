"""Contact Import Console: navigation and page config. Pages live in pages/, logic in core/. Every
page passes pages.common.signed_in first; the admins' pages are listed to admins only (and core
refuses their actions to anyone else all the same)."""
import streamlit as st

from core.access import can
from pages.common import current_actor

st.set_page_config(page_title="Contact Import Console", page_icon=":material/contacts:", layout="wide")

actor = current_actor()
pages = [
    st.Page("pages/new_import.py", title="New import", icon=":material/upload_file:", default=True),
    st.Page("pages/history.py", title="Import history", icon=":material/history:"),
    st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
]
if can(actor, "manage keys"):
    pages.append(st.Page("pages/api_keys.py", title="API keys", icon=":material/key:"))
if can(actor, "read audit"):
    pages.append(st.Page("pages/audit.py", title="Audit trail", icon=":material/policy:"))
if can(actor, "erase"):
    pages.append(st.Page("pages/personal_data.py", title="People's data", icon=":material/person_remove:"))
st.navigation(pages, position="sidebar" if actor.role else "hidden").run()
