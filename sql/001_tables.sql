-- Tables of the contact import console. See ARCHITECTURE.md "Data model".
CREATE TABLE campaigns (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Campaign names are unique regardless of case, so "Q4 Outreach" is not created twice.
CREATE UNIQUE INDEX campaigns_name_key ON campaigns (lower(name));

CREATE TABLE contacts (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
    full_name         text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 255),
    linkedin_profile  text NOT NULL,
    company           text CHECK (length(company) <= 255),
    locale            text,
    timezone          text,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE imports (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status        text NOT NULL DEFAULT 'processing'
                  CHECK (status IN ('processing', 'completed', 'failed')),
    source        text NOT NULL,
    file_name     text,
    total_rows    integer NOT NULL DEFAULT 0,
    inserted      integer NOT NULL DEFAULT 0,
    updated       integer NOT NULL DEFAULT 0,
    invalid       integer NOT NULL DEFAULT 0,
    duplicates    integer NOT NULL DEFAULT 0,
    campaign_id   uuid REFERENCES campaigns (id),
    created_by    text,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX imports_created_at_idx ON imports (created_at DESC);
CREATE INDEX imports_campaign_idx ON imports (campaign_id);

CREATE TABLE import_contacts (
    import_id   uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    action      text NOT NULL CHECK (action IN ('inserted', 'updated')),
    row_number  integer NOT NULL,
    -- For an update: the stored values of exactly the fields this import changed (undo data).
    previous    jsonb,
    PRIMARY KEY (import_id, contact_id)
);
CREATE INDEX import_contacts_contact_idx ON import_contacts (contact_id);

CREATE TABLE import_errors (
    import_id   uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number  integer NOT NULL,
    column_name text NOT NULL,
    reason      text NOT NULL,
    value       text
);
CREATE INDEX import_errors_import_idx ON import_errors (import_id, row_number);

CREATE TABLE campaign_imports (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    import_id    uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    attached_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, import_id)
);
CREATE INDEX campaign_imports_import_idx ON campaign_imports (import_id);
