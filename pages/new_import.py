"""New import: the console's import wizard (core.importing.Wizard, one per browser session)
rendered step by step. The wizard decides which step comes next and what each button does; the
page shows its step and calls its moves."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import importing
from core.access import Actor, can
from core.errors import ImportConsoleError
from core.fields import FIELDS, REQUIRED_FIELDS, ROW, field_label
from pages.common import (DRAFT_PARAM, FIX_WIDTHS, blank, current_actor, drop_streamlit_upload, history_link,
                          PAGE_ROWS, invalid_rows_chart, literal, md, page_picker, plural,
                          save_wizard, service, show_error, show_wizard, signed_in, stored_commit_progress,
                          time_column, wizard, working)

STEP_LABELS = {"details": "Details", "upload": "Upload", "map": "Map columns", "review": "Review",
         "commit": "Commit", "done": "Campaign"}
NEW_SOURCE = "+ New source…"
NO_CAMPAIGN, NEW_CAMPAIGN = "No campaign", "+ New campaign…"
UNMAPPED = "— not mapped —"
DETECTED = "detected"
ENCODINGS = [DETECTED, "utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "mac-roman"]
DELIMITERS = {DETECTED: None, "comma ,": ",", "semicolon ;": ";", "tab": "\t", "pipe |": "|"}
DISCARDING = "discarding_draft"  # the token of the draft whose discard waits for its confirmation
WAITING_TEXT = ("Other large files are being read on this server: {done:,} ahead of yours. Yours goes next, "
                "as soon as one of them is done.")
# Grids show the spreadsheet row (not the internal column's name) and the fields as people say them.
GRID_COLUMNS = {ROW: st.column_config.NumberColumn("row", format="%d"),
                **{name: field_label(name) for name in FIELDS},
                "same_as_email": "same person as (email)", "same_as": "found in",
                # "invalid: Email is not a valid email address" whole, not "invalid:"
                "status": st.column_config.TextColumn("status", width="large")}
FIX_COLUMNS = {**GRID_COLUMNS, ROW: st.column_config.NumberColumn("row", format="%d", width=FIX_WIDTHS[ROW]),
               importing.PROBLEMS: st.column_config.TextColumn("problems", width=FIX_WIDTHS[importing.PROBLEMS]),
               **{name: st.column_config.TextColumn(field_label(name), width=FIX_WIDTHS[name]) for name in FIELDS}}


def go(step: str) -> None:
    wizard().go(step)
    st.rerun()


def go_back() -> None:
    wizard().back()
    st.rerun()


def restart(keep: tuple[str, ...] = (), step: str = "details") -> None:
    """A new wizard, keeping these of the last one's choices (its source, its campaign)."""
    show_wizard(wizard().started_over(service(), keep, step))
    st.rerun()


def progress_header(current: str) -> None:
    position = importing.STEPS.index(current)
    st.progress((position + 1) / len(importing.STEPS),
                text=" › ".join(f"**{i + 1}. {STEP_LABELS[name]}**" if name == current else f"{i + 1}. {STEP_LABELS[name]}"
                                for i, name in enumerate(importing.STEPS)))


# --- 1. details ----------------------------------------------------------------------------------

def details_step(w: importing.Wizard) -> None:
    committed = w.committed
    if committed is not None:  # the link of a draft that became an import
        already_committed(committed.import_id, committed.file_name)
        st.divider()
    st.subheader("Where do these contacts come from?")
    source = pick_or_type("Source", service().recent_sources(), NEW_SOURCE, w.source,
                          placeholder="e.g. HubSpot, LinkedIn, Trade show 2026")
    campaigns = service().list_campaigns()["name"].tolist()
    campaign = pick_or_type("Campaign (optional)", campaigns, NEW_CAMPAIGN, w.campaign,
                            placeholder="e.g. Q4 Outreach", none_option=NO_CAMPAIGN)
    mode = st.radio("What may this import do to contacts?", list(MODE_CHOICES), format_func=MODE_CHOICES.get,
                    index=list(MODE_CHOICES).index(w.mode))
    # never disabled: a source typed and not yet sent (the box still has the focus) arrives with
    # the click, so a disabled button would take two clicks
    if st.button("Next: upload the file", type="primary"):
        if source:
            w.choose_origin(source, campaign, mode)
            st.rerun()
        st.warning("Name the source to go on.", icon=":material/edit:")
    unfinished_drafts(current_actor())


