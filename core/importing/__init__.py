"""The import service: the one facade the doors (the console's pages, the HTTP API, the CLI)
import. It offers verbs, which move an import through its one life (core.importing.service; a
commit in the background, core.importing.jobs; drafts kept in the database,
core.importing.drafts), and read models (history, campaigns, the audit trail, counts, exports).

A door holds a Service, the facade bound to one database, never an engine or a connection:

    service = importing.connect()            # DATABASE_URL, else the embedded database
    service.import_file(data, "people.csv", "HubSpot")
    service.list_imports(status="completed")

What needs no database (reading a draft's samples, validating it, its counts) is called on the
module itself: importing.validate_draft(draft).
"""
from __future__ import annotations

from functools import partial

from sqlalchemy.engine import Engine

from core.access.keys import create_key, key_actor, list_keys, revoke_key
from core.files.exporting import error_file_name, template_csv, to_export_csv
from core.files.reading import MAX_FILE_BYTES
from core.rows.mapping import extra_key
from core.storage.guard import ANY as ANY_CHANGE, ChangeGuard, guard_for, parse_confirmation, stored_contacts
from core.importing.service import (PROBLEMS, SAMPLE_ROWS, Draft, Upload, add_contacts, apply_fixes, attach,
                                    attach_import, attach_imports, check_role, choose_columns, choose_fixes, commit, complete,
                                    keep_columns, metadata_column_problem,
                                    confirm_mapping, create_api_import, create_record, current_report, dry_run,
                                    error_file, error_report, hints, hold_edits, import_file, keep_skipped_rows, missing_fields,
                                    open_file, open_retry, planned_counts, possible_duplicates, reading_problems,
                                    import_activity, read_audit, recorded_status, reread, review,
                                    review_is_current, row_fates,
                                    rows_to_fix, samples, skip_rows, undo, unresolved, validate_draft,
                                    erase_person, export_person, suppress_emails, suppress_file, suppression_count,
                                    sweep_retention)
from core.rows.counts import LABELS as COUNT_LABELS
from core.rows.counts import Counts
from core.rows.counts import of_record as record_counts
from core.storage import audit_log
from core.storage.campaigns import check_campaign, create_campaign, list_campaigns, open_campaign
from core.storage.database import make_engine, migrate_as_owner
from core.storage.idempotency import Claim, Replay, claim_key, record_answer, release_key
from core.storage.history import (campaign_contacts_csv, contacts_by_email, get_import, import_contacts,
                                  import_contacts_csv, import_error_csv, import_error_file, import_errors,
                                  import_records,
                                  list_contacts, list_imports, recent_sources)
from core.storage.progress import stored_progress
from core.storage.follow_ups import follow_ups
from core.rows.quick_fixes import KINDS as FIX_KINDS
from core.storage.records import MODES, RULED_FIELDS, RULES, STATUSES


def record_refused_sign_in(engine: Engine, actor) -> None:
    """A signed-in person the allow-list does not name, recorded (never raised if it cannot be)."""
    audit_log.record_now(engine, actor, "sign-in refused", subject=actor.name or None)


from core.importing import drafts, jobs  # noqa: E402 - they use the verbs above
from core.importing.drafts import Committed, delete_draft, discard_draft, expire_drafts, list_drafts, load_draft, new_token, save_draft  # noqa: E402,E501
from core.importing.registry import DraftRegistry  # noqa: E402
from core.importing.jobs import COMMIT_STAGES, CommitJob, job_of, read_api_job, running_jobs, start_api_job, start_commit  # noqa: E402,E501
from core.importing.wizard import STEPS, CommitState, Wizard  # noqa: E402
from core.importing.admission import LARGE_FILES, WAITING  # noqa: E402
from core.files.spool import remove_orphans as remove_orphan_spools, spool_file, spool_folder  # noqa: E402

# Everything of the facade that works on the database, its engine first: a Service's methods.
ON_DATABASE = {verb.__name__: verb for verb in (
    open_file, open_retry, reread, confirm_mapping, review, review_is_current, create_record, recorded_status,
    commit, attach, attach_import, attach_imports, undo, create_api_import, add_contacts, complete, import_file,
    dry_run, start_commit, stored_progress, save_draft, load_draft, list_drafts, delete_draft, discard_draft,
    expire_drafts,
    list_imports, import_records, get_import, import_errors, import_error_file, import_error_csv, import_contacts, import_contacts_csv,
    recent_sources, list_contacts, campaign_contacts_csv, contacts_by_email, list_campaigns, open_campaign,
    create_campaign, check_campaign, check_role, import_activity, read_audit, record_refused_sign_in, create_key, list_keys,
    revoke_key, key_actor, claim_key, record_answer, release_key, start_api_job, read_api_job, stored_contacts,
    follow_ups, erase_person, export_person, suppress_emails, suppress_file, suppression_count, sweep_retention)}


class Service:
    """The import service on one database: what a door holds instead of an engine. Each verb and
    read model that works on the database is a method of it (ON_DATABASE), its engine given."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def __getattr__(self, name: str):
        try:
            verb = ON_DATABASE[name]
        except KeyError:
            raise AttributeError(f"the import service has no verb {name!r} on the database") from None
        return partial(verb, self._engine)

    def dispose(self) -> None:
        """Close its connections (a test's, a benchmark's service)."""
        self._engine.dispose()


def connect(url: str | None = None) -> Service:
    """The service on the database of url: DATABASE_URL, else the embedded one; migrated."""
    return Service(make_engine(url))


__all__ = sorted([*ON_DATABASE, "Service", "connect", "Claim", "Replay", "migrate_as_owner", "DraftRegistry", "PROBLEMS", "SAMPLE_ROWS", "Draft", "Upload", "apply_fixes", "choose_fixes", "FIX_KINDS",
                  "choose_columns", "ANY_CHANGE", "ChangeGuard", "guard_for", "parse_confirmation", "keep_columns", "metadata_column_problem", "extra_key", "current_report", "error_file", "hints", "hold_edits", "keep_skipped_rows",
                  "missing_fields", "planned_counts", "possible_duplicates", "reading_problems", "error_report",
                  "row_fates", "rows_to_fix", "samples", "skip_rows", "unresolved", "validate_draft", "drafts",
                  "jobs", "Committed", "new_token", "COMMIT_STAGES", "CommitJob", "job_of", "running_jobs",
                  "COUNT_LABELS", "LARGE_FILES", "WAITING", "STEPS", "CommitState", "Wizard", "Counts", "record_counts", "STATUSES", "MODES", "RULES", "RULED_FIELDS", "MAX_FILE_BYTES", "error_file_name",
                  "template_csv", "to_export_csv", "remove_orphan_spools", "spool_file", "spool_folder"])
