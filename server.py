"""The console and the HTTP API on one server and one port: `streamlit run server.py` (what
`./dev start` runs) finds this st.App, serves app.py's pages, and mounts the API under /api."""
import streamlit as st
from starlette.routing import Mount

from api import api

app = st.App("app.py", routes=[Mount("/api", app=api)])
