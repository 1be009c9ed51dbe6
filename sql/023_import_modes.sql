-- Import modes (issue 22): an import creates and updates (upsert, as every import did before),
-- only creates (create: the stored contacts of its emails are left as they are and counted
-- "already there") or only updates (update: the emails not stored are left out and counted "not
-- found"). The mode belongs to the import, so every batch of an API import follows it. Both counts
-- are rows not written: they join the equation of README's "Counts", not total_rows.
-- One statement: Citus sends a reference table's DDL to its workers as the query's text, which
-- may hold only one command.
ALTER TABLE imports
    ADD COLUMN mode text NOT NULL DEFAULT 'upsert'
        CONSTRAINT imports_mode_known CHECK (mode IN ('upsert', 'create', 'update')),
    ADD COLUMN already_there integer NOT NULL DEFAULT 0,
    ADD COLUMN not_found integer NOT NULL DEFAULT 0;
