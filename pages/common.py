"""What every page shares: the engine (created once per server process), the current user, the
import wizard's state, and turning domain errors into short messages. Not a page itself: app.py
lists the pages."""
from __future__ import annotations

import logging

import streamlit as st

from core.database import make_engine
from core.errors import ImportConsoleError
from core.importing import Draft
from core.records import current_user

log = logging.getLogger("console")
# The import wizard's state in st.session_state: {"step", "source", "campaign", "draft"}.
WIZARD = "import_wizard"
NEW_IMPORT_PAGE = "pages/new_import.py"


@st.cache_resource(show_spinner="Starting the database…")
def engine():
    return make_engine()


def user_name() -> str:
    """Who is importing: the signed-in user when an identity provider is configured ([auth] in
    secrets), else `console_user` from secrets, else CONTACT_IMPORT_USER or the OS user."""
    try:
        if st.user.is_logged_in:
            return st.user.get("email") or st.user.get("name") or current_user()
    except (AttributeError, KeyError):
        pass
    try:
        configured = st.secrets.get("console_user")
    except FileNotFoundError:  # no secrets.toml at all
        configured = None
    return configured or current_user()


def plural(count: int, word: str) -> str:
    """'1 contact', '2 contacts', '1,000 invalid rows'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def show_error(error: Exception) -> None:
    """Domain errors as they are; anything else logged, and one line on screen."""
    if isinstance(error, ImportConsoleError):
        st.error(str(error), icon=":material/error:")
    else:
        log.exception("unexpected error in the console")
        st.error(f"Something went wrong ({type(error).__name__}). Nothing was half-written; "
                 "try again, and tell the admins if it keeps happening.", icon=":material/error:")


def discard_draft() -> None:
    """Close the wizard's draft (its upload's temporary file goes now, not at the session's end)."""
    draft = st.session_state.get(WIZARD, {}).get("draft")
    if draft is not None:
        draft.close()


def continue_in_wizard(draft: Draft) -> None:
    """Hand a draft (a failed import's retry) to the import wizard, at its mapping step."""
    discard_draft()
    st.session_state[WIZARD] = {"step": "map", "draft": draft}
    st.switch_page(NEW_IMPORT_PAGE)
