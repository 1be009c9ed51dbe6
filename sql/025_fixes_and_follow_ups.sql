-- One-click fixes and error-file follow-ups (issue 22).
-- fixes: the kinds of safe fixes an import made, kind -> rows (core.rows.quick_fixes), added up
-- over an API import's batches. follows: the import whose error file this import's file is (the
-- rows left out, fixed and uploaded again), so History shows the two together. No foreign key:
-- Citus adds none with a column to a reference table, and imports are never deleted.
ALTER TABLE imports
    ADD COLUMN fixes jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN follows uuid;
