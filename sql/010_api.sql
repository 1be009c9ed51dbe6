-- The HTTP API (issue 11): keys that scripts and CRM syncs authenticate with, and where an import
-- was created. Only a hash of a key is stored; the key itself is shown once, when it is made.
CREATE TABLE api_keys (
    name          text PRIMARY KEY CHECK (btrim(name) <> ''),
    key_hash      text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- The console and the CLI create an import when they commit it; the API keeps the seed's flow
-- (create, then add contacts, then complete), so its imports wait in `processing` for longer
-- before they count as abandoned.
ALTER TABLE imports ADD COLUMN created_via text NOT NULL DEFAULT 'service'
    CHECK (created_via IN ('service', 'api'));
