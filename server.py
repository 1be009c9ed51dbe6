"""The console and the HTTP API on one server and one port: `streamlit run server.py` (what
`./dev start` runs) finds this st.App, serves app.py's pages, and mounts the API under /api."""
import asyncio
import os
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Mount
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager

# The API reads the secrets the console reads ([roles], [api.jwt]; core.access.load_secrets).
os.environ["CONTACT_IMPORT_SECRETS"] = os.pathsep.join(config.get_option("secrets.files"))

from api import api, deadlines, sockets  # noqa: E402 - after the secrets' location is known
from api.internal import CloseInternalEndpoints  # noqa: E402
from core.importing import remove_orphan_spools  # noqa: E402
from core.storage.embedded import stop_embedded_server  # noqa: E402

# app.py's st.navigation lists the pages. Streamlit decides once per server, when the first
# session starts, whether pages/ is an old-style pages folder, and clears that only when
# st.navigation runs: a server whose first visitor opened a link to a page (/history) ran that
# file alone, listing every file of pages/ (common.py, the admins' pages) until someone opened /.
PagesManager.uses_pages_directory = False
sockets.install()  # no 40 ms stall per call on a kept-alive connection
deadlines.install()  # a request's headers and body must keep arriving
remove_orphan_spools()  # uploads that a killed or stopped server left in the temporary folder


@asynccontextmanager
async def _life(_app):
    yield
    remove_orphan_spools(mine=True)  # the sessions' uploads go with the server
    await asyncio.to_thread(stop_embedded_server)  # the embedded database stops with the console


app = st.App("app.py", routes=[Mount("/api", app=api)], middleware=[Middleware(CloseInternalEndpoints)],
             lifespan=_life)
