"""Contact Import Console: navigation and page config. Pages live in pages/, logic in core/."""
import streamlit as st

st.set_page_config(page_title="Contact Import Console", page_icon=":material/contacts:", layout="wide")

pages = [
    st.Page("pages/new_import.py", title="New import", icon=":material/upload_file:", default=True),
    st.Page("pages/history.py", title="Import history", icon=":material/history:"),
    st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
    st.Page("pages/api_keys.py", title="API keys", icon=":material/key:"),
]
st.navigation(pages).run()
