-- Mappings that a person confirmed, remembered per header signature (issue 5): the next file with
-- the same columns (e.g. the next LinkedIn Connections.csv) is offered the same mapping first.
CREATE TABLE saved_mappings (
    -- sha256 of the file's header names, trimmed, lower-cased and sorted (core.saved_mappings).
    signature   text PRIMARY KEY,
    headers     jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'array'),
    mapping     jsonb NOT NULL CHECK (jsonb_typeof(mapping) = 'object'),
    uses        integer NOT NULL DEFAULT 1,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
