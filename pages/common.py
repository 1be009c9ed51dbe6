"""What every page shares: the import service (one per server process), who is using the page
(signed_in: the sign-in gate every page passes first), the import wizard's state, and turning
domain errors into short messages. Not a page itself: app.py lists the pages."""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import altair as alt
import pandas as pd
import streamlit as st
from streamlit import config, runtime
from streamlit.errors import StreamlitPageNotFoundError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import importing
from core.access import AccessRefused, Actor, can, current_user, is_local, policy_from
from core.errors import ImportConsoleError, plural  # noqa: F401 - pages take plural from here
from core.fields import FIELDS, ROW, field_label
from core.importing import Draft

log = logging.getLogger("console")
# The import wizard (core.importing.Wizard) in st.session_state.
WIZARD = "import_wizard"
DRAFT_PARAM = "draft"  # the URL's ?draft=<token>: the wizard's draft, kept on the server
HISTORY_IMPORT_PARAM = "import"  # History's ?import=<id>: the import whose details it opens
NEW_IMPORT_PAGE = "pages/new_import.py"
HISTORY_PAGE = "pages/history.py"
# The fix grid's columns in fixed widths (pixels): the problems stay readable, every field has room
# (and a browser test finds a cell where it is drawn).
FIX_WIDTHS = {ROW: 60, importing.PROBLEMS: 240, **{name: 200 for name in FIELDS}}
# A closed tab's session is kept by Streamlit for two minutes, for a reconnect, then dropped the
# next time Streamlit happens to look. Its draft (the upload's rows) is released here once the
# session has been gone longer than that (CONTACT_IMPORT_DRAFT_TTL seconds), checked every
# SWEEP_EVERY seconds.
RELEASE_AFTER = float(os.environ.get("CONTACT_IMPORT_DRAFT_TTL", 150))
SWEEP_EVERY = max(1.0, min(15.0, RELEASE_AFTER / 10))
EXPIRE_EVERY = 600.0  # seconds between two passes deleting the drafts kept over their period
RETENTION_EVERY = 86_400.0  # the daily retention sweep (core.storage.retention), the first at start
DRAFTS = importing.DraftRegistry(RELEASE_AFTER)  # browser session id -> its wizard's draft, server-wide


@st.cache_resource(show_spinner="Starting the database…")
def service() -> importing.Service:
    """The import service on the console's database, one per server process: pages hold this,
    never an engine."""
    return importing.connect()


def secrets() -> dict:
    """Streamlit's secrets; {} when there is no file, but a file that cannot be read is an error
    (Streamlit says "not found" for both), not a console without sign-in."""
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:
        unreadable = [path for path in config.get_option("secrets.files") if Path(path).exists()]
        if unreadable:
            raise ImportConsoleError(f"{Path(unreadable[-1]).name} cannot be read (the server's log says where); "
                                     "the console stays closed until it is fixed.") from None
        return {}


def user_name(settings: dict | None = None) -> str:
    """Who uses a console without sign-in: `console_user` from secrets, else CONTACT_IMPORT_USER
    or the OS user."""
    return (secrets() if settings is None else settings).get("console_user") or current_user()


def current_actor(settings: dict | None = None) -> Actor:
    """Who uses the page, with the role [roles] gives them: with [auth] in secrets, the signed-in
    email (no role until signed in); without, the local user (core.access.Policy.role_of).
    settings: the secrets, when the caller has read them."""
    try:
        settings = secrets() if settings is None else settings
        policy = policy_from(settings)
    except ImportConsoleError:  # broken secrets let nobody in; signed_in says why
        return Actor(current_user(), None, "console")
    if "auth" not in settings:
        name = user_name(settings)
        return Actor(name, policy.role_of(name), "console")
    email = st.user.get("email") if st.user.is_logged_in else None
    trusted = email and policy.configured and email_trusted(settings)
    return Actor(email or "(an account without an email)", policy.role_of(email) if trusted else None, "console")


def email_trusted(settings: dict) -> bool:
    """An email the provider verified: anyone can put someone else's address on an account at
    some providers, and the allow-list goes by address. accept_unverified_email = true in secrets
    is for a provider that sends no email_verified claim and verifies addresses itself."""
    return st.user.get("email_verified") is True or settings.get("accept_unverified_email") is True


