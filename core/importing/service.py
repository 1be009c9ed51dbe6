"""The import service: the only way to import. Every entry point (the console's pages, the CLI,
history's retry, the HTTP API, the benchmark) calls these verbs and renders what they return.

    open_file -> (reread) -> confirm_mapping -> validate -> (apply_fixes) -> review -> commit -> attach
    open_retry: the same flow for a failed import, with its file uploaded again
    import_file / dry_run: the whole flow at once, for scripts
    undo: revert a completed import

A Draft carries the state between the steps: the upload (held once, in a temporary file), what
was read, the mapping, the user's fixes, the validation report, the review and the result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable
from uuid import uuid4

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from core.rows import counts
from core.storage import audit_log
from core.access import Actor, check, check_owner, local_actor
from core.storage.campaigns import Campaign, attach_to_campaign, open_campaign
from core.storage.campaigns import attach_imports as attach_to_campaign_all
from core.storage.commit import ImportResult, Written, commit_import, complete_import
from core.storage.idempotency import Claim, settle
from core.rows.counts import Counts
from core.rows.clean_batch import SMALL_BATCH_ROWS, CleanBatch, clean_batch
from core.rows.error_file import errors_column, export_hints, fixable_rows, restored
from core.storage.follow_ups import find_followed
from core.storage import personal_data, retention
from core.storage.personal_data import without_suppressed
from core.errors import (AlreadyCommitted, AmbiguousColumns, ImportConsoleError, ImportNotFound, LargeChange,
                         MappingIncomplete, RowsInvalid, StatusChangeRefused)
from core.fields import FIELDS, ROW
from core.storage.history import contacts_by_email_in, get_import
from core.rows.mapping import (Mapping, SameNamedColumns, ambiguous_fields, apply_mapping, check_extras, extra_key,
                               json_object_of, keep_extras, missing_required, same_named_columns, suggest_from_values,
                               suggest_mapping)
from core.files.memory import release_memory
from core.files.spool import spool_file
from core.importing.admission import LARGE_FILES
from core.storage.review import Review, review_commit
from core.rows import same_person
from core.progress import Progress, ignore_progress
from core.files.reading import WHOLE_ROW, SourceFile, plain_json_objects, preview, read_contacts
from core.storage.guard import ChangeGuard
from core.storage.records import (MODES, check_change, check_mode, check_rules, contacts_mark, create_import,
                                  import_uuid, mark_failed)
from core.rows.fixes import PROBLEMS as PROBLEMS  # the fix grid's problems column, for the pages
from core.rows.quick_fixes import check_kinds
from core.rows.fixes import apply_edits, changed_rows, invalid_rows, row_statuses, rows_of
from core.storage.saved_mappings import recall_rules, remember_mapping, suggest_mapping_for
from core.storage.undo import UndoResult, undo_import
from core.rows.validation import ValidationReport, validate

# A request body this large or larger is not looked at as a clean small batch.
SMALL_BATCH_BYTES = 2 << 20

# Sample values shown beside each field come from the first rows that have one.
SAMPLE_ROWS = 200


class Upload:
    """The uploaded bytes, held once: in a temporary file that is deleted when the upload is closed
    or garbage-collected (a browser session's state goes when the session ends), or the caller's
    own file, which is only read."""

    def __init__(self, data: bytes | None = None, path: Path | None = None):
        self._spool = None
        if path is None:
            self._spool = spool_file()
            self._spool.write(data or b"")
            self._spool.flush()
            path = Path(self._spool.name)
        self.path = path

    def append(self, data: bytes) -> None:
        """More bytes at the end of a temporary upload (a draft's file streamed from the database)."""
        self._spool.write(data)
        self._spool.flush()

    @property
    def size(self) -> int:
        """Bytes held; 0 once the temporary file is gone (admission then lets its work through)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as error:
            raise ImportConsoleError(f"{self.path.name}: cannot be read ({error.strerror}).") from None

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


@dataclass
class Draft:
    """One import on its way, from the file to the commit."""

    file: SourceFile
    upload: Upload
    mapping: Mapping
    remembered: bool = False                 # the mapping is the one confirmed last time
    # fields the suggestion left unmapped because same-named columns that disagree could feed
    # them: the user must pick one (issue 9, point 14)
    ambiguous: dict[str, SameNamedColumns] = field(default_factory=dict)
    # fields suggested from what a column's values look like, with why (issue 9, point 15)
    suggested_from_values: dict[str, str] = field(default_factory=dict)
    # rows the user chose not to import: row -> why (issue 9, point 16)
    skipped: dict[int, str] = field(default_factory=dict)
    # samples shown beside each field, by (file, columns): the mapping page asks on every rerun
    sample_cache: dict = field(default_factory=dict, repr=False)
    # possible_duplicates for (report, review): the page asks on every rerun, 0.7 s at 1M rows
    same_person_cache: tuple | None = field(default=None, repr=False)
    read_options: dict = field(default_factory=dict)
    source: str | None = None                # where the contacts come from (the import's source)
    mode: str = "upsert"                     # what the import may do (core.storage.records.MODES)
    rules: dict[str, str] = field(default_factory=dict)  # field -> what it may do to a stored value (RULES)
    extras: dict[str, str] = field(default_factory=dict)  # columns kept in metadata: column -> key
    fixes: frozenset[str] = frozenset()      # the kinds of one-click fixes accepted (core.rows.quick_fixes)
    follows: str | None = None               # the import whose error file this is (find_followed)
    confirmed_changes: int | None = None     # the large change the user confirmed (core.storage.guard)
    campaign: str | None = None              # attached after the commit, when given
    created_by: str | None = None
    actor: Actor | None = None               # who works on it now; None: the local user
    # the import it becomes: one id from the upload on, so every tab, link or retry that commits
    # this draft commits this one import (issue 19); the failed import's id for a retry
    import_id: str = field(default_factory=lambda: str(uuid4()))
    retry: bool = False                      # a failed import's file uploaded again (open_retry)
    edits: pd.DataFrame | None = None        # rows fixed by hand: ROW and every field
    # rows fixed in the grid but not validated yet: they belong to the draft at once (kept with
    # it, shown in the grid) and are validated before the draft moves on (issue 19, point 2)
    pending: pd.DataFrame | None = None
    pending_mapping: Mapping | None = None   # the mapping they were made under
    edits_mapping: Mapping | None = None     # the mapping the fixes were made under
    report: ValidationReport | None = None
    review: Review | None = None
    result: ImportResult | None = None
    attached: str | None = None              # the campaign it was attached to
    warnings: list[str] = field(default_factory=list)  # after a commit: what went wrong but not it
    released: bool = False                   # its rows were let go (see release)
    committing: bool = False                 # a background commit holds it (core.importing.jobs)
    # what the stored contacts were when the review was made (contacts_mark), to tell at commit
    # time whether another import changed them since (issue 10, point 7)
    review_mark: tuple | None = None
    # the review the user saw, when review_is_current found that the stored contacts changed it
    outdated_review: Review | None = None

    @property
    def file_name(self) -> str:
        return self.file.file_name

    @property
    def is_retry(self) -> bool:
        return self.retry and self.result is None

    def close(self) -> None:
        """Delete the upload's temporary file (the rows read stay)."""
        self.upload.close()

    def release(self) -> None:
        """Let go of everything large, and give the memory back: the upload and the rows (the
        draft cannot go on after this; its result and import id stay). A draft a background commit
        holds is released by that commit when it ends."""
        if self.committing:
            return
        self.close()
        # Empty frames of the same columns: a zero-row slice would keep the buffers alive.
        self.file.frame = pd.DataFrame(columns=self.file.frame.columns)
        self.file.row_errors = pd.DataFrame(columns=self.file.row_errors.columns)
        self.file.not_text = {}
        self.edits = self.edits_mapping = self.pending = self.report = self.review = None
        self.same_person_cache = None
        self.released = True
        release_memory(trim_heap=True)


# --- open, map ---------------------------------------------------------------------------------

def open_file(engine: Engine | None, data: bytes | Path | Upload, file_name: str | None = None, *,
              source: str | None = None, campaign: str | None = None, created_by: str | None = None,
              actor: Actor | None = None, import_id: str | None = None, on_progress: Progress | None = None,
              mode: str = "upsert", rules: dict[str, str] | None = None, fixes=(), **read_options) -> Draft:
    """Read bytes (an upload) or a path into a draft with a suggested mapping: the one confirmed
    last time for these headers when engine is given, else from the headers alone. read_options
    override detection (encoding, delimiter, header_row, sheet, max_bytes, max_rows). actor: who
    works on the draft, checked and recorded when it is committed; scripts on this machine (the
    CLI, tests, the benchmark) leave it out and act as the local user (core.access.local_actor).
    import_id: the id a kept draft was given (core.importing.drafts); a new one otherwise. A large
    file waits for a slot (core.importing.admission), saying so through on_progress, which then hears
    ("reading", 0, bytes) and ("suggesting", rows, rows) for the mapping. mode: what the
    import may do to contacts (core.storage.records.MODES); rules: what it may do to each field of a
    stored contact (RULES); fixes: the kinds of one-click fixes to make (choose_fixes)."""
    check_mode(mode)
    chosen_rules = None if rules is None else check_rules(rules)
    chosen_fixes = check_kinds(fixes)
    actor = actor or local_actor()
    created_by = created_by or actor.name
    if isinstance(data, Upload):
        upload = data
    else:
        upload = Upload(path=data) if isinstance(data, Path) else Upload(data=data)
    name = file_name or (data.name if isinstance(data, Path) else "upload")
    on_progress = on_progress or ignore_progress
    try:
        content = data if isinstance(data, bytes) else upload.read()  # the bytes in hand: no 2nd copy
        with LARGE_FILES.admit(len(content), on_progress):
            on_progress("reading", 0, len(content))
            source_file = restored(read_contacts(content, name, **read_options))
        on_progress("suggesting", len(source_file.frame), len(source_file.frame))
        draft = Draft(file=source_file, upload=upload, mapping={},
                      read_options=read_options, source=source, campaign=campaign, created_by=created_by,
                      actor=actor, mode=mode, fixes=chosen_fixes)
        if import_id is not None:
            draft.import_id = str(import_uuid(import_id))
    except BaseException:
        upload.close()
        raise
    _suggest(engine, draft)
    if chosen_rules is not None:
        draft.rules = chosen_rules
    if engine is not None:
        draft.follows = find_followed(engine, draft.file)
    return draft


def open_retry(engine: Engine, import_id: str, data: bytes | Path, file_name: str | None = None,
               actor: Actor | None = None, **read_options) -> Draft:
    """A failed import's file uploaded again: the same review as a first attempt, then a commit
    into the same import record."""
    record = get_import(engine, import_id)
    check_change(import_id, record["status"], "completed")
    draft = open_file(engine, data, file_name, actor=actor, source=record["source"], import_id=import_id,
                      mode=record["mode"], rules=record["rules"], **read_options)
    draft.retry = True
    return draft


def reread(engine: Engine | None, draft: Draft, **read_options) -> Draft:
    """Read the same upload again with other options; the mapping is suggested anew."""
    with LARGE_FILES.admit(draft.upload.size):
        draft.file = restored(read_contacts(draft.upload.read(), draft.file_name, **read_options))
    draft.read_options = read_options
    draft.edits = draft.edits_mapping = draft.report = draft.review = None
    rules = draft.rules  # the user's, whatever the new reading suggests
    _suggest(engine, draft)
    draft.rules = rules
    return draft


def _suggest(engine: Engine | None, draft: Draft) -> None:
    """The mapping (and the field rules) to offer for the draft's headers."""
    if engine is None:
        draft.mapping, draft.remembered = suggest_mapping(draft.file.headers), False
    else:
        draft.mapping, draft.remembered = suggest_mapping_for(engine, draft.file.headers)
        draft.rules, draft.extras = recall_rules(engine, draft.file.headers) if draft.remembered else ({}, {})
    draft.ambiguous, draft.suggested_from_values = {}, {}
    if not draft.remembered:  # a remembered mapping is a choice the user made for these headers
        for field_name, (column, why) in suggest_from_values(draft.file.frame, draft.mapping).items():
            draft.mapping[field_name] = [column]
            draft.suggested_from_values[field_name] = why
        groups = same_named_columns(draft.file.frame, draft.file.renamed_headers)
        draft.ambiguous = ambiguous_fields(draft.mapping, groups)
        for field_name in draft.ambiguous:
            del draft.mapping[field_name]


def unresolved(draft: Draft, mapping: Mapping | None = None) -> list[str]:
    """What the user must still choose: one message per field that same-named columns which
    disagree could feed, while the mapping maps no column to it."""
    mapping = draft.mapping if mapping is None else mapping
    return [group.describe(name) for name, group in draft.ambiguous.items() if not mapping.get(name)]


def choose_columns(draft: Draft, choices: Mapping) -> None:
    """Map these fields to these columns (a script's explicit mapping), over the suggestion."""
    unknown = [c for columns in choices.values() for c in columns if c not in draft.file.headers]
    if unknown:
        raise ImportConsoleError(f"{draft.file_name}: no column is named {', '.join(map(repr, unknown))}; "
                                 f"its columns are {', '.join(map(repr, draft.file.headers))}.")
    draft.mapping = {**draft.mapping, **{f: list(c) for f, c in choices.items()}}
    draft.report = draft.review = None


def _check_resolved(draft: Draft, mapping: Mapping) -> None:
    problems = unresolved(draft, mapping)
    if problems:
        name, group = next((n, g) for n, g in draft.ambiguous.items() if not mapping.get(n))
        raise AmbiguousColumns(draft.file_name, problems, f"{name}={group.columns[-1]}")


def confirm_mapping(engine: Engine | None, draft: Draft, mapping: Mapping, rules: dict[str, str] | None = None,
                    extras: dict[str, str] | None = None) -> None:
    """The user's mapping, and field rules and kept columns when given, remembered for the next
    file with these headers (when engine is given)."""
    _check_resolved(draft, mapping)
    mapping = {f: list(columns) for f, columns in mapping.items() if columns}
    if extras is not None:
        check_extras(draft.file.headers, mapping, extras)
        draft.extras = dict(extras)
    if rules is not None:
        draft.rules = check_rules(rules)
    draft.mapping = mapping
    mapped = {column for columns in mapping.values() for column in columns}
    draft.extras = {column: key for column, key in draft.extras.items() if column not in mapped}
    draft.report = draft.review = None
    if engine is not None:
        remember_mapping(engine, draft.file.headers, draft.mapping, draft.created_by, draft.rules, draft.extras)


def keep_columns(draft: Draft, extras: dict[str, str]) -> None:
    """Keep these columns (column -> key) in each contact's metadata (a script's --extra)."""
    check_extras(draft.file.headers, draft.mapping, extras)
    draft.extras = dict(extras)
    draft.report = draft.review = None


def metadata_column_problem(draft: Draft, mapping: Mapping, looked_at: int = 200) -> str | None:
    """Why the column mapped to metadata looks like no JSON object column (its first non-empty
    cells), or None: a column of plain values (a job title) belongs among the kept columns."""
    columns = mapping.get("metadata") or []
    if len(columns) != 1:
        return None
    cells = draft.file.frame[columns[0]].astype(str)
    cells = cells[cells.str.strip() != ""].head(looked_at)
    plain = [cell for cell in cells if json_object_of(cell) is None]
    if not plain:
        return None
    return (f"Column {columns[0]!r} is mapped to Extra fields, but {len(plain)} of its first {len(cells)} values "
            f"are not JSON objects (for example {plain[0][:60]!r}). Keep it as an extra field instead: its "
            f"values then go into each contact's metadata under {extra_key(columns[0])!r}.")


def missing_fields(mapping: Mapping) -> list[str]:
    """The required fields that no column is mapped to."""
    return missing_required(mapping)


def samples(draft: Draft, columns: list[str], count: int = 3) -> list[str]:
    """Up to count non-empty values of these columns joined, from the first SAMPLE_ROWS rows (the
    first filled rows further down when those are empty), so a rerun never joins every row; kept
    per file and columns, since the mapping page asks for every field on every rerun."""
    if not columns:
        return []
    key = (id(draft.file), tuple(columns), count)
    if key not in draft.sample_cache:
        draft.sample_cache = {k: v for k, v in draft.sample_cache.items() if k[0] == key[0]}
        draft.sample_cache[key] = _samples(draft.file.frame[columns], count)
    return draft.sample_cache[key]


def _samples(frame: pd.DataFrame, count: int) -> list[str]:
    found = _joined_values(frame.head(SAMPLE_ROWS), count)
    if len(found) < count and len(frame) > SAMPLE_ROWS:
        rest = frame.iloc[SAMPLE_ROWS:]
        filled = np.zeros(len(rest), dtype=bool)
        for column in rest.columns:
            filled |= (rest[column].astype(str).str.strip() != "").to_numpy(dtype=bool)
        found += _joined_values(rest[filled].head(count), count - len(found))
    return found


def _joined_values(frame: pd.DataFrame, count: int) -> list[str]:
    if frame.empty:
        return []
    text = [frame[column].astype(str) for column in frame.columns]
    joined = (text[0].str.cat(text[1:], sep=" ") if len(text) > 1 else text[0]).str.strip()
    return joined[joined != ""].head(count).tolist()


# --- validate, fix -----------------------------------------------------------------------------

def validate_draft(draft: Draft, on_progress: Progress | None = None) -> ValidationReport:
    """Map and validate the rows, with the user's fixes. A row with a reading problem in a mapped
    column (or a ragged row) is left out and reported, unless the user fixed it by hand: a fixed
    row is judged on its new values only. Fixes made under another mapping are dropped: they hold
    every field of their rows, as that mapping read them."""
    _check_resolved(draft, draft.mapping)
    _fold_pending(draft)
    if draft.edits is not None and draft.edits_mapping != draft.mapping:
        draft.edits = draft.edits_mapping = None
    try:
        mapped = apply_mapping(draft.file.frame, draft.mapping)
    except MappingIncomplete as incomplete:  # say which file, as every file-level message does
        raise MappingIncomplete(incomplete.missing, draft.file_name) from None
    overridden = keep_extras(mapped, draft.file.frame, draft.extras)
    problems = reading_problems(draft.file, draft.mapping)
    if draft.skipped:
        problems = pd.concat([problems, _skipped_rows(draft)], ignore_index=True)
    if draft.edits is not None:
        mapped = apply_edits(mapped, draft.edits)
        problems = problems[~problems["row"].isin(draft.edits[ROW])]
    with LARGE_FILES.admit(draft.upload.size, on_progress):
        draft.report = validate(mapped, on_progress, problems=problems.reset_index(drop=True), fixes=draft.fixes)
    draft.report.extras_overridden = overridden
    draft.review = None
    return draft.report


def choose_fixes(draft: Draft, kinds, on_progress: Progress | None = None) -> ValidationReport:
    """Make these kinds of one-click fixes (core.rows.quick_fixes.KINDS, or "all"), and no other:
    a kind left out is undone. Validates again (a review made before is dropped: review again)."""
    draft.fixes = check_kinds(kinds)
    return validate_draft(draft, on_progress)


def current_report(draft: Draft, on_progress: Progress | None = None) -> ValidationReport:
    """The draft's validation, made again when it has none or when fixes wait (hold_edits): what
    moves a draft on never goes without the user's edits."""
    if draft.report is None or draft.pending is not None:
        return validate_draft(draft, on_progress)
    return draft.report


def _skipped_rows(draft: Draft) -> pd.DataFrame:
    return pd.DataFrame([(row, WHOLE_ROW, why, "") for row, why in draft.skipped.items()],
                        columns=["row", "column", "reason", "value"]).astype({"row": int})


def possible_duplicates(draft: Draft) -> pd.DataFrame:
    """The valid rows that may be the same person as another contact under another email (the
    same LinkedIn profile): an earlier row of the file, or, once reviewed, a stored contact.
    Columns: row, email, linkedin_profile, same_as_email, same_as."""
    report = draft.report or validate_draft(draft)
    cached = draft.same_person_cache
    if cached is not None and cached[0] is report and cached[1] is draft.review:
        return cached[2]
    rows = report.normalized[[ROW, "email", "linkedin_profile"]].take(report.kept)
    stored = draft.review.same_person_stored if draft.review is not None else None
    found = same_person.combine(same_person.within_file(rows), stored)
    draft.same_person_cache = (report, draft.review, found)
    return found


def skip_rows(draft: Draft, rows: list[int]) -> ValidationReport:
    """Leave these rows of possible_duplicates out of the import, each with why; validates again
    (a review made before is dropped: review again)."""
    flagged = possible_duplicates(draft).set_index("row")
    for row in rows:
        other = flagged.loc[row]
        draft.skipped[int(row)] = (f"skipped: may be the same person as {other['same_as_email']} "
                                   f"({other['same_as']}, the same LinkedIn profile)")
    return validate_draft(draft)


def keep_skipped_rows(draft: Draft) -> ValidationReport:
    """Import the rows skipped with skip_rows after all."""
    draft.skipped.clear()
    return validate_draft(draft)


def hold_edits(draft: Draft, edited: pd.DataFrame) -> int:
    """Keep the rows the user changed in the grid (edited: ROW and the fields, as rows_to_fix gave
    them) with the draft at once, without validating them yet: the next validation folds them in,
    and a draft kept on the server keeps them. Returns how many rows wait to be validated."""
    report = draft.report or validate_draft(draft)
    edited = edited[[ROW, *FIELDS]].fillna("").astype({f: str for f in FIELDS})
    shown = edited[ROW].tolist()  # a row edited back to what it was waits no more
    edited = edited[edited[ROW].isin(changed_rows(rows_of(report, edited[ROW]), edited))]
    earlier = draft.pending if draft.pending is not None else edited.iloc[0:0]
    merged = pd.concat([earlier[~earlier[ROW].isin(shown)], edited], ignore_index=True)
    draft.pending = merged.sort_values(ROW, kind="stable").reset_index(drop=True) if len(merged) else None
    draft.pending_mapping = {f: list(columns) for f, columns in draft.mapping.items()}
    return 0 if draft.pending is None else len(draft.pending)


def _fold_pending(draft: Draft) -> None:
    """The grid's edits that wait (hold_edits) join the draft's fixes, under the current mapping."""
    if draft.pending is None:
        return
    if draft.pending_mapping != draft.mapping:  # made under another mapping: they no longer fit
        draft.pending = draft.pending_mapping = None
        return
    if draft.edits is not None and draft.edits_mapping == draft.mapping:
        earlier = draft.edits[~draft.edits[ROW].isin(draft.pending[ROW])]
    else:
        earlier = draft.pending.iloc[0:0]
    draft.edits = pd.concat([earlier, draft.pending], ignore_index=True).sort_values(
        ROW, kind="stable").reset_index(drop=True)
    draft.edits_mapping = {f: list(columns) for f, columns in draft.mapping.items()}
    draft.pending = draft.pending_mapping = None


def apply_fixes(draft: Draft, edited: pd.DataFrame, on_progress: Progress | None = None) -> ValidationReport:
    """Fold the rows the user changed (edited: ROW and the fields, as rows_to_fix gave them) into
    the draft and validate again. Rows shown but left as they were stay as they were read."""
    hold_edits(draft, edited)
    return validate_draft(draft, on_progress)


def rows_to_fix(draft: Draft) -> pd.DataFrame:
    """The invalid rows with their problems, as the user edits them for apply_fixes, showing the
    edits that wait to be validated (hold_edits)."""
    rows = invalid_rows(draft.report)
    if draft.pending is None or rows.empty:
        return rows
    waiting = draft.pending.set_index(ROW)
    shown = rows.set_index(ROW, drop=False)
    held = shown.index.isin(waiting.index)
    shown.loc[held, list(FIELDS)] = waiting.loc[shown.index[held], list(FIELDS)].to_numpy()
    return shown.reset_index(drop=True)


def row_fates(draft: Draft, start: int = 0, count: int = 1000,
              only_invalid: bool = False) -> tuple[pd.DataFrame, int]:
    """count rows from start, each with what the commit will do to it ("ok", "invalid: …",
    "duplicate of row N"), and how many rows there are; only_invalid: among the invalid rows."""
    report = draft.report
    if only_invalid:
        candidates = np.flatnonzero(report.normalized[ROW].isin(report.errors["row"]).to_numpy())
    else:
        candidates = np.arange(len(report.normalized))
    return row_statuses(report, candidates[start:start + count]), len(candidates)


def error_file(draft: Draft) -> pd.DataFrame:
    """The rows left out for a problem as the file held them, plus an errors column: the file a
    person fixes and uploads again (core.rows.error_file)."""
    return fixable_rows(draft.file, draft.report, draft.mapping)


def hints(draft: Draft) -> list[str]:
    """What a known export's shape explains about its errors."""
    return export_hints(draft.file, draft.report)


def error_report(draft: Draft) -> pd.DataFrame:
    """Every row left out and why (ValidationReport.error_report); error_file is those rows as
    the file held them, to fix and upload again."""
    return draft.report.error_report()


def reading_problems(file: SourceFile, mapping: Mapping) -> pd.DataFrame:
    """The reading problems that matter under this mapping (ragged rows always do), and the JSON
    values that are not text in a column mapped to a text field (a name sent as 123 or {...} is a
    mistake, not a name)."""
    used = {column for columns in mapping.values() for column in columns} | {WHOLE_ROW}
    errors = file.row_errors
    errors = errors[errors["column"].isin(used)]
    not_text = [_not_text_errors(file, column) for field, columns in mapping.items() if field != "metadata"
                for column in columns if column in file.not_text]
    if not_text:
        errors = (pd.concat([errors, *not_text], ignore_index=True).drop_duplicates(["row", "column"])
                  .sort_values(["row", "column"], kind="stable"))
    return errors.astype({"row": int}).reset_index(drop=True)


def _not_text_errors(file: SourceFile, column: str) -> pd.DataFrame:
    rows = file.not_text[column]
    cells = file.frame[column].to_numpy()[np.asarray(rows) - 1]
    return pd.DataFrame({"row": rows, "column": column,
                         "reason": "is not text in the JSON (a number, true/false, an object or a list); "
                                   "write the value in quotes",
                         "value": [preview(str(cell)) for cell in cells]})


# --- review, commit, attach, undo --------------------------------------------------------------

def review(engine: Engine, draft: Draft, on_progress: Progress | None = None) -> Review:
    """What the commit would do now (inserts, updates with their changes, unchanged); writes nothing.
    Rows whose email is suppressed leave the draft's report here, counted as suppressed."""
    report = current_report(draft, on_progress)
    with engine.connect() as conn:
        report = draft.report = without_suppressed(conn, report)
    draft.review_mark = contacts_mark(engine)  # before: a change made during the review shows too
    draft.review = review_commit(engine, report, on_progress=on_progress, mode=draft.mode, rules=draft.rules)
    draft.outdated_review = None
    return draft.review


def planned_counts(draft: Draft) -> Counts:
    """The draft's counts as the review says (core.rows.counts): the file's and what the commit would do."""
    report = draft.report or validate_draft(draft)
    return counts.planned(report, draft.review) if draft.review is not None else counts.of_report(report)


def review_is_current(engine: Engine, draft: Draft, on_progress: Progress | None = None) -> bool:
    """Whether the draft's review still says what the commit will do. When other imports (or
    undos) changed stored contacts since, the review is made again; if it now says something else,
    the draft keeps the one the user saw in outdated_review and this returns False."""
    if draft.review is None:
        review(engine, draft, on_progress)
        return False
    if draft.review_mark == contacts_mark(engine):
        return True
    seen = draft.review
    review(engine, draft, on_progress)
    if _review_counts(seen) == _review_counts(draft.review):
        return True
    draft.outdated_review = seen
    return False


def _review_counts(reviewed: Review) -> tuple:
    return (reviewed.will_insert, reviewed.will_update, reviewed.unchanged, reviewed.already_there,
            reviewed.not_found, dict(reviewed.changes_by_field),
            len(reviewed.same_person_stored) if reviewed.same_person_stored is not None else 0)


def create_record(engine: Engine, draft: Draft) -> str:
    """The draft's import record, under the draft's id, made now unless it exists (a retry, or the
    same draft committed from another tab): the console makes it when the user commits, so History
    never lists an import nobody committed (nor one somebody without a role tried to)."""
    check(engine, draft.actor, "import")
    if draft.follows is None:  # a draft opened without the database (the CLI, the API)
        draft.follows = find_followed(engine, draft.file)
    create_import(engine, draft.source, draft.file_name, draft.actor.name, import_id=draft.import_id,
                  created_via=_made_via(draft.actor), mode=draft.mode, rules=draft.rules, follows=draft.follows)
    check_owner(engine, draft.import_id, draft.actor)  # a retry of another key's API import
    return draft.import_id


def recorded_status(engine: Engine, draft: Draft) -> str | None:
    """The status of the draft's import; None while there is no such import (not committed yet)."""
    try:
        return get_import(engine, draft.import_id)["status"]
    except ImportNotFound:
        return None


def commit(engine: Engine, draft: Draft, on_progress: Progress | None = None, *,
           on_written: Written | None = None, guard: ChangeGuard | None = None) -> ImportResult:
    """Commit the draft's valid rows in one transaction into the draft's import (made now, or the
    failed import being retried), then attach it to the draft's campaign if it names one. A draft
    committed already, from any tab, link or retry, is refused (AlreadyCommitted) and nothing is
    written: the import's status allows one commit. The import is committed whatever the attach
    does: an attach that fails is a warning on the draft. guard: a large change unconfirmed is
    refused (LargeChange): nothing is written and the import is failed, so it can be retried."""
    report = current_report(draft, on_progress)
    create_record(engine, draft)
    try:
        # only a retry may come with a renamed file (the import was created with the first one)
        draft.result = commit_import(engine, draft.import_id, report, on_progress,
                                     file_name=draft.file_name if draft.retry else None,
                                     fixable=error_file(draft), actor=draft.actor, on_written=on_written, guard=guard)
    except LargeChange as refused:
        mark_failed(engine, draft.import_id, str(refused))
        raise
    except StatusChangeRefused as refused:
        if refused.current in ("completed", "reverted"):
            raise AlreadyCommitted(draft.import_id, refused.current) from None
        raise
    if draft.campaign:
        try:
            attach(engine, draft, draft.campaign)
        except ImportConsoleError as error:
            draft.warnings.append(f"The import was committed but not attached to the campaign: {error}")
    return draft.result


def attach(engine: Engine, draft: Draft, campaign_name: str) -> Campaign:
    """Attach the draft's committed import to the campaign of this name (created if new)."""
    campaign = attach_import(engine, draft.import_id, campaign_name, draft.actor)
    draft.attached = campaign.name
    return campaign


def attach_import(engine: Engine, import_id: str, campaign_name: str, actor: Actor) -> Campaign:
    """Attach an import to the campaign of this name, in any case (created if new)."""
    check(engine, actor, "attach", import_id)  # before a campaign is created for it
    campaign = open_campaign(engine, campaign_name)
    attach_to_campaign(engine, import_id, campaign.id, actor)
    return campaign


def attach_imports(engine: Engine, campaign_id: str, import_ids: list[str], actor: Actor) -> None:
    """Attach these imports to the campaign with this id, all or none (the seed's step 4)."""
    check(engine, actor, "attach")
    attach_to_campaign_all(engine, campaign_id, import_ids, actor)


def undo(engine: Engine, import_id: str, actor: Actor) -> UndoResult:
    """Revert a completed import (core.storage.undo); an admin's action."""
    check(engine, actor, "undo", import_id)
    check_owner(engine, import_id, actor)
    return undo_import(engine, import_id, actor)


def check_role(engine: Engine, actor: Actor, action: str) -> None:
    """The actor's role allows action, or AccessRefused (recorded): for doors that check once for
    all they serve (every API route needs the importer role)."""
    check(engine, actor, action)


# --- people's data ---------------------------------------------------------------------------------

def erase_person(engine: Engine, email: str, actor: Actor) -> personal_data.Erasure:
    """Erase everything held about an email and suppress it (core.storage.personal_data); an admin's."""
    check(engine, actor, "erase")
    return personal_data.erase(engine, email, actor)


def export_person(engine: Engine, email: str, actor: Actor) -> dict:
    """Everything held about an email, as JSON-ready values; an admin's."""
    check(engine, actor, "export person")
    return personal_data.person_data(engine, email)


def suppress_emails(engine: Engine, emails, actor: Actor, source: str) -> tuple[int, list[str]]:
    """Put emails on the suppression list: (how many were new, the entries that are no emails)."""
    check(engine, actor, "suppress")
    return personal_data.suppress(engine, emails, actor, source)


def suppress_file(engine: Engine, data: bytes, file_name: str, actor: Actor) -> tuple[int, list[str]]:
    """An opt-out list (a file of emails) put on the suppression list."""
    check(engine, actor, "suppress")
    emails, bad = personal_data.emails_in_file(data, file_name)
    added, refused = personal_data.suppress(engine, emails, actor, f"opt-out list {file_name}")
    return added, bad + refused


def suppression_count(engine: Engine) -> int:
    return personal_data.suppression_count(engine)


def sweep_retention(engine: Engine) -> dict[str, int]:
    """The daily retention sweep (core.storage.retention): rejected rows' values and replaced values
    past their periods. The drafts past theirs go with expire_drafts, which the same sweep runs."""
    return retention.sweep(engine).as_dict()


# --- the audit trail ------------------------------------------------------------------------------

def import_activity(engine: Engine, import_id: str) -> pd.DataFrame:
    """Who committed, attached or undid this import, or tried to: its rows of the audit trail."""
    return audit_log.trail(engine, import_id)


def read_audit(engine: Engine, actor: Actor, import_id: str | None = None,
               limit: int | None = audit_log.LIMIT) -> tuple[pd.DataFrame, int]:
    """The audit trail (the newest limit rows, oldest first; None: all) and its size; an admin's."""
    check(engine, actor, "read audit")
    return audit_log.trail(engine, import_id, limit), audit_log.size(engine)


# --- the HTTP API's flow: create, add batches, complete ------------------------------------------

def create_api_import(engine: Engine, source: str, file_name: str | None, actor: Actor,
                      claim: Claim | None = None, mode: str = "upsert", rules: dict[str, str] | None = None) -> str:
    """The seed's step 1: an import in `processing`, the actor's (its owner), waiting for batches.
    claim: the request's Idempotency-Key claim; the import takes its id, so a retry makes no other.
    mode, rules: what every batch of the import may do (core.storage.records.MODES, RULES)."""
    check(engine, actor, "import")
    return create_import(engine, source, file_name, created_by=actor.name, created_via="api",
                         import_id=claim.import_id if claim else None, mode=mode, rules=rules)


def _made_via(actor: Actor) -> str:
    """An import an API caller made (a one-shot bulk call's too) is theirs (access.check_owner)."""
    return "api" if actor.via == "api" else "service"


# What an API request answers for the contacts it wrote (result, report, and how to read the stored
# contacts as the writing transaction sees them); recorded with an Idempotency-Key's claim.
AnswerOf = Callable[[ImportResult, "ValidationReport | CleanBatch", Callable[[list[str]], list[dict]]], dict]


def _settling(held: Claim | None, answer_of: AnswerOf | None, report) -> Written | None:
    """What a batch's commit does last in its transaction: settle the request's Idempotency-Key
    claim with its answer; nothing without a claim."""
    if held is None or answer_of is None:
        return None
    return lambda conn, result: settle(conn, held, 201, answer_of(result, report, partial(contacts_by_email_in, conn)))


def add_contacts(engine: Engine, import_id: str | None, data: bytes | Path, file_name: str,
                 skip_invalid: bool = False, *, actor: Actor, claim: Claim | None = None,
                 answer_of: AnswerOf | None = None, on_progress: Progress | None = None,
                 mode: str | None = None, guard: ChangeGuard | None = None,
                 **read_options) -> tuple[ImportResult, ValidationReport | CleanBatch]:
    """One batch of the seed's step 2, in one transaction, into an import in `processing` (which
    stays so), which only its owner (or an admin) may add to; without import_id, into an import
    made for the batch and completed with it (its source: the actor). Invalid rows refuse the whole
    batch (RowsInvalid), unless skip_invalid: then the valid rows are written and the invalid ones
    stored with the import. claim: the request's Idempotency-Key claim, settled with answer_of's
    answer in the batch's transaction (a new import takes the claim's id). mode: the new import's
    (upsert when None); the mode of an import is its own, so a batch that names another is refused.
    guard: a batch that takes the import's changes of stored contacts past it unconfirmed is
    refused (LargeChange) and writes nothing."""
    check(engine, actor, "import", import_id)
    if import_id is not None:
        check_owner(engine, import_id, actor)
        _check_same_mode(engine, import_id, mode)
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    with LARGE_FILES.admit(size):  # the whole batch: its rows are in memory until it is written
        return _add_batch(engine, import_id, data, file_name, skip_invalid, actor, read_options,
                          claim, answer_of, on_progress, mode or "upsert", guard)


def _add_batch(engine: Engine, import_id: str | None, data: bytes | Path, file_name: str, skip_invalid: bool,
               actor: Actor, read_options: dict, claim: Claim | None,
               answer_of: AnswerOf | None,
               on_progress: Progress | None = None, mode: str = "upsert",
               guard: ChangeGuard | None = None) -> tuple[ImportResult, ValidationReport | CleanBatch]:
    new_import = claim.import_id if claim else None
    clean = None if read_options else _clean_batch(data)
    if clean is not None:
        return _add_clean_batch(engine, import_id, clean, file_name, actor, new_import,
                                _settling(claim, answer_of, clean), mode, guard), clean
    draft = open_file(None, data, file_name, source=actor.name, actor=actor, import_id=new_import, mode=mode,
                      **read_options)
    try:
        validate_draft(draft, on_progress)
        with engine.connect() as conn:  # before the answer is made: it must not name a suppressed row either
            report = draft.report = without_suppressed(conn, draft.report)
        if report.invalid and not skip_invalid:
            raise RowsInvalid(file_name, report.errors, report.fixes)
        if import_id is None:
            return commit(engine, draft, on_progress, on_written=_settling(claim, answer_of, report),
                          guard=guard), report
        return commit_import(engine, import_id, report, on_progress, complete=False, actor=actor,
                             on_written=_settling(claim, answer_of, report), guard=guard), report
    finally:
        draft.close()


def _clean_batch(data: bytes | Path) -> CleanBatch | None:
    """The batch, when it is a clean small batch of JSON objects (core.rows.clean_batch)."""
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    if size > SMALL_BATCH_BYTES:
        return None
    found = plain_json_objects(data if isinstance(data, bytes) else data.read_bytes(), FIELDS, SMALL_BATCH_ROWS)
    return clean_batch(*found) if found else None


def _add_clean_batch(engine: Engine, import_id: str | None, batch: CleanBatch, file_name: str,
                     actor: Actor, new_import: str | None, on_written: Written | None, mode: str,
                     guard: ChangeGuard | None) -> ImportResult:
    """What _add_batch does with a batch that has nothing to report: no draft, no error file."""
    if import_id is not None:
        return commit_import(engine, import_id, batch, complete=False, actor=actor, on_written=on_written,
                             guard=guard)
    made = create_import(engine, actor.name, file_name, actor.name, import_id=new_import, created_via=_made_via(actor),
                         mode=mode)
    no_rows_to_fix = pd.DataFrame(columns=[*batch.headers, errors_column(batch.headers)])
    try:
        return commit_import(engine, made, batch, fixable=no_rows_to_fix, actor=actor, on_written=on_written,
                             guard=guard)
    except LargeChange as refused:
        mark_failed(engine, made, str(refused))
        raise


def _check_same_mode(engine: Engine, import_id: str, mode: str | None) -> None:
    """A batch that names a mode must name its import's: the mode belongs to the import."""
    if mode is not None and mode != (own := get_import(engine, import_id)["mode"]):
        raise ImportConsoleError(f"Import {import_id} was made to {MODES[own]} ({own}); a batch cannot "
                                 f"{MODES.get(mode, mode)} ({mode}). Leave the mode out, or make another import.")


def complete(engine: Engine, import_id: str, total_rows: int | None = None, *, actor: Actor) -> None:
    """The seed's step 3, by the import's owner or an admin (see core.storage.commit.complete_import)."""
    check(engine, actor, "import", import_id)
    check_owner(engine, import_id, actor)
    complete_import(engine, import_id, total_rows, actor=actor)


# --- the whole flow at once ------------------------------------------------------------------

def import_file(engine: Engine, data: bytes | Path, file_name: str | None, source: str,
                campaign: str | None = None,
                mapping: Mapping | None = None, on_progress: Progress | None = None,
                warnings: list[str] | None = None, choices: Mapping | None = None,
                actor: Actor | None = None, mode: str = "upsert", rules: dict[str, str] | None = None,
                extras: dict[str, str] | None = None, guard: ChangeGuard | None = None,
                **read_options) -> ImportResult:
    """The seed's four steps for one file: create the import, commit the contacts, complete, attach.
    mapping replaces the suggested mapping; choices maps some fields over it. warnings, when
    given, receives what went wrong after the commit (a failed attach). actor: who imports (the
    import records their name), by default the local user."""
    draft = open_file(None, data, file_name, source=source, campaign=campaign, actor=actor, mode=mode,
                      rules=rules, **read_options)
    try:
        if mapping is not None:
            confirm_mapping(None, draft, mapping)
        if choices:
            choose_columns(draft, choices)
        if extras:
            keep_columns(draft, extras)
        validate_draft(draft, on_progress)
        result = commit(engine, draft, on_progress, guard=guard)
        if warnings is not None:
            warnings.extend(draft.warnings)
        return result
    finally:
        draft.close()


def dry_run(engine: Engine, data: bytes | Path, file_name: str | None = None,
            choices: Mapping | None = None, mode: str = "upsert", rules: dict[str, str] | None = None,
            extras: dict[str, str] | None = None, **read_options) -> tuple[Draft, Review]:
    """Validate and review a file without writing anything (no import record either)."""
    draft = open_file(None, data, file_name, mode=mode, rules=rules, **read_options)
    try:
        if choices:
            choose_columns(draft, choices)
        if extras:
            keep_columns(draft, extras)
        validate_draft(draft)
        return draft, review(engine, draft)
    finally:
        draft.close()