MODE_CHOICES = {"upsert": "Create new contacts and update stored ones",
                "create": "Only create new contacts (stored ones stay as they are)",
                "update": "Only update stored contacts (new emails are left out)"}


def left_out_metrics(counts: importing.Counts) -> list[tuple[str, int]]:
    """The rows an import's mode leaves out, when it leaves any."""
    return [pair for pair in counts.labelled("already_there", "not_found") if pair[1]]


def change_guard(draft: importing.Draft, preview) -> bool:
    """An import that changes many of the stored contacts asks for a confirmation that names the
    count (core.storage.guard); True when the commit may go on."""
    guard = importing.guard_for("console")
    stored = service().stored_contacts() if preview.will_update > guard.count else 0
    if not guard.would_stop(preview.will_update, stored):
        draft.confirmed_changes = None
        return True
    st.warning(f"This import will change {plural(preview.will_update, 'stored contact')} of {stored:,} "
               f"({preview.will_update / stored:.0%}). Check what changes above before you go on.",
               icon=":material/warning:")
    confirmed = st.checkbox(f"Yes, change {preview.will_update:,} stored contacts",
                            key=f"confirm_changes_{draft.import_id}_{preview.will_update}")
    draft.confirmed_changes = preview.will_update if confirmed else None
    return confirmed


def mode_caption(mode: str, preview) -> None:
    if mode == "create" and preview.already_there:
        st.caption(f"This import only creates contacts: {plural(preview.already_there, 'row')} whose email is "
                   "stored already will be left as the stored contact is, and not linked to the import.")
    elif mode == "update" and preview.not_found:
        st.caption(f"This import only updates stored contacts: {plural(preview.not_found, 'row')} whose email "
                   "is not stored will be left out; no contact is created.")


def pick_or_type(label: str, known: list[str], new_label: str, current: str | None,
                 placeholder: str, none_option: str | None = None, typed_label: str | None = None) -> str | None:
    """A selectbox of known values plus "new…", which opens a text box (typed_label: its label,
    "New source" from "Source" by default)."""
    options = ([none_option] if none_option else []) + known + [new_label]
    default = known.index(current) + (1 if none_option else 0) if current in known else (
        0 if none_option and not current else len(options) - 1)
    choice = st.selectbox(label, options, index=default)
    if choice == new_label:
        typed = st.text_input(typed_label or f"New {label.split(' (')[0].lower()}",
                              value=current if current and current not in known else "",
                              placeholder=placeholder, max_chars=255).strip()
        return typed or None
    return None if choice == none_option else choice


# --- 2. upload -----------------------------------------------------------------------------------

def upload_step(w: importing.Wizard) -> None:
    st.subheader("Upload the contacts")
    st.caption(f"Source: {md(w.source)}" + (f" · campaign: {md(w.campaign)}" if w.campaign else "")
               + (f" · {importing.MODES[w.mode]}" if w.mode != "upsert" else ""))
    limit = st.get_option("server.maxUploadSize")
    st.caption(f"A CSV file (any delimiter; UTF-8, Windows-1252 or UTF-16), an Excel workbook (.xlsx) "
               f"or a JSON array of contact objects, up to {limit:,} MB.")
    st.download_button("Download a template CSV", importing.template_csv(), file_name="contacts-template.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:")
    uploaded = st.file_uploader("Contacts file", type=["csv", "json", "txt", "tsv", "xlsx"])
    back, _ = st.columns([1, 5])
    if back.button("Back"):
        go_back()
    if uploaded is None:
        return
    svc, data, actor = service(), uploaded.getvalue(), current_actor()
    name = literal(uploaded.name)  # in the stages' texts, which are formatted
    stages = {importing.WAITING: WAITING_TEXT, "reading": f"Reading {name} ({len(data) / 2**20:,.1f} MB)…",
              "suggesting": f"Read {{done:,}} rows of {name}: matching its columns to the fields…"}
    try:
        working(f"Reading {md(uploaded.name)}…",
                lambda on_progress: w.open_file(svc, data, uploaded.name, actor, on_progress), stages)
    except ImportConsoleError as error:  # unreadable: say why and stay on this step
        show_error(error)
        return
    finally:  # read, even if a click reruns the page meanwhile: the draft holds the file now
        if w.step != "upload":
            drop_streamlit_upload(uploaded)
    show_wizard(w)
    st.rerun()


