-- Per-field rules, and columns kept as extra fields (issue 22).
-- Rules: for each field, whether an import may overwrite a stored value (overwrite, the rule every
-- import followed: a non-empty cell overwrites, an empty one never erases), only fill a stored
-- value that is empty (fill), or never change it (keep). An object of field -> rule, the fields it
-- leaves out overwritten; it belongs to the import, so every batch of an API import follows it.
-- sql/functions/merge.sql applies it (ruled_text, ruled_metadata).
ALTER TABLE imports ADD COLUMN rules jsonb NOT NULL DEFAULT '{}'::jsonb;
-- The rules a person chose with a mapping, and the columns kept in metadata with it (column ->
-- key), offered again with it for the same headers.
ALTER TABLE saved_mappings
    ADD COLUMN rules jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN extras jsonb NOT NULL DEFAULT '{}'::jsonb;
