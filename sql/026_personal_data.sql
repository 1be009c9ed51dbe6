-- People's data (issue 24): erasure, the suppression list, and the email of each rejected row.
-- suppressions: keyed hashes of emails that no import may write (core.storage.personal_data), never
-- the emails: an erased person's, and any added from an opt-out list. hash_keys: the key those
-- hashes are made with, when no key is configured (CONTACT_IMPORT_HASH_KEY), so that every server of
-- one database hashes alike.
CREATE TABLE hash_keys (
    name       text PRIMARY KEY,
    key        bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE suppressions (
    email_hash bytea PRIMARY KEY,
    reason     text NOT NULL CHECK (reason IN ('erased', 'opt-out')),
    source     text,
    added_by   text NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
    'committed', 'retried', 'contacts added', 'undone', 'attached', 'key created', 'key revoked',
    'sign-in refused', 'refused', 'erased', 'suppressed'));
-- imports.suppressed: the rows an import left out because their email is suppressed (they join
-- "Counts add up"). rejected_expired_at, previous_expired_at: when the retention sweep deleted the
-- values of its rejected rows, and the values it replaced (core.storage.retention).
-- A rejected row's email (as contacts would store it), so that an erasure finds the person's
-- rejected rows by index. Rows written before have none; an erasure searches their cells.
-- In a DO block: Citus sends DDL on its tables to the workers as the text it came in
-- (sql/017_distributable.sql).
DO $$
BEGIN
    ALTER TABLE imports
        ADD COLUMN suppressed integer NOT NULL DEFAULT 0,
        ADD COLUMN rejected_expired_at timestamptz,
        ADD COLUMN previous_expired_at timestamptz;
    ALTER TABLE import_errors ADD COLUMN email text;
    ALTER TABLE import_error_rows ADD COLUMN email text;
    CREATE INDEX import_errors_email_idx ON import_errors (email);
    CREATE INDEX import_error_rows_email_idx ON import_error_rows (email);
END $$;