# --- 3. map --------------------------------------------------------------------------------------

def map_step(w: importing.Wizard) -> None:
    draft = w.draft
    source_file = draft.file
    if draft.is_retry:
        st.info("Retrying a failed import: the same review as a first attempt, then a commit into the "
                "same import, which History keeps as one.", icon=":material/replay:")
    st.subheader(f"Map the columns of {md(source_file.file_name)}")
    reading_summary(draft)
    if draft.remembered:
        st.info("These columns were mapped the way you confirmed last time for this header.",
                icon=":material/bookmark:")
    mapping = {field: mapping_row(draft, field) for field in FIELDS}
    mapping = {f: cols for f, cols in mapping.items() if cols}
    draft.mapping = mapping
    extras = kept_columns(draft, mapping)
    rules = field_rules(draft, mapping)
    unresolved = same_named_warnings(draft, mapping)
    missing = [f for f in importing.missing_fields(mapping) if f not in draft.ambiguous]
    if missing:
        st.error("Map a column to each required field before going on: "
                 f"{', '.join(map(field_label, missing))}.")
    back, forward, _ = st.columns([1, 2, 4])
    if back.button("Back", disabled=draft.is_retry):
        go_back()
    if forward.button("Next: review", type="primary", disabled=bool(missing or unresolved)):
        svc = service()
        reviewed(lambda on_progress: w.confirm_mapping(svc, mapping, on_progress, rules, extras))
        st.rerun()


def kept_columns(draft: importing.Draft, mapping: dict) -> dict[str, str]:
    """The columns no field takes that the user keeps in each contact's metadata: column -> key."""
    problem = importing.metadata_column_problem(draft, mapping)
    if problem:
        st.warning(md(problem) + " (set Extra fields to none, then pick the column below)", icon=":material/data_object:")
    used = {column for columns in mapping.values() for column in columns}
    free = [header for header in draft.file.headers if header not in used]
    if not free:
        return {}
    keys = {column: draft.extras.get(column) or importing.extra_key(column) for column in free}
    with st.expander("Keep other columns as extra fields", expanded=bool(draft.extras)):
        chosen = st.multiselect("Columns to keep in each contact's metadata, under the key shown", free,
                                default=[c for c in draft.extras if c in free], key=f"extras_{draft.import_id}",
                                format_func=lambda column: f"{column} → {keys[column]}")
        for column in chosen:
            st.caption(f"**{md(column)}** → {md(keys[column])}: {md(sample_values(draft, [column]))}")
    return {column: keys[column] for column in chosen}


RULE_CHOICES = {"overwrite": "Overwrite with the file's value", "fill": "Fill only if empty",
                "keep": "Keep the stored value"}


def field_rules(draft: importing.Draft, mapping: dict) -> dict[str, str]:
    """What the import may do to each mapped field of a stored contact (overwrite by default)."""
    ruled = [f for f in importing.RULED_FIELDS if mapping.get(f)]
    rules = {}
    with st.expander("Contacts stored already: what may this import change?"):  # a steady label keeps it open
        st.caption("A new contact takes every value of its row; an empty cell never erases a stored value.")
        for field_name, column in zip(ruled, st.columns(3) * 2):
            rules[field_name] = column.selectbox(field_label(field_name), list(RULE_CHOICES), format_func=RULE_CHOICES.get,
                                                 index=list(RULE_CHOICES).index(draft.rules.get(field_name, "overwrite")),
                                                 key=f"rule_{draft.import_id}_{field_name}")
    rules_caption({f: r for f, r in rules.items() if r != "overwrite"})
    return rules


def rules_caption(rules: dict[str, str]) -> None:
    if rules:
        st.caption("Stored contacts: " + "; ".join(f"{field_label(f)}: {RULE_CHOICES[r].lower()}" for f, r in rules.items()))


def same_named_warnings(draft: importing.Draft, mapping: dict) -> list[str]:
    """Same-named columns that disagree: each with its samples, until the user picks one."""
    problems = importing.unresolved(draft, mapping)
    for field, group in draft.ambiguous.items():
        if mapping.get(field):
            continue
        samples = "  \n".join(f"**{md(column)}**: {md(sample_values(draft, [column]))}" for column in group.columns)
        st.warning(f"{md(group.describe(field))}  \n{samples}", icon=":material/call_split:")
    return problems


