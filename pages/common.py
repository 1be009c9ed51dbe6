"""What every page shares: the engine (created once per server process), the current user, the
import wizard's state, and turning domain errors into short messages. Not a page itself: app.py
lists the pages."""
from __future__ import annotations

import logging
import os
import re
import threading
import time

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import drafts
from core.database import make_engine
from core.errors import ImportConsoleError
from core.importing import Draft
from core.records import current_user

log = logging.getLogger("console")
# The import wizard's state in st.session_state: {"step", "source", "campaign", "draft"}.
WIZARD = "import_wizard"
DRAFT_PARAM = "draft"  # the URL's ?draft=<token>: the wizard's draft, kept on the server
NEW_IMPORT_PAGE = "pages/new_import.py"
# A closed tab's session is kept by Streamlit for two minutes, for a reconnect, then dropped the
# next time Streamlit happens to look. Its draft (the upload's rows) is released here once the
# session has been gone longer than that (CONTACT_IMPORT_DRAFT_TTL seconds), checked every
# SWEEP_EVERY seconds.
RELEASE_AFTER = float(os.environ.get("CONTACT_IMPORT_DRAFT_TTL", 150))
SWEEP_EVERY = max(1.0, min(15.0, RELEASE_AFTER / 10))
EXPIRE_EVERY = 600.0  # seconds between two passes deleting the drafts kept over a day
_drafts: dict[str, Draft] = {}          # browser session id -> its wizard's draft, server-wide
_gone_since: dict[str, float] = {}
_drafts_lock = threading.Lock()


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


# Everything Streamlit's Markdown gives a meaning to, including its own :color[...] and
# :material/...: directives and $ for LaTeX.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~:$<&])")


# GFM links bare URLs and addresses in the text that Markdown leaves, escapes or not; an invisible
# WORD JOINER after "https", "www" or "@" breaks what it looks for and shows nothing.
_AUTOLINK = re.compile(r"(?i)\b(?:https?|www|mailto|xmpp)(?=[:.])|@")


def md(value) -> str:
    """User data (file names, sources, campaigns, cell values, messages quoting them) made literal
    for a Markdown element, so that ![x](https://…) shows as text instead of fetching an image,
    and https://… or www.… is not made a link."""
    unlinked = _AUTOLINK.sub("\\g<0>\u2060", str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)


def plural(count: int, word: str) -> str:
    """'1 contact', '2 contacts', '1,000 invalid rows'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def time_column(label: str):
    """A stored time as a person reads it: to the minute, without the +00:00 of its zone."""
    return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC")


def count_columns(*names: str, **labelled: str) -> dict:
    """Count columns shown with thousands separators (48,000), as the metrics show them;
    labelled: column -> its label."""
    return {name: st.column_config.NumberColumn(label, format="localized")
            for name, label in {**{n: n for n in names}, **labelled}.items()}


def show_error(error: Exception) -> None:
    """Domain errors as they are; anything else logged, and one line on screen."""
    if isinstance(error, ImportConsoleError):
        st.error(md(error), icon=":material/error:")
    else:
        log.exception("unexpected error in the console")
        st.error(f"Something went wrong ({type(error).__name__}). Nothing was half-written; "
                 "try again, and tell the admins if it keeps happening.", icon=":material/error:")


def drop_streamlit_upload(uploaded) -> None:
    """Delete Streamlit's own copy of an uploaded file once the draft holds it: Streamlit keeps
    uploads in memory until the browser removes them or the session shuts down, and a closed
    tab's session may never be shut down (it is only dropped from the reconnect store)."""
    context = get_script_run_ctx()
    if context is not None and getattr(uploaded, "file_id", None):
        context.uploaded_file_mgr.remove_file(session_id=context.session_id, file_id=uploaded.file_id)


def keep_draft(draft: Draft, token: str | None = None) -> None:
    """Make draft the wizard's draft, releasing the one it replaces; token names it in the URL
    and on the server (core.drafts): a new one for a new draft, the old one for a resumed draft."""
    if token is None:
        discard_draft()
    wizard = st.session_state.setdefault(WIZARD, {"step": "details"})
    wizard.update(draft=draft, token=token or drafts.new_token())
    wizard.pop("saved", None)
    st.query_params[DRAFT_PARAM] = wizard["token"]
    session_id = _session_id()
    if session_id is not None:
        _start_draft_sweeper()
        with _drafts_lock:
            _drafts[session_id] = draft


def discard_draft() -> None:
    """Release the wizard's draft now (its upload's file and rows), not at the session's end, and
    forget it on the server."""
    wizard = st.session_state.get(WIZARD, {})
    draft, token = wizard.pop("draft", None), wizard.pop("token", None)
    wizard.pop("saved", None)
    if token is not None:
        drafts.delete_draft(engine(), token)
        if st.query_params.get(DRAFT_PARAM) == token:
            del st.query_params[DRAFT_PARAM]
    if draft is not None:
        draft.release()
        with _drafts_lock:
            for session_id in [s for s, kept in _drafts.items() if kept is draft]:
                del _drafts[session_id]


def save_wizard() -> None:
    """Keep the wizard's draft on the server as it stands (written only when it changed)."""
    wizard = st.session_state.get(WIZARD, {})
    draft, token = wizard.get("draft"), wizard.get("token")
    if draft is None or token is None or draft.released or draft.result is not None:
        return
    state = {name: wizard.get(name) for name in ("step", "source", "campaign")}
    wizard["saved"] = drafts.save_draft(engine(), token, draft, state, wizard.get("saved"))


def continue_in_wizard(draft: Draft) -> None:
    """Hand a draft (a failed import's retry) to the import wizard, at its mapping step."""
    keep_draft(draft)
    st.session_state[WIZARD]["step"] = "map"
    st.switch_page(NEW_IMPORT_PAGE)


def release_drafts_of_gone_sessions(now: float | None = None) -> int:
    """Release the drafts of sessions that have not been active for RELEASE_AFTER seconds;
    returns how many were released."""
    if not runtime.exists():
        return 0
    now = time.monotonic() if now is None else now
    active = runtime.get_instance().is_active_session
    released = 0
    with _drafts_lock:
        for session_id in list(_drafts):
            if active(session_id):
                _gone_since.pop(session_id, None)
                continue
            if now - _gone_since.setdefault(session_id, now) >= RELEASE_AFTER:
                _drafts.pop(session_id).release()
                del _gone_since[session_id]
                released += 1
                log.info("released the import draft of closed session %s", session_id)
    return released


@st.cache_resource
def _start_draft_sweeper() -> threading.Thread:
    expired = [float("-inf")]

    def sweep() -> None:
        while True:
            time.sleep(SWEEP_EVERY)
            try:
                release_drafts_of_gone_sessions()
                if time.monotonic() - expired[0] > EXPIRE_EVERY:
                    expired[0] = time.monotonic()
                    drafts.expire_drafts(engine())
            except Exception:  # the sweeper must outlive one bad pass
                log.exception("releasing the drafts of closed sessions failed")
    thread = threading.Thread(target=sweep, name="draft-sweeper", daemon=True)
    thread.start()
    return thread


def _session_id() -> str | None:
    context = get_script_run_ctx()
    return context.session_id if context is not None else None