def signed_in() -> Actor:
    """The gate every page passes first: who uses it, or the page stops here. With [auth] in
    secrets, a sign-in, and a role ([roles] is the allow-list); without, the console serves this
    machine only and says so."""
    try:
        settings = secrets()
        policy_from(settings)
    except ImportConsoleError as error:
        show_error(error)
        st.stop()
    if "auth" in settings:
        return _signed_in_with_provider(settings)
    under_apptest = config.get_option("global.appTest")  # AppTest serves nobody: no address to check
    if not under_apptest and not is_local(st.get_option("server.address"), st.context.ip_address):
        st.error("This console has no sign-in configured, so it serves only this machine. Open it on "
                 "127.0.0.1, or configure sign-in ([auth] and [roles] in .streamlit/secrets.toml; see "
                 "README, \"Running it for a team\").", icon=":material/lock:")
        st.stop()
    actor = current_actor(settings)
    if actor.role is None:
        _refuse(actor, settings, f"{actor.name} has no role in [roles] of .streamlit/secrets.toml, so the console "
                       "refuses them. Set CONTACT_IMPORT_USER, or add them to [roles].")
    st.sidebar.caption(":material/lock_open: Local mode: no sign-in is configured, so only this machine can "
                       f"open the console. You are {md(actor.name)} ({actor.role}).")
    return actor


def _signed_in_with_provider(settings: dict) -> Actor:
    if not st.user.is_logged_in:
        st.title("Contact Import Console")
        st.write("Sign in to import contacts.")
        providers = [name for name, value in settings["auth"].items() if isinstance(value, dict)]
        for provider in providers or [None]:
            label = f"Sign in with {md(provider)}" if provider else "Sign in"
            if st.button(label, type="primary", key=f"login_{provider}"):
                st.login(provider)  # None: the one provider of [auth]
        st.stop()
    actor = current_actor(settings)
    if actor.role is None:
        if "roles" not in settings:
            why = ("Nobody is allowed in yet: the operator lists who may sign in under [roles] in "
                   ".streamlit/secrets.toml (see README, \"Running it for a team\").")
        elif st.user.get("email") and not email_trusted(settings):
            why = (f"The sign-in provider has not verified {actor.name}, so the console cannot go by it. "
                   "Verify the address with the provider, then sign in again.")
        else:
            why = f"{actor.name} is not allowed in this console. Ask an admin to add you."
        _refuse(actor, settings, why)
    with st.sidebar:
        st.caption(f"Signed in as {md(actor.name)} ({actor.role})")
        if st.button("Sign out", key="logout"):
            st.logout()
    return actor


def _refuse(actor: Actor, settings: dict, why: str) -> None:
    """A signed-in person without a role: recorded once per session, and nothing of the page shown."""
    if st.session_state.get("_refusal_recorded") != actor.name:
        service().record_refused_sign_in(actor)
        st.session_state["_refusal_recorded"] = actor.name
    st.error(md(why), icon=":material/block:")
    if "auth" in settings and st.button("Sign out", key="logout_refused"):
        st.logout()
    st.stop()


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


def literal(value) -> str:
    """md(value) inside a text that str.format fills in later (a progress stage's text)."""
    return md(value).replace("{", "{{").replace("}", "}}")


def viewer_zone() -> str:
    """The time zone of the viewer's browser (IANA name), UTC until it says or when it names none
    this machine knows. Downloads keep ISO 8601 with the offset: only the screen changes."""
    zone = st.context.timezone
    return zone if zone and zone in available_timezones() else "UTC"


def time_column(label: str):
    """A stored time as a person reads it: to the minute, in the viewer's zone, named."""
    zone = viewer_zone()
    return st.column_config.DatetimeColumn(f"{label} ({zone})", format="YYYY-MM-DD HH:mm", timezone=zone)


def shown_time(at, named: bool = True) -> str:
    """A stored time in the viewer's zone, to the minute, the zone named unless named=False."""
    zone = viewer_zone()
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}" + (f" {zone}" if named else "")


def blank(frame: pd.DataFrame) -> pd.DataFrame:
    """frame with its empty text cells empty on screen: st.dataframe writes "None" in them."""
    text = [column for column in frame.columns
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype)]
    return frame.assign(**{column: frame[column].fillna("") for column in text}) if text else frame


