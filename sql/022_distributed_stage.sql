-- A stage Citus can shard like contacts (issue 20). An import's valid rows are staged before the
-- merge and the review read them (core.storage.staging). On one server they go to a temp table,
-- import_stage: no WAL, dropped with the transaction. Citus cannot shard a temp table, so it
-- shipped the whole stage to every shard of contacts for each statement that joined the two, and
-- every shard joined all of it: the review of a 1M-row file took 4x as long as on one server.
--
-- On Citus the rows go to this table instead, sharded by email beside contacts: the COPY sends
-- each row to the shard that holds its email, and each shard joins only its own rows. Each
-- staging has its own `stage` key; a temp view import_stage over that key is what the merge and
-- the review read, on both servers the same name and the same columns. Unlogged: a stage lives
-- within one transaction, and a crash loses nothing a user committed. One server has the table
-- too (empty, unused), so both schemas are the same.
-- The key comes last: the view is the stage's columns, in the temp table's order, then the key.
CREATE UNLOGGED TABLE import_stage_rows (
    pos integer NOT NULL, row_number integer NOT NULL, email text NOT NULL,
    full_name text, linkedin_profile text, company text, locale text, timezone text, metadata jsonb,
    stage uuid NOT NULL
);
CREATE INDEX import_stage_rows_pos ON import_stage_rows (stage, pos);
-- The merge's stored contacts of a slice (import_matched in sql/functions/merge.sql), on Citus
-- sharded the same way, so the update and the links join them shard by shard. Kept for the
-- whole commit, each slice finding its own by pos.
CREATE UNLOGGED TABLE import_matched_rows (
    id uuid, email text NOT NULL, pos integer NOT NULL, src_row integer,
    new_full_name text, new_linkedin_profile text, new_company text, new_locale text,
    new_timezone text, new_metadata jsonb, previous jsonb,
    stage uuid NOT NULL
);
CREATE INDEX import_matched_rows_pos ON import_matched_rows (stage, pos);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.multi_shard_modify_mode TO sequential;
        PERFORM create_distributed_table('import_stage_rows', 'email', colocate_with => 'contacts');
        PERFORM create_distributed_table('import_matched_rows', 'email', colocate_with => 'contacts');
    END IF;
END $$;
