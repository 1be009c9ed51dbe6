-- One owner per import (issue 19).
--
-- A draft and the import it becomes share one id, chosen when the draft is made: every tab, link or
-- retry that commits the draft commits that one import, and the status machine (under the
-- import's lock) lets it complete once. A committed draft's row stays (its file goes), so its link
-- can say "already committed" instead of inviting a second import of the same file.
ALTER TABLE drafts ADD COLUMN import_id uuid;
UPDATE drafts SET import_id = COALESCE(CAST(state->>'import_id' AS uuid), gen_random_uuid());
ALTER TABLE drafts ALTER COLUMN import_id SET NOT NULL;
ALTER TABLE drafts ALTER COLUMN import_id SET DEFAULT gen_random_uuid();
ALTER TABLE drafts ADD COLUMN committed_at timestamptz;
CREATE INDEX drafts_import_id ON drafts (import_id);

-- A draft's file lives with it in the database, in parts, so any console server can resume it
-- (before, it was on the disk of the server that took the upload).
CREATE TABLE draft_files (
    token text NOT NULL REFERENCES drafts (token) ON DELETE CASCADE,
    part  integer NOT NULL,
    data  bytea NOT NULL,
    PRIMARY KEY (token, part)
);

-- One way to count (README, "Counts"): `updated` is the stored contacts whose values changed, no
-- longer every stored contact linked (the unchanged ones are counted apart, in `unchanged`), and
-- rows the user chose to skip are counted apart from the invalid ones.
UPDATE imports SET updated = updated - unchanged WHERE updated >= unchanged AND unchanged > 0;
ALTER TABLE imports ADD COLUMN skipped integer NOT NULL DEFAULT 0;
