-- Long bulks without long requests (issue 21): a POST /contacts/bulk sent with
-- `Prefer: respond-async` is answered 202 at once and runs as a job of the server, which the
-- caller polls at GET /jobs/{id} (core.storage.api_jobs). The row outlives the request; runner
-- (host:pid) lets a reader tell a job whose server died (its commit rolled back) from one running.
CREATE TABLE api_jobs (
    id           uuid PRIMARY KEY,
    caller       text NOT NULL,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    stage        text NOT NULL DEFAULT 'queued',
    done         bigint NOT NULL DEFAULT 0,
    total        bigint NOT NULL DEFAULT 0,
    status_code  integer,
    answer       jsonb,
    runner       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_jobs_created_at ON api_jobs (created_at);