def count_columns(*names: str, **labelled: str) -> dict:
    """Count columns shown with thousands separators (48,000), as the metrics show them;
    labelled: column -> its label."""
    return {name: st.column_config.NumberColumn(label, format="localized")
            for name, label in {**{n: n for n in names}, **labelled}.items()}


def admin_page(title: str, action: str) -> Actor | None:
    """An admins' page: who uses it, when their role allows action; else the refusal, and None
    (core refuses it all the same: this saves a click)."""
    who = signed_in()
    st.title(title)
    if not can(who, action):
        st.error(md(AccessRefused(who, action)), icon=":material/lock:")
        return None
    return who


def show_error(error: Exception) -> None:
    """Domain errors as they are; anything else logged, and one line on screen."""
    if isinstance(error, ImportConsoleError):
        st.error(md(error), icon=":material/error:")
    else:
        log.exception("unexpected error in the console")
        st.error(f"Something went wrong ({type(error).__name__}). Nothing was half-written; "
                 "try again, and tell the admins if it keeps happening.", icon=":material/error:")


def history_link(import_id: str) -> None:
    """A link that opens this import's details in Import history."""
    try:
        st.page_link(HISTORY_PAGE, label="See it in Import history", icon=":material/history:",
                     query_params={HISTORY_IMPORT_PARAM: import_id})
    except StreamlitPageNotFoundError:  # a page run alone (AppTest) has no navigation to link within
        st.caption("See it in Import history.")


STALLED_AFTER = 60.0  # seconds without progress before a commit is said to have maybe stopped


@st.fragment(run_every=1.0)
def stored_commit_progress(import_id: str) -> None:
    """A commit of this import running in any tab or console server, as it last wrote; the whole
    page again once it ends."""
    progress = service().stored_progress(import_id)
    if progress is None:
        if service().get_import(import_id)["status"] != "processing":
            st.rerun(scope="app")  # it ended: show what it did
        st.caption("Waiting for its commit to start, or for its next batch through the HTTP API.")
        return
    text = importing.COMMIT_STAGES.get(progress["stage"], "Committing…").format(done=progress["done"], total=progress["total"])
    fraction = min(progress["done"] / progress["total"], 1.0) if progress["total"] else 0.0
    st.progress(fraction, text=f"Committing now. {text}")
    if progress["seconds_ago"] > STALLED_AFTER:
        st.caption(f"No progress for {progress['seconds_ago'] / 60:.0f} minutes: its server may have stopped; "
                   "if so, the import turns failed (nothing written) and can be retried.")


def drop_streamlit_upload(uploaded) -> None:
    """Delete Streamlit's own copy of an uploaded file once the draft holds it: Streamlit keeps
    uploads in memory until the browser removes them or the session shuts down, and a closed
    tab's session may never be shut down (it is only dropped from the reconnect store)."""
    context = get_script_run_ctx()
    if context is not None and getattr(uploaded, "file_id", None):
        context.uploaded_file_mgr.remove_file(session_id=context.session_id, file_id=uploaded.file_id)


def wizard() -> importing.Wizard:
    """This browser session's import wizard (core.importing.Wizard)."""
    return st.session_state.setdefault(WIZARD, importing.Wizard())


def show_wizard(w: importing.Wizard) -> importing.Wizard:
    """Make w this session's wizard: its draft held for the session on this server (let go once the
    session is gone) and named in the URL, so that a refresh or a copied link opens it again."""
    st.session_state[WIZARD] = w
    if w.token is not None:
        st.query_params[DRAFT_PARAM] = w.token
    elif DRAFT_PARAM in st.query_params:
        del st.query_params[DRAFT_PARAM]
    session_id = _session_id()
    if session_id is not None:
        if w.draft is not None:
            _start_draft_sweeper()
        DRAFTS.hold(session_id, w.draft)
    return w


def save_wizard() -> None:
    """Keep the wizard's draft in the database as it stands (written only when it changed)."""
    wizard().save(service())


def continue_in_wizard(draft: Draft) -> None:
    """Hand a draft (a failed import's retry) to the import wizard, at its mapping step."""
    w = wizard()
    w.retry(service(), draft)
    show_wizard(w)
    st.switch_page(NEW_IMPORT_PAGE)


