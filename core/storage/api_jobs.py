"""The api_jobs table (sql/021_api_jobs.sql): API bulks that run after their request was answered.
Progress is written from another connection than the commit's, as import_progress is, so a
caller polling from any process sees it; a job whose runner process is gone reads as failed (its
transaction rolled back: nothing of it was saved)."""
from __future__ import annotations

import json
import os
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import JobNotFound
from core.storage.idempotency import HERE, Claim, holder_gone, settle

KEPT_DAYS = 7
RUNNER_GONE = {"detail": "The server stopped while this job ran; nothing of it was saved. Send the request again."}


def create_job(engine: Engine, caller: str, claim: Claim | None = None, accepted=None) -> str:
    """A new running job of caller's; with claim, the request's Idempotency-Key is settled in the same
    transaction with accepted(job_id), the 202 answer, so a retry polls this job rather than start another."""
    job_id = str(uuid4())
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM api_jobs WHERE created_at < now() - make_interval(days => :d)"),
                     {"d": KEPT_DAYS})
        conn.execute(sa.text("INSERT INTO api_jobs (id, caller, runner) VALUES (:id, :c, :r)"),
                     {"id": job_id, "c": caller, "r": f"{HERE}:{os.getpid()}"})
        if claim is not None:
            settle(conn, claim, 202, accepted(job_id))
    return job_id


def write_progress(engine: Engine, job_id: str, stage: str, done: int, total: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_jobs SET stage = :s, done = :d, total = :t, updated_at = now() "
                             "WHERE id = :id AND status = 'running'"), {"id": job_id, "s": stage, "d": done, "t": total})


def finish_job(engine: Engine, job_id: str, status_code: int, answer: dict) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE api_jobs SET status = :status, status_code = :code, answer = CAST(:a AS jsonb), "
            "stage = CASE WHEN :code < 300 THEN 'done' ELSE stage END, updated_at = now() WHERE id = :id"),
            {"id": job_id, "status": "done" if status_code < 300 else "failed", "code": status_code,
             "a": json.dumps(answer, default=str)})


def read_job(engine: Engine, job_id: str, caller: str | None) -> dict:
    """The job as its caller sees it (caller None: an admin, who sees anyone's)."""
    try:
        key = UUID(job_id)
    except ValueError:
        raise JobNotFound(job_id) from None
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT id::text AS id, caller, status, stage, done, total, status_code, answer, runner, created_at, "
            "updated_at FROM api_jobs WHERE id = :id"), {"id": key}).mappings().first()
    if row is None or (caller is not None and row["caller"] != caller):
        raise JobNotFound(job_id)
    job = dict(row)
    if job["status"] == "running" and holder_gone(job.pop("runner")):
        finish_job(engine, job_id, 500, RUNNER_GONE)
        return read_job(engine, job_id, caller)
    job.pop("runner", None)
    return job
