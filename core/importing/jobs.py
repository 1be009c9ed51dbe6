"""Commits that outlive the browser tab (issue 10, point 6): the console starts a commit here and
it runs in a thread of the server process, not in the page's script run, so a rerun, a closed tab
or a refresh neither stops nor fails it. How far it is goes to the job (for the tab that started
it) and to the import_progress table (for History in any tab or process), at most every
PROGRESS_EVERY seconds. A server that stops mid-commit rolls it back; the import is then swept to
`failed` like any abandoned one (core.storage.records.abandon_stale_imports)."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import importing
from core.storage.commit import ImportResult
from core.errors import ImportConsoleError
from core.progress import Progress
from core.storage import api_jobs, progress
from core.storage.idempotency import Claim

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5
# What each stage of core.progress means to a person, with the job's done and total.
COMMIT_STAGES = {"starting": "Starting…",
                 "preparing": "Preparing {total:,} rows for the database…",
                 "sorting": "Sorting {total:,} emails into the order contacts are locked in…",
                 "staging": "Sending rows to the database: {done:,} of {total:,}",
                 "upserting": "Inserting, updating and linking contacts: {done:,} of {total:,}",
                 "finishing": "Saving the error report: {total:,} rows…",
                 "completing": "Completing the import and writing it to disk…",
                 "done": "Done: {total:,} contacts."}
UNEXPECTED = ("the commit stopped on an unexpected error ({name}); nothing of it was saved. "
              "Try again, and tell the admins if it keeps happening.")


@dataclass
class CommitJob:
    """One commit running (or run) in the background; read by pages, written by its thread."""

    import_id: str
    total: int
    stage: str = "starting"
    done: int = 0
    result: ImportResult | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    draft: importing.Draft | None = field(default=None, repr=False)  # the draft (tab) that started it

    def started_by(self, draft: importing.Draft) -> bool:
        return self.draft is draft

    @property
    def running(self) -> bool:
        return not self.finished.is_set()


_jobs: dict[str, CommitJob] = {}
_jobs_lock = threading.Lock()


def start_commit(engine: Engine, draft: importing.Draft) -> CommitJob:
    """Create the draft's import record (unless it exists) and commit it in a background thread;
    a second call while a commit of that import runs in this process (from this tab or another)
    returns the running job instead of starting another. Commits from other processes meet at
    the import's lock and status: the second is refused (core.errors.AlreadyCommitted)."""
    with _jobs_lock:
        running = _jobs.get(draft.import_id)
        if running is not None and running.running:
            return running
        importing.create_record(engine, draft)
        job = _jobs[draft.import_id] = CommitJob(draft.import_id, total=draft.report.valid_count, draft=draft)
    draft.committing = True
    threading.Thread(target=_run, args=(engine, draft, job), name=f"commit-{job.import_id}",
                     daemon=True).start()
    return job


def job_of(import_id: str) -> CommitJob | None:
    """The commit this server process ran or runs for this import, if any."""
    with _jobs_lock:
        return _jobs.get(import_id)


def running_jobs() -> list[CommitJob]:
    """The commits this server process runs now."""
    with _jobs_lock:
        return [job for job in _jobs.values() if job.running]


def _run(engine: Engine, draft: importing.Draft, job: CommitJob) -> None:
    report = _ProgressReport(engine, job)
    try:
        job.result = importing.commit(engine, draft, report, guard=importing.guard_for(
            "console", draft.confirmed_changes, "Go back to the review, which names the count, and confirm it."))
    except ImportConsoleError as error:
        job.error = str(error)
    except Exception as error:  # the import is already marked failed by core.storage.commit
        log.exception("background commit of import %s failed", job.import_id)
        job.error = UNEXPECTED.format(name=type(error).__name__)
    finally:
        report.clear()
        draft.committing = False
        if job.result is not None:
            draft.release()  # the done step needs the result only, not the rows
        job.finished.set()


class _Throttled:
    """An on_progress that writes to the database at each new stage, and within a stage every
    PROGRESS_EVERY seconds (_write)."""

    def __init__(self, engine: Engine):
        self.engine, self.written, self.written_stage = engine, 0.0, None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.written_stage or now - self.written >= PROGRESS_EVERY:
            self.written, self.written_stage = now, stage
            self._write(stage, done, total)

    def _write(self, stage: str, done: int, total: int) -> None:
        raise NotImplementedError


class _ProgressReport(_Throttled):
    """The commit's on_progress: the job at once; the import_progress row as _Throttled says."""

    def __init__(self, engine: Engine, job: CommitJob):
        super().__init__(engine)
        self.job = job

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.job.stage, self.job.done, self.job.total = stage, done, total
        super().__call__(stage, done, total)

    def _write(self, stage: str, done: int, total: int) -> None:
        try:
            progress.write(self.engine, self.job.import_id, stage, done, total)
        except sa.exc.SQLAlchemyError:  # progress is a courtesy: never fail the commit for it
            log.warning("could not record the progress of import %s", self.job.import_id, exc_info=True)

    def clear(self) -> None:
        try:
            progress.clear(self.engine, self.job.import_id)
        except sa.exc.SQLAlchemyError:
            log.warning("could not clear the progress of import %s", self.job.import_id, exc_info=True)



# --- API jobs: a bulk call answered 202 at once, run here, polled at GET /jobs/{id} ------------

def start_api_job(engine: Engine, caller: str, run: Callable[[Progress], tuple[int, dict]],
                  claim: Claim | None = None, accepted: Callable[[str], dict] | None = None) -> str:
    """A job of caller's (core.storage.api_jobs) running run(on_progress) in a thread of this
    process; run returns the request's final status code and answer. claim: the request's
    Idempotency-Key, settled with accepted(job_id) as the job is made."""
    job_id = api_jobs.create_job(engine, caller, claim, accepted)
    threading.Thread(target=_run_api_job, args=(engine, job_id, run), name=f"api-job-{job_id}", daemon=True).start()
    return job_id


def _run_api_job(engine: Engine, job_id: str, run: Callable[[Progress], tuple[int, dict]]) -> None:
    try:
        status_code, answer = run(_JobProgress(engine, job_id))
    except Exception as error:  # run answers every refusal itself; this is a bug or a lost server
        log.exception("API job %s failed", job_id)
        status_code, answer = 500, {"detail": UNEXPECTED.format(name=type(error).__name__)}
    try:
        api_jobs.finish_job(engine, job_id, status_code, answer)
    except sa.exc.SQLAlchemyError:
        log.exception("could not record the end of API job %s", job_id)


class _JobProgress(_Throttled):
    """An API job's on_progress: its api_jobs row, as _Throttled says."""

    def __init__(self, engine: Engine, job_id: str):
        super().__init__(engine)
        self.job_id = job_id

    def _write(self, stage: str, done: int, total: int) -> None:
        try:
            api_jobs.write_progress(self.engine, self.job_id, stage, done, total)
        except sa.exc.SQLAlchemyError:  # progress is a courtesy: never fail the job for it
            log.warning("could not record the progress of API job %s", self.job_id, exc_info=True)


def read_api_job(engine: Engine, job_id: str, actor) -> dict:
    """The job as its caller (or an admin) sees it."""
    from core.access import can
    return api_jobs.read_job(engine, job_id, None if can(actor, "act on any import") else actor.caller)
