-- Who may do what (issue 13): an API key carries a role, and an append-only audit trail says who
-- did what and when. Keys made before roles existed become importers: least privilege, an admin
-- gives the admin role back by making a new key.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'importer' CHECK (role IN ('importer', 'admin'));

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- clock_timestamp(): the moment of the action, not of its transaction's start
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor      text NOT NULL,            -- the signed-in email, the key's name, the CLI's user
    role       text,                     -- the actor's role then (none for a refused sign-in)
    via        text NOT NULL CHECK (via IN ('console', 'cli', 'api', 'service')),
    -- 'contacts added': a batch of the HTTP API's flow, written before the import is completed
    action     text NOT NULL CHECK (action IN ('committed', 'retried', 'contacts added', 'undone', 'attached',
                                               'key created', 'key revoked', 'sign-in refused', 'refused')),
    -- no foreign keys: the trail outlives whatever it names
    import_id  uuid,
    campaign   text,
    subject    text,                     -- a key's name; what a refused actor tried
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_import_idx ON audit_log (import_id, id) WHERE import_id IS NOT NULL;
-- a refusal repeated within a minute is recorded once (core.audit.check)
CREATE INDEX audit_log_refused_idx ON audit_log (actor, at) WHERE action = 'refused';

-- Append-only, whatever the application does: no row is ever changed or removed.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