def release_drafts_of_gone_sessions(now: float | None = None) -> int:
    """Release the drafts of sessions that have not been active for RELEASE_AFTER seconds (Streamlit
    says which are); returns how many were released."""
    if not runtime.exists():
        return 0
    return DRAFTS.release_gone(runtime.get_instance().is_active_session, now)


@st.cache_resource
def _start_draft_sweeper() -> threading.Thread:
    expired, retained = [float("-inf")], [float("-inf")]

    def sweep() -> None:
        while True:
            time.sleep(SWEEP_EVERY)
            try:
                release_drafts_of_gone_sessions()
                if time.monotonic() - expired[0] > EXPIRE_EVERY:
                    expired[0] = time.monotonic()
                    service().expire_drafts()
                if time.monotonic() - retained[0] > RETENTION_EVERY:
                    retained[0] = time.monotonic()
                    service().sweep_retention()
            except Exception:  # the sweeper must outlive one bad pass
                log.exception("releasing the drafts of closed sessions failed")
    thread = threading.Thread(target=sweep, name="draft-sweeper", daemon=True)
    thread.start()
    return thread


def _session_id() -> str | None:
    context = get_script_run_ctx()
    return context.session_id if context is not None else None


TICK = 0.25  # seconds between two redraws of a wait's progress


def working(label: str, work, stages: dict[str, str] | None = None):
    """work(on_progress) run while the page shows that it runs: a progress bar from the first
    moment, its stage's counts when work reports them (stages: stage -> text with {done:,} and
    {total:,}), and the seconds so far, redrawn every quarter second so it never looks frozen.
    The work runs in a thread (core's verbs, never Streamlit); a rerun the user starts meanwhile
    waits for it, so a click cannot cut a change in two. Returns what work returns, or raises
    what it raised."""
    heard: dict = {}
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work(lambda stage, done, total: heard.update(stage=stage, done=done, total=total))
        except BaseException as error:  # handed to the page's thread
            outcome["error"] = error
    thread = threading.Thread(target=run, name=f"console-work-{label[:30]}", daemon=True)
    bar, started = st.progress(*_progress_shown(label, {}, {}, 0.0)), time.monotonic()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(TICK)
            bar.progress(*_progress_shown(label, stages or {}, dict(heard), time.monotonic() - started))
    finally:
        thread.join()
    bar.empty()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _progress_shown(label: str, stages: dict[str, str], heard: dict, seconds: float) -> tuple[float, str]:
    """The bar's value and text: the stage's counts when heard, else the label; then the time so far."""
    stage, done, total = heard.get("stage"), heard.get("done", 0), heard.get("total", 0)
    text = stages[stage].format(done=done, total=total) if stage in stages else label
    fraction = min(done / total, 1.0) if total else 0.0
    return fraction, f"{text} ({seconds:.0f} s)"


LARGE_DOWNLOAD = 20_000  # rows: a download this large is built first, its progress shown, then offered
PREPARED = "prepared_download"  # (key, spool file) of the one large download built for this session
EXPORT_STAGES = {"exporting": "Building the CSV: {done:,} of {total:,} contacts"}


def csv_download(label: str, build, file_name: str, rows: int, key: str) -> None:
    """A CSV download of rows contacts; build(on_progress, out) returns the bytes, or writes them
    to the file out. A small one is built when clicked; a large one (a minute for a million rows)
    is built on a first click, its progress shown, into a temporary file, then offered from it:
    Streamlit shows nothing while a clicked download is being built, and holding 200 MB per
    session would undo the console's memory bound. The file goes with the session, or with the
    next large download it prepares."""
    if rows < LARGE_DOWNLOAD:
        st.download_button(label, data=lambda: build(None, None), file_name=file_name, mime="text/csv",
                           on_click="ignore", key=key)
        return
    prepared = st.session_state.get(PREPARED)
    if prepared is None or prepared[0] != key:
        prepare = st.empty()  # the button goes once clicked: the download takes its place
        if not prepare.button(f"Prepare: {label.replace('Download', 'download', 1)}", key=f"{key}_prepare",
                              icon=":material/build:"):
            return
        prepare.empty()
        spool = importing.spool_file(".csv")  # the file of the last one goes with it
        # kept before it is built: a click during the build reruns the page once it is done
        prepared = st.session_state[PREPARED] = (key, spool)
        try:
            working(f"Building the CSV of {rows:,} contacts…",
                    lambda on_progress: (build(on_progress, spool), spool.flush()), EXPORT_STAGES)
        except Exception:
            del st.session_state[PREPARED]
            raise
    st.download_button(label, data=lambda: Path(prepared[1].name).read_bytes(), file_name=file_name,
                       mime="text/csv", on_click="ignore", key=key, type="primary", icon=":material/download:")


