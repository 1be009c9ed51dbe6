-- The rows an import left out for a problem, as the file held them (issue 10, point 8), so that
-- History offers the same re-uploadable error file as the wizard: the file's headers once per
-- import, each such row's cells in that order, and what to fix in it. NULL / no rows for imports
-- made before, and for rows the HTTP API refused.
ALTER TABLE imports ADD COLUMN file_headers text[];

CREATE TABLE import_error_rows (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row_number integer NOT NULL,
    cells text[] NOT NULL,
    errors text NOT NULL,
    PRIMARY KEY (import_id, row_number)
);