def reading_summary(draft: importing.Draft) -> None:
    """What was detected, in one line, with every detection overridable."""
    source_file = draft.file
    facts = [plural(len(source_file.frame), "row"), source_file.format.upper()]
    if source_file.format == "xlsx":
        facts.append(f"sheet {md(source_file.sheet)}")
    elif source_file.format == "csv":
        facts += [f"encoding {md(source_file.encoding)}", f"delimiter {md(repr(source_file.delimiter))}",
                  f"header on row {source_file.header_row}"]
    skipped = len(source_file.skipped_preamble) + len(source_file.skipped_footer)
    if skipped:
        facts.append(f"{plural(skipped, 'line')} skipped")
    st.caption(" · ".join(facts))
    for note in source_file.notes:
        st.caption(f":material/info: {md(note)}")
    if source_file.format != "json":
        with st.expander("Not read right? Change how the file is read"):
            reading_overrides(draft)


def reading_overrides(draft: importing.Draft) -> None:
    source_file, options = draft.file, {}
    if source_file.format == "xlsx":
        options["sheet"] = st.selectbox("Sheet", source_file.sheet_names,
                                        index=source_file.sheet_names.index(source_file.sheet))
    else:
        encoding = st.selectbox("Encoding", ENCODINGS)
        delimiter = st.selectbox("Delimiter", list(DELIMITERS))
        options.update(encoding=None if encoding == DETECTED else encoding, delimiter=DELIMITERS[delimiter])
    header_row = st.number_input("Header row", min_value=1, value=source_file.header_row or 1, step=1)
    options["header_row"] = int(header_row)
    if source_file.skipped_preamble or source_file.skipped_footer:
        st.caption("Skipped lines: " + md(" | ".join([*source_file.skipped_preamble, *source_file.skipped_footer])[:500]))
    if st.button("Read the file again"):
        try:
            wizard().reread(service(), **{k: v for k, v in options.items() if v is not None})
        except ImportConsoleError as error:
            show_error(error)
            return
        st.rerun()


def mapping_row(draft: importing.Draft, field: str) -> list[str]:
    label, headers = field_label(field), draft.file.headers
    chosen = draft.mapping.get(field, [])
    # Keyed by field and file: a pick survives any rerun, and a new file (or reading) starts afresh.
    key = f"map_{field}_{id(draft.file)}"
    name, pick, sample = st.columns([2, 3, 4], vertical_alignment="center")
    name.markdown(f"**{label}**" + (" :red[required]" if field in REQUIRED_FIELDS else ""))
    if field == "full_name":
        columns = pick.multiselect(label, headers, default=[c for c in chosen if c in headers], key=key,
                                   label_visibility="collapsed",
                                   help="Pick several columns (First Name, Last Name) to join them.")
    else:
        options = [UNMAPPED, *headers]
        current = chosen[0] if chosen and chosen[0] in headers else UNMAPPED
        value = pick.selectbox(label, options, index=options.index(current), key=key,
                               label_visibility="collapsed")
        columns = [] if value == UNMAPPED else [value]
    sample.caption(md(sample_values(draft, columns)))
    why = draft.suggested_from_values.get(field)
    if why and columns == chosen:
        sample.caption(f":material/auto_awesome: {md(why[0].upper() + why[1:])}.")
    return columns


def sample_values(draft: importing.Draft, columns: list[str]) -> str:
    if not columns:
        return ""
    values = importing.samples(draft, columns)
    return " · ".join(v if len(v) <= 40 else v[:39] + "…" for v in values) or "(empty)"


# --- 4. review -----------------------------------------------------------------------------------

REVIEW_STAGES = {importing.WAITING: WAITING_TEXT, "validating": "Validating: {done:,} of {total:,} rows",
                 "preparing": "Comparing with the stored contacts…", "sorting": "Comparing with the stored contacts…",
                 "staging": "Comparing with the stored contacts: {done:,} of {total:,} rows"}


def reviewed(work) -> None:
    """work(on_progress): validating and reviewing, with its progress shown."""
    working("Validating…", work, REVIEW_STAGES)