CHART_GROUPS = 12  # bars of the invalid-rows chart; the rarer reasons share the last one
ROW_NAMED = r"\brow \d+"  # "duplicate email in this file: row 6501 is imported instead": one bar for all


def invalid_rows_chart(errors, key: str):
    """The invalid rows at a glance: one bar per field and reason, the most frequent first, each
    counting the rows it holds. Clicking bars (shift for more) filters the errors table: returns
    the errors of the chosen bars, all of them when none is chosen. errors: a frame with row,
    column (a field, or a reading problem's column) and reason."""
    if errors.empty:
        return errors
    labelled = _chart_groups(errors)
    groups = (labelled.groupby(["field", "reason"], sort=False)["row"].nunique().rename("rows").reset_index()
              .sort_values("rows", ascending=False, kind="stable"))
    groups["bar"] = groups["field"] + ": " + groups["reason"]
    pick = alt.selection_point(name="bars", fields=["field", "reason"])
    chart = (alt.Chart(groups).mark_bar().encode(
        x=alt.X("rows:Q", title="invalid rows"), y=alt.Y("bar:N", sort="-x", title=None, axis=alt.Axis(labelLimit=420)),
        color=alt.condition(pick, alt.value("#2563eb"), alt.value("#cbd5e1")),
        tooltip=[alt.Tooltip("field:N"), alt.Tooltip("reason:N"), alt.Tooltip("rows:Q", format=",")])
        .add_params(pick).properties(height=alt.Step(28)))
    event = st.altair_chart(chart, on_select="rerun", key=key, width="stretch")
    chosen = [(p.get("field"), p.get("reason")) for p in (event.selection.get("bars") or [])]
    if not chosen:
        st.caption("Click a bar to see only its rows (shift-click for several).")
        return errors
    shown = errors[pd.MultiIndex.from_arrays([labelled["field"], labelled["reason"]]).isin(chosen)]
    st.caption(f"Showing the {plural(shown['row'].nunique(), 'row')} of the bars you picked; click the chart "
               "away from the bars to show every row again.")
    return shown


def _chart_groups(errors: pd.DataFrame) -> pd.DataFrame:
    """errors with field (its label) and reason, the rarest kinds folded into one "other" bar so
    the chart keeps CHART_GROUPS bars."""
    labelled = errors[["row"]].assign(field=errors["column"].map(field_label),
                                      reason=errors["reason"].astype(str).str.replace(ROW_NAMED, "another row", regex=True))
    sizes = labelled.groupby(["field", "reason"], sort=False)["row"].nunique().sort_values(ascending=False, kind="stable")
    if len(sizes) <= CHART_GROUPS:
        return labelled
    rare = pd.MultiIndex.from_arrays([labelled["field"], labelled["reason"]]).isin(sizes.index[CHART_GROUPS - 1:])
    return labelled.assign(field=labelled["field"].where(~rare, "other"),
                           reason=labelled["reason"].where(~rare, f"{len(sizes) - CHART_GROUPS + 1} rarer reasons"))


PAGE_ROWS = 1000  # rows of a long table sent to the browser at a time


def page_picker(total: int, key: str) -> tuple[int, int]:
    """(start, stop) of one page of PAGE_ROWS rows, with a page picker when there are more (keeps
    1M-row files responsive). Tables get a copy of their page: a slice would keep the whole frame
    alive in Streamlit's table store for as long as the session is."""
    pages = max((total - 1) // PAGE_ROWS + 1, 1)
    # keyed by the page count too: a filter that shortens the table starts again on page 1
    page = 1 if pages == 1 else st.number_input(
        f"Page (of {pages:,}, {PAGE_ROWS:,} rows each)", 1, pages, 1, key=f"{key}_{pages}")
    return (page - 1) * PAGE_ROWS, page * PAGE_ROWS
