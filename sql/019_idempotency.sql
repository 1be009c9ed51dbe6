-- Retries that cannot double (issue 21): the requests an API caller sent with an Idempotency-Key,
-- by caller and key (core.storage.idempotency). A request that wrote something is recorded with
-- its answer in the transaction that wrote it, so a retry gets that answer and writes nothing; one
-- in progress holds its claim (token, who holds it, since when). import_id: the id the request's
-- new import takes, so even a retry of a request that died mid-way makes that one import. Kept 24
-- hours. On Citus it stays on the coordinator, as the audit trail does.
CREATE TABLE idempotency_keys (
    caller      text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,
    token       uuid NOT NULL,
    import_id   uuid NOT NULL,
    claimed_by  text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    status      integer,
    answer      jsonb,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_claimed_at ON idempotency_keys (claimed_at);