def review_step(w: importing.Wizard) -> None:
    draft = w.draft
    report, preview = draft.report, draft.review
    st.subheader("Review before anything is written")
    stale_review_notice(w)
    fixes_applied_notice(w)
    planned = importing.planned_counts(draft)
    count_metrics(planned.labelled("rows", "valid", "invalid", "duplicates") +
                  ([("Skipped by you", planned.skipped)] if planned.skipped else []) +
                  (planned.labelled("suppressed") if planned.suppressed else []),
                  [("Will insert", preview.will_insert), ("Will update", preview.will_update),
                   ("Unchanged", preview.unchanged)] + left_out_metrics(planned))
    mode_caption(draft.mode, preview)
    rules_caption(draft.rules)
    if report.extras_overridden:
        st.caption(f"{plural(report.extras_overridden, 'row')}: a kept column replaced a key of the same name in "
                   "the Extra fields column.")
    quick_fixes(w)
    if preview.will_update:  # a re-import's point: what it changes comes first, open
        changes_section(preview)
    if report.invalid:
        errors_tab, fix_tab, rows_tab = st.tabs(["Errors", "Fix invalid rows", "All rows"])
        with errors_tab:
            errors_section(draft)
        with fix_tab:
            fix_rows(draft)
        with rows_tab:
            all_rows(draft)
    else:
        st.success("Every row is valid.", icon=":material/check_circle:")
        with st.expander("All rows"):
            all_rows(draft)
    if len(report.duplicates):
        repeats = "repeats" if len(report.duplicates) == 1 else "repeat"
        with st.expander(f"{plural(len(report.duplicates), 'row')} {repeats} an email of a later row "
                         "(the later row wins)"):
            st.dataframe(report.duplicates.head(PAGE_ROWS).copy(), hide_index=True, column_config={
                "row": st.column_config.NumberColumn("row", format="%d"), "email": field_label("email"),
                "kept_row": st.column_config.NumberColumn("imported instead: row", format="%d")})
    same_person_section(draft)
    if preview.unchanged:
        verb = "holds" if preview.unchanged == 1 else "hold"
        st.caption(f"{plural(preview.unchanged, 'existing contact')} already {verb} these values; "
                   "linked to this import, not rewritten.")
    back, forward, _ = st.columns([1, 3, 3])
    if back.button("Back"):
        go_back()
    label = f"Next: commit {plural(report.valid_count, 'contact')}"
    if report.invalid:
        label += f" (skip {plural(report.invalid, 'invalid row')})"
    confirmed = change_guard(draft, preview)
    if forward.button(label, type="primary", disabled=not report.valid_count or not confirmed):
        svc = service()  # on to the commit, or stays, to show what unvalidated fixes changed
        reviewed(lambda on_progress: w.to_commit(svc, on_progress))
        st.rerun()
    if not report.valid_count:
        st.warning("No valid row to import: fix the rows above or upload another file.")


def changes_section(preview) -> None:
    """What the commit changes on stored contacts: field by field, then the first changes."""
    with st.expander(f"{plural(preview.will_update, 'existing contact')} will be updated — what changes", expanded=True):
        st.caption(" · ".join(f"{field_label(field)}: {plural(n, 'contact')}"
                              for field, n in preview.changes_by_field.items()))
        if preview.total_changes > len(preview.changes):
            st.caption(f"The first {len(preview.changes):,} of {preview.total_changes:,} changes, in row order:")
        st.dataframe(blank(preview.changes.assign(field=preview.changes["field"].map(field_label))), hide_index=True)


def quick_fixes(w: importing.Wizard) -> None:
    """The safe one-click fixes the rows can take: each kind with its count and examples, made
    when ticked, undone when unticked (until the commit)."""
    draft = w.draft
    offers = draft.report.fixes
    if not offers:
        return
    with st.container(border=True):
        st.markdown("#### Fixes we can make for you")
        st.caption("Each only takes away what surrounds a value or writes it the usual way; nothing is "
                   "fixed until you tick it, and you can untick it until you commit.")
        chosen = set()
        for offer in offers:
            label = f"{md(offer.label)}: {plural(offer.rows, 'row')}"
            if offer.applied:
                label += f" (fixed {offer.applied:,})"
            if st.checkbox(label, value=offer.kind in draft.fixes, key=f"fix_{offer.kind}_{draft.import_id}"):
                chosen.add(offer.kind)
            st.caption(" · ".join(f"row {e['row']}: {md(e['before'])} → {md(e['after'])}" for e in offer.examples))
    if chosen != set(draft.fixes):
        svc = service()
        reviewed(lambda on_progress: w.choose_fixes(svc, chosen, on_progress))
        st.rerun()


