-- Wizard drafts that survive a refresh, a second tab and a closed tab (issue 10, point 5): what the
-- person decided (reading options, mapping, fixes, skipped rows, the step), named by a random token
-- in the console's URL. The uploaded file itself is kept beside it on the server's disk
-- (core.drafts.drafts_dir). Drafts expire a day after their last change.
CREATE TABLE drafts (
    token text PRIMARY KEY,
    created_by text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    file_name text NOT NULL,
    state jsonb NOT NULL
);
CREATE INDEX drafts_updated_at ON drafts (updated_at);