def fixes_applied_notice(w: importing.Wizard) -> None:
    """After "Next: commit" found fixes in the grid not validated yet, and validated them."""
    applied = w.fixes_applied  # shown until the wizard moves
    if applied:
        st.info(f"Your changes to {plural(applied, 'row')} in \"Fix invalid rows\" were validated before going "
                "on. Check the counts below, then commit.", icon=":material/fact_check:")


def count_metrics(*rows: list[tuple[str, int]]) -> None:
    """Counts in rows of four (the file's, then the database's): seven side by side cut 1,000,000
    to "1,000…"."""
    for counts in rows:
        for start in range(0, len(counts), 4):
            for column, (label, value) in zip(st.columns(4), counts[start:start + 4]):
                column.metric(label, f"{value:,}")


def stale_review_notice(w: importing.Wizard) -> None:
    """After "Commit now" found that other imports changed the stored contacts since the review."""
    seen = w.draft.outdated_review
    if not w.stale_review or seen is None:
        return
    now = w.draft.review
    st.warning(f"Other imports changed the stored contacts since your review, so nothing was written. "
               f"Your review said: insert {seen.will_insert:,}, update {seen.will_update:,}, "
               f"unchanged {seen.unchanged:,}; it now says: insert {now.will_insert:,}, "
               f"update {now.will_update:,}, unchanged {now.unchanged:,}. Check the review below, "
               "then commit again.", icon=":material/update:")


def same_person_section(draft: importing.Draft) -> None:
    """Rows whose LinkedIn profile another contact holds under another email: shown, skippable."""
    same = importing.possible_duplicates(draft)
    if not same.empty:
        with st.expander(f"{plural(len(same), 'row')} may be the same person as another contact "
                         "(the same LinkedIn profile under another email)", expanded=True):
            st.dataframe(blank(same.head(PAGE_ROWS)), hide_index=True, column_config=GRID_COLUMNS)
            st.caption("Nothing is merged. Import them as separate contacts, or skip them.")
            if st.button(f"Skip {plural(len(same), 'row')}", key="skip_same_person"):
                wizard().skip(service(), same["row"].tolist())
                st.rerun()
    if draft.skipped:
        st.caption(f"{plural(len(draft.skipped), 'row')} skipped as possibly the same person as another contact.")
        if st.button("Import the skipped rows after all", key="keep_same_person"):
            wizard().keep_skipped(service())
            st.rerun()


def errors_section(draft: importing.Draft) -> None:
    report = draft.report
    st.markdown(f"#### {plural(report.invalid, 'invalid row')}")
    chosen = invalid_rows_chart(report.errors, key=f"errors_chart_{id(report)}")
    start, stop = page_picker(len(chosen), "errors_page")
    errors = chosen.iloc[start:stop]
    st.dataframe(blank(errors.assign(column=errors["column"].map(field_label))), hide_index=True,
                 column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    for hint in importing.hints(draft):
        st.info(md(hint), icon=":material/lightbulb:")
    st.download_button("Download the rows to fix (CSV)", lambda: importing.to_export_csv(importing.error_file(draft)),
                       file_name=importing.error_file_name(draft.file_name), mime="text/csv", on_click="ignore",
                       help="The invalid rows as your file has them, with an errors column: fix them in "
                            "a spreadsheet and upload the file as a new import.")


def all_rows(draft: importing.Draft) -> None:
    only_errors = st.toggle("Only rows with errors", value=False)
    _, total = importing.row_fates(draft, count=0, only_invalid=only_errors)
    start, _ = page_picker(total, "rows_page")
    rows, _ = importing.row_fates(draft, start, PAGE_ROWS, only_invalid=only_errors)
    st.dataframe(blank(rows), hide_index=True, column_config=GRID_COLUMNS)


def fix_rows(draft: importing.Draft) -> None:
    rows = importing.rows_to_fix(draft).head(PAGE_ROWS).copy()
    st.caption("Fix the values in place, then re-validate. Rows you leave invalid are skipped.")
    # keyed by the report: once validated, the grid starts afresh from the rows still invalid
    key = f"fix_editor_{id(draft.report)}"
    st.data_editor(rows, hide_index=True, disabled=[ROW, importing.PROBLEMS], key=key,
                   column_config=FIX_COLUMNS, on_change=hold_grid_edits, args=(rows, key))
    waiting = 0 if draft.pending is None else len(draft.pending)  # held by hold_grid_edits
    if waiting:
        st.warning(f"{plural(waiting, 'row')} changed and not validated yet. Your changes are kept with the "
                   "draft; they are validated before it goes on.", icon=":material/edit_note:")
    if st.button("Re-validate with my fixes"):
        svc, w = service(), wizard()
        reviewed(lambda on_progress: w.revalidate(svc, on_progress))  # it folds in the fixes the grid holds
        st.rerun()


def hold_grid_edits(rows: pd.DataFrame, key: str) -> None:
    """The grid's edits kept with the draft, on the server too, the moment they are made: before
    the rerun they start, so a rerun cut short by the next click cannot lose them."""
    edited = rows.copy()
    for position, values in st.session_state[key].get("edited_rows", {}).items():
        for column, value in values.items():
            edited.iat[int(position), edited.columns.get_loc(column)] = "" if value is None else value
    wizard().hold_edits(service(), edited)


# --- 5. commit -----------------------------------------------------------------------------------

def commit_step(w: importing.Wizard) -> None:
    state = w.commit_state(service())
    if state.kind == "done":
        st.rerun()
    if state.kind == "committed":  # from another tab, link, server or retry
        already_committed(w.draft.import_id, w.draft.file_name)
        return
    here, elsewhere = state.kind == "running", state.kind == "elsewhere"
    report = w.draft.report
    st.subheader("Commit")
    if report is not None:
        st.write(f"**{report.valid_count:,}** contacts will be written in one transaction; "
                 f"{report.invalid:,} invalid and {len(report.duplicates):,} duplicate rows are kept in the "
                 "import's error report. If anything fails, nothing is written.")
    if state.error:
        st.error(md(state.error), icon=":material/error:")
    back, forward, _ = st.columns([1, 2, 4])
    if back.button("Back", disabled=here or elsewhere):
        go_back()
    if forward.button("Commit now", type="primary", disabled=here or elsewhere):
        with st.spinner("Checking that the review still holds…"):
            w.commit(service())  # started, taken by another tab, or back to an outdated review
        st.rerun()
    if here:
        st.caption("The commit runs on the server: you may close this tab, and follow it in Import history.")
        commit_progress(state.job)
    elif elsewhere:
        st.info("This draft is being committed from another tab or console server; it is committed once. "
                "Follow it here or in Import history.", icon=":material/sync:")
        stored_commit_progress(w.draft.import_id)


def already_committed(import_id: str, file_name: str) -> None:
    """A draft committed already, from this or another tab, link or server: said, never redone."""
    st.success(f"The import of {md(file_name)} was committed already (from another tab or link). "
               "Nothing was written twice.", icon=":material/task_alt:")
    history_link(import_id)
    if st.button("Start another import", key="start_after_committed"):
        restart(keep=("source", "campaign", "mode"))


@st.fragment(run_every=0.5)
def commit_progress(job: importing.CommitJob) -> None:
    """The running commit's progress, redrawn every half second; the whole page when it ends."""
    if not job.running:
        st.rerun(scope="app")
    text = importing.COMMIT_STAGES.get(job.stage, "Starting…").format(done=job.done, total=job.total)
    st.progress(min(job.done / job.total, 1.0) if job.total else 0.0, text=text)


# --- 6. done -------------------------------------------------------------------------------------

def done_step(w: importing.Wizard) -> None:
    draft = w.draft
    result = draft.result
    if w.token:  # committed: the import is in History now; the draft's link says so
        w.token = None
        show_wizard(w)
    st.success(f"The import of {md(draft.file_name)} completed.", icon=":material/task_alt:")
    counts = result.counts
    count_metrics(counts.labelled("rows", "invalid", "duplicates") +
                  ([("Skipped by you", counts.skipped)] if counts.skipped else []),
                  counts.labelled("inserted", "updated", "unchanged", "total_rows") + left_out_metrics(counts))
    history_link(result.import_id)
    if result.invalid:
        st.download_button(f"Download the {plural(result.invalid, 'row')} to fix (CSV)", on_click="ignore",
                           data=lambda: service().import_error_csv(result.import_id)[1], mime="text/csv",
                           file_name=importing.error_file_name(draft.file_name),
                           help="The rows left out, as your file had them, with an errors column: fix them and "
                                "upload the file as a new import (it is recorded as a follow-up of this one).")
    for warning in draft.warnings:
        st.warning(md(warning), icon=":material/warning:")
    if draft.attached:
        st.info(f"Attached to campaign **{md(draft.attached)}**.", icon=":material/campaign:")
    else:
        campaigns = service().list_campaigns()["name"].tolist()
        campaign = pick_or_type("Attach to a campaign", campaigns, NEW_CAMPAIGN, None,
                                placeholder="e.g. Q4 Outreach", none_option=NO_CAMPAIGN, typed_label="New campaign")
        if st.button("Attach"):  # never disabled: see details_step
            if campaign:
                w.attach(service(), campaign)
                st.rerun()
            st.warning("Pick a campaign, or type the name of a new one.", icon=":material/campaign:")
    if st.button("Start another import", type="primary",
                 help="From the same source, campaign and mode; change them on the first step."):
        restart(keep=("source", "campaign", "mode"), step="upload")


STEP_VIEWS = {"details": details_step, "upload": upload_step, "map": map_step, "review": review_step,
              "commit": commit_step, "done": done_step}


def unfinished_drafts(who: Actor) -> None:
    """The drafts kept on the server, to pick up again: one's own, or everyone's for an admin."""
    kept = service().list_drafts(who)
    if kept.empty:
        return
    everyone = can(who, "see all drafts")
    with st.expander(f"Unfinished imports ({len(kept):,})" + (" — everyone's" if everyone else ""),
                     expanded=DISCARDING in st.session_state):
        columns = ["file_name", *(["created_by"] if everyone else []), "rows", "created_at", "updated_at", "step"]
        picked = st.dataframe(blank(kept[columns]), hide_index=True, on_select="rerun", selection_mode="single-row",
                              key="unfinished_drafts", column_config={
                                  "file_name": "file", "created_by": "by", "rows": st.column_config.NumberColumn("rows"),
                                  "created_at": time_column("started"), "updated_at": time_column("last change")})
        if not picked.selection.rows:
            st.caption("Select a draft to open or discard it.")
            return
        chosen = kept.iloc[picked.selection.rows[0]]
        open_it, discard, _ = st.columns([1, 1, 3])
        if open_it.button("Open this draft"):
            st.query_params[DRAFT_PARAM] = chosen.token
            st.rerun()
        if discard.button("Discard this draft"):
            st.session_state[DISCARDING] = chosen.token
        if st.session_state.get(DISCARDING) == chosen.token:
            discard_confirmation(chosen, who)


def discard_confirmation(chosen, who: Actor) -> None:
    """The second click of a discard: what goes, named."""
    rows = f" ({plural(int(chosen.rows), 'row')})" if pd.notna(chosen.rows) else ""
    st.warning(f"Discard the draft of {md(chosen.file_name)}{rows}? Its file and "
               "your choices are deleted; this cannot be undone.", icon=":material/delete:")
    yes, no, _ = st.columns([1, 1, 3])
    if yes.button("Yes, discard it", type="primary"):
        service().discard_draft(chosen.token, who)
        del st.session_state[DISCARDING]
        st.rerun()
    if no.button("Keep it"):
        del st.session_state[DISCARDING]
        st.rerun()


def resume(w: importing.Wizard, token: str, who: Actor) -> importing.Wizard:
    """The wizard of the draft the URL names (a refresh, another tab, a link, or rows let go while
    the page was away), read again from the file kept in the database; a fresh wizard if it is
    gone (or another user's, for anyone but an admin)."""
    try:
        svc = service()
        resumed = working("Opening your import draft: reading its file again…",
                          lambda _: w.resumed(svc, token, who))
    except ImportConsoleError as error:  # unreadable now, or another user's draft
        show_error(error)
        resumed = importing.Wizard()
    if resumed.gone:
        st.info("This import draft is no longer kept (drafts are kept a day after their last change, "
                "and until they are committed). Start the import again.", icon=":material/history:")
    return show_wizard(resumed)


def main() -> None:
    who = signed_in()
    st.title("New import")
    w = wizard()
    token = w.to_load(st.query_params.get(DRAFT_PARAM))
    opening = st.container()  # on every run, so that what follows keeps its place (and its open tab)
    if token is not None:
        with opening:
            w = resume(w, token, who)
    elif w.token and DRAFT_PARAM not in st.query_params:
        show_wizard(w)  # arrived from History's retry: the URL names the draft
    w.opened_by(who)
    progress_header(w.step)
    try:
        STEP_VIEWS[w.step](w)
        save_wizard()
    except Exception as error:
        show_error(error)


main()
