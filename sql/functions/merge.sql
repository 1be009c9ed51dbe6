-- The merge rule of an import, in one place (ARCHITECTURE.md "Import rules"). This file holds the
-- current body of every function; core.storage.database re-applies it whenever its text changes,
-- after the numbered migrations, so a change here reaches every database without a new migration.
--
--   * a new email inserts, a known email updates;
--   * an empty (NULL) incoming value never erases a stored one;
--   * metadata merges key by key, incoming keys win;
--   * an update keeps in `previous` the stored values of exactly the fields it changes (undo data);
--   * an import's mode and field rules narrow that (sql/023, sql/024: ruled_text, ruled_metadata).
--
-- The commit (merge_import_stage) and the review (review_import_stage, review_import_changes) both
-- read the temp table import_stage that core.storage.staging fills, and both decide what changes with the
-- functions below (merged_text, merged_metadata, text_changes, metadata_changes; changed_fields
-- builds the commit's `previous` from them), so what the review shows is what the commit does.

-- The value a stored text field takes under an incoming one.
CREATE OR REPLACE FUNCTION merged_text(stored text, incoming text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE(incoming, stored);

-- The stored metadata object with the incoming keys laid over it.
CREATE OR REPLACE FUNCTION merged_metadata(stored jsonb, incoming jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN stored || COALESCE(incoming, '{}'::jsonb);

-- A field's rule in an import's rules, which leave out the fields they overwrite.
CREATE OR REPLACE FUNCTION field_rule(rules jsonb, field text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE(rules->>field, 'overwrite');

-- The incoming value a field's rule lets through to the merge (sql/024_field_rules.sql): none
-- under keep, none under fill when a value is stored; NULL never erases, so the stored value stays.
-- A new contact takes every incoming value: the rules are about stored values.
CREATE OR REPLACE FUNCTION ruled_text(rule text, stored text, incoming text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN rule = 'keep' OR (rule = 'fill' AND NULLIF(stored, '') IS NOT NULL) THEN NULL ELSE incoming END;

-- metadata takes its rule as a whole: fill lays the incoming object only over an empty one.
CREATE OR REPLACE FUNCTION ruled_metadata(rule text, stored jsonb, incoming jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN rule = 'keep' OR (rule = 'fill' AND stored IS NOT NULL AND stored <> '{}'::jsonb) THEN NULL
            ELSE incoming END;

-- Whether the incoming value changes the stored one.
CREATE OR REPLACE FUNCTION text_changes(stored text, incoming text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN merged_text(stored, incoming) IS DISTINCT FROM stored;

CREATE OR REPLACE FUNCTION metadata_changes(stored jsonb, incoming jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN merged_metadata(stored, incoming) IS DISTINCT FROM stored;

-- `previous` of a stored contact under an incoming row (each stored value followed by the incoming
-- one): the stored values of the fields that change, '{}' when none does. One expression, so
-- PostgreSQL inlines it with the functions above (no function call per row). Built field by field
-- ('{}' || '{}' costs next to nothing): building the object of all six fields and removing those
-- that stay took five times as long, half of a re-import's read of the stored contacts.
CREATE OR REPLACE FUNCTION changed_fields(
    full_name text, in_full_name text, linkedin_profile text, in_linkedin_profile text,
    company text, in_company text, locale text, in_locale text,
    timezone text, in_timezone text, metadata jsonb, in_metadata jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN text_changes(full_name, in_full_name)
            THEN jsonb_build_object('full_name', full_name) ELSE '{}'::jsonb END
    || CASE WHEN text_changes(linkedin_profile, in_linkedin_profile)
            THEN jsonb_build_object('linkedin_profile', linkedin_profile) ELSE '{}'::jsonb END
    || CASE WHEN text_changes(company, in_company) THEN jsonb_build_object('company', company) ELSE '{}'::jsonb END
    || CASE WHEN text_changes(locale, in_locale) THEN jsonb_build_object('locale', locale) ELSE '{}'::jsonb END
    || CASE WHEN text_changes(timezone, in_timezone) THEN jsonb_build_object('timezone', timezone) ELSE '{}'::jsonb END
    || CASE WHEN metadata_changes(metadata, in_metadata)
            THEN jsonb_build_object('metadata', metadata) ELSE '{}'::jsonb END;

-- Time-ordered ids for new contacts (UUID version 7 layout: 48-bit millisecond time, random bits,
-- then pos), so the primary key and the import_contacts keys grow at the right-most index pages.
CREATE OR REPLACE FUNCTION import_contact_id(p_prefix text, p_pos integer) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (p_prefix || lpad(to_hex(p_pos), 8, '0'))::uuid;

-- Writers of contacts lock the contacts they write, in one global order: the byte order of the
-- email. A merge locks a slice's stored contacts and inserts its new ones in ONE ordered statement
-- (step 1 of merge_import_stage): locking the stored contacts first and inserting afterwards
-- would let two merges take their locks in opposite orders when each inserts an email the other
-- then finds stored (issue 9, point 2). An insert of an email that a concurrent writer inserted
-- waits for that writer, then locks its row instead, at the same place in the order. The single
-- writers' lock this replaces is dropped: writers of unrelated contacts no longer wait for each
-- other (issue 20).
DROP FUNCTION IF EXISTS lock_contact_writers();

-- The commit: upsert the staged rows (import_stage: one row per email, `pos` the rank of the email
-- in byte order) whose pos is in [p_from, p_to), and link each to the import. The commit calls it
-- slice after slice, in pos order, within its one transaction, so that it can say how far it is
-- (issue 10, point 6) and so that its locks follow the global order across slices. The caller
-- analyzes import_stage once before the first slice. p_earlier_batch: the import already links
-- contacts from an earlier call of the HTTP API (not from an earlier slice of this commit).
-- Contacts whose values do not change are linked with previous = '{}', not rewritten.
--
-- Every statement joins contacts by email, the key Citus shards contacts and import_contacts by
-- (issue 12). On Citus each shard takes its rows in pos order, but the workers run one statement
-- side by side: two commits that share contacts on two workers can meet in a deadlock there,
-- which Citus detects and cancels, and the commit runs again (core.storage.staging.retry_deadlocks).
-- p_runs: the ends of the runs of pos that step 1 locks one statement after another, in this slice
-- or not (on Citus a small stage is locked one shard at a time:
-- core.storage.staging.write_shard_by_shard); NULL: the slice in one statement.
DROP FUNCTION IF EXISTS merge_import_stage(uuid);
DROP FUNCTION IF EXISTS merge_import_stage(uuid, integer, integer, boolean);
-- p_mode: the import's mode (sql/023_import_modes.sql). 'create' links no stored contact (it
-- locks them, as every mode does, and changes none); 'update' inserts no email that is not
-- stored. The caller counts what a mode left out: the staged rows neither inserted nor linked.
-- p_rules: the import's rules, field -> overwrite, fill or keep (sql/024_field_rules.sql).
DROP FUNCTION IF EXISTS merge_import_stage(uuid, integer, integer, boolean, integer[]);
DROP FUNCTION IF EXISTS merge_import_stage(uuid, integer, integer, boolean, integer[], text);
DROP FUNCTION IF EXISTS merge_import_stage(uuid, integer, integer, boolean, integer[], text, jsonb);
CREATE FUNCTION merge_import_stage(p_import uuid, p_from integer, p_to integer, p_earlier_batch boolean,
                                   p_runs integer[], p_mode text, p_rules jsonb,
                                   OUT inserted integer, OUT updated integer, OUT unchanged integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_run_from integer := p_from;
    v_run_to integer;
    -- one server: import_matched is a temp table of this slice; Citus: the stage's view of
    -- import_matched_rows (core.storage.staging), each slice's rows found by pos
    v_own_matched boolean := to_regclass('pg_temp.import_matched') IS NULL;
    -- Citus counts the rows that step 1 only locked as written too (step 3)
    v_counts_inserts boolean := NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus');
    v_inserted integer := 0;  -- by step 1
    v_run_inserted integer;
    v_random text := replace(gen_random_uuid()::text, '-', '');
    -- 12 hex digits of time, version 7, then random bits (the v4 variant digit is reused).
    v_prefix text := lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
                     || '7' || substr(v_random, 1, 3) || substr(v_random, 17, 8);
BEGIN
    IF v_own_matched THEN
        CREATE TEMP TABLE import_matched (
            id uuid, email text, pos integer NOT NULL, src_row integer,
            new_full_name text, new_linkedin_profile text, new_company text, new_locale text,
            new_timezone text, new_metadata jsonb, previous jsonb
        ) ON COMMIT DROP;
    END IF;

    -- 1. Insert the new emails and lock the stored contacts, in pos order, in one statement (one
    --    per run of p_runs). The DO UPDATE changes nothing (WHERE false) but locks the row it
    --    finds, FOR NO KEY UPDATE (it sets no key column), which links' foreign key checks do not
    --    wait for.
    FOREACH v_run_to IN ARRAY COALESCE(p_runs, '{}') || p_to LOOP
        v_run_to := LEAST(v_run_to, p_to);
        CONTINUE WHEN v_run_to <= v_run_from;  -- a run that ended before this slice
        INSERT INTO contacts AS c (id, email, full_name, linkedin_profile, company, locale, timezone, metadata)
        SELECT import_contact_id(v_prefix, s.pos), s.email, s.full_name, s.linkedin_profile,
               s.company, s.locale, s.timezone, COALESCE(s.metadata, '{}'::jsonb)
        FROM (SELECT * FROM import_stage st WHERE st.pos >= v_run_from AND st.pos < v_run_to) s
        WHERE p_mode <> 'update' OR EXISTS (SELECT 1 FROM contacts stored WHERE stored.email = s.email)
        ORDER BY s.pos
        ON CONFLICT (email) DO UPDATE SET full_name = c.full_name WHERE false;
        GET DIAGNOSTICS v_run_inserted = ROW_COUNT;
        v_inserted := v_inserted + v_run_inserted;
        v_run_from := v_run_to;
    END LOOP;

    -- 2. The stored contacts, read under those locks: their new values and `previous`. Found by
    --    their email, one index probe per staged row (see _merge_by_index). None when step 1
    --    inserted every row of the slice (pos is unique, so it holds at most p_to - p_from): each
    --    probe would find only a contact just inserted (1.4 s of an all-new 1M import's 15.6 s).
    --    Known on one server only.
    IF NOT (v_counts_inserts AND v_inserted = p_to - p_from) THEN
        PERFORM _merge_by_index(true);
        PERFORM _merge_import_match(p_from, p_to, v_prefix, p_rules);
        PERFORM _merge_by_index(false);
    END IF;
    -- import_matched is not analyzed: the planner sizes it from its pages, which is enough for
    -- the joins below, and an ANALYZE per slice read each slice's rows again (a tenth of a
    -- sliced re-import).

    -- 3. Link the inserted contacts: their ids come from pos, so no join to contacts. Counted
    --    here: Citus counts the rows of step 1 that only locked a contact too. NOT IN, not NOT
    --    EXISTS: Citus cannot run a subquery correlated by pos (the stage and import_matched are
    --    sharded by email there) but sends an uncorrelated one to the shards as one list.
    IF p_mode = 'update' THEN
        -- none, unless a contact was deleted (an undo) between step 1's check and its insert
        DELETE FROM contacts c USING import_stage s
        WHERE c.email = s.email AND c.id = import_contact_id(v_prefix, s.pos)
          AND s.pos >= p_from AND s.pos < p_to;
    END IF;
    INSERT INTO import_contacts (import_id, email, contact_id, action, row_number, previous)
    SELECT p_import, s.email, import_contact_id(v_prefix, s.pos), 'inserted', s.row_number, NULL
    FROM import_stage s
    WHERE s.pos >= p_from AND s.pos < p_to
      AND s.pos NOT IN (SELECT m.pos FROM import_matched m WHERE m.pos >= p_from AND m.pos < p_to)
      AND p_mode <> 'update'
    ORDER BY s.pos;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF p_mode = 'create' THEN  -- the stored contacts stay as they are, unlinked
        updated := 0;
        unchanged := 0;
        IF v_own_matched THEN
            DROP TABLE import_matched;
        END IF;
        RETURN;
    END IF;

    -- 4. Update what changes, link every matched contact.
    PERFORM _merge_by_index(true);
    UPDATE contacts c SET
        full_name = m.new_full_name,
        linkedin_profile = m.new_linkedin_profile,
        company = m.new_company,
        locale = m.new_locale,
        timezone = m.new_timezone,
        metadata = m.new_metadata,
        updated_at = now()
    FROM import_matched m
    WHERE c.email = m.email AND c.id = m.id AND m.previous <> '{}'::jsonb
      AND m.pos >= p_from AND m.pos < p_to;
    PERFORM _merge_by_index(false);

    IF p_earlier_batch THEN
        -- A later batch of the same import (the HTTP API adds contacts in several calls): a
        -- contact it linked before keeps its link, as inserted, or with the stored values from
        -- before the import, widened by the fields only this batch changes.
        INSERT INTO import_contacts (import_id, email, contact_id, action, row_number, previous)
        SELECT p_import, email, id, 'updated', src_row, previous FROM import_matched
        WHERE pos >= p_from AND pos < p_to ORDER BY pos
        ON CONFLICT (import_id, email) DO UPDATE SET previous = CASE
            WHEN import_contacts.action = 'inserted' THEN NULL
            ELSE EXCLUDED.previous || import_contacts.previous END;
    ELSE
        INSERT INTO import_contacts (import_id, email, contact_id, action, row_number, previous)
        SELECT p_import, email, id, 'updated', src_row, previous FROM import_matched
        WHERE pos >= p_from AND pos < p_to ORDER BY pos;
    END IF;
    GET DIAGNOSTICS updated = ROW_COUNT;
    SELECT count(*) INTO unchanged FROM import_matched
    WHERE previous = '{}'::jsonb AND pos >= p_from AND pos < p_to;
    IF v_own_matched THEN
        DROP TABLE import_matched;
    END IF;
END;
$$;

-- A slice holds thousands to 250k rows, and contacts may hold millions. Joining them, the planner
-- prefers a hash join, which reads all of contacts for every slice: at 1M contacts, steps 2 and 4
-- read the whole table twice per slice, about a third of a re-import. With hash and merge joins
-- off for those two statements, each staged row is one probe of an email index. p_on: turn them
-- off (for the transaction, until called with false, which puts back the server's setting). SET
-- LOCAL, not set_config(): on Citus, with citus.propagate_set_commands = local
-- (core.storage.database), the workers that plan each shard's join get it too.
DROP FUNCTION IF EXISTS _merge_by_index(boolean);
CREATE FUNCTION _merge_by_index(p_on boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_on THEN
        SET LOCAL enable_hashjoin = off;
        SET LOCAL enable_mergejoin = off;
    ELSE  -- the server's setting, which its configuration may have changed
        SET LOCAL enable_hashjoin TO DEFAULT;
        SET LOCAL enable_mergejoin TO DEFAULT;
    END IF;
END;
$$;

-- Step 2 of merge_import_stage: the stored contacts of the staged emails in [p_from, p_to), with
-- their new values and `previous` (computed once per contact) under the import's rules; not those
-- this merge has just inserted, whose ids carry p_prefix.
DROP FUNCTION IF EXISTS _merge_import_lock(text);
DROP FUNCTION IF EXISTS _merge_import_lock(text, integer, integer);
DROP FUNCTION IF EXISTS _merge_import_match(integer, integer, text);
CREATE OR REPLACE FUNCTION _merge_import_match(p_from integer, p_to integer, p_prefix text, p_rules jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- The new values are kept only for contacts that change: most of a re-import usually does
    -- not, and this table is written and read once per matched contact. The rules go into the
    -- statement as constants, not as parameters: the planner then folds each ruled_text away
    -- (under overwrite, the rule of every field an import does not name, it is the incoming
    -- value), where a parameter made each row look its rules up again at every use.
    EXECUTE format($match$
    INSERT INTO import_matched
    SELECT id, email, pos, src_row,
           CASE WHEN changes THEN merged_text(full_name, in_full_name) END,
           CASE WHEN changes THEN merged_text(linkedin_profile, in_linkedin_profile) END,
           CASE WHEN changes THEN merged_text(company, in_company) END,
           CASE WHEN changes THEN merged_text(locale, in_locale) END,
           CASE WHEN changes THEN merged_text(timezone, in_timezone) END,
           CASE WHEN changes THEN merged_metadata(metadata, in_metadata) END,
           previous
    FROM (
        SELECT *, previous <> '{}'::jsonb AS changes
        FROM (
            SELECT id, email, pos, row_number AS src_row,
                   full_name, full_name_in AS in_full_name,
                   linkedin_profile, linkedin_profile_in AS in_linkedin_profile,
                   company, company_in AS in_company, locale, locale_in AS in_locale,
                   timezone, timezone_in AS in_timezone, metadata, metadata_in AS in_metadata,
                   changed_fields(full_name, full_name_in, linkedin_profile, linkedin_profile_in,
                                  company, company_in, locale, locale_in, timezone, timezone_in,
                                  metadata, metadata_in) AS previous
            FROM (SELECT c.id, c.email, s.pos, s.row_number,
                         c.full_name, ruled_text(%1$L, c.full_name, s.full_name) AS full_name_in,
                         c.linkedin_profile, ruled_text(%2$L, c.linkedin_profile, s.linkedin_profile)
                             AS linkedin_profile_in,
                         c.company, ruled_text(%3$L, c.company, s.company) AS company_in,
                         c.locale, ruled_text(%4$L, c.locale, s.locale) AS locale_in,
                         c.timezone, ruled_text(%5$L, c.timezone, s.timezone) AS timezone_in,
                         c.metadata, ruled_metadata(%6$L, c.metadata, s.metadata) AS metadata_in
                  -- the slice's rows to match come first, as a subquery of temporary tables alone:
                  -- Citus joins it to contacts as one result, not row by row
                  FROM (SELECT * FROM import_stage st WHERE st.pos >= $1 AND st.pos < $2) s
                  JOIN contacts c ON c.email = s.email
                  WHERE c.id <> import_contact_id($3, s.pos)) ruled
            OFFSET 0  -- not flattened into the outer query: `previous` is computed once
        ) matched
    ) compared
    $match$, field_rule(p_rules, 'full_name'), field_rule(p_rules, 'linkedin_profile'),
             field_rule(p_rules, 'company'), field_rule(p_rules, 'locale'), field_rule(p_rules, 'timezone'),
             field_rule(p_rules, 'metadata'))
    USING p_from, p_to, p_prefix;
END;
$$;

-- The review: what merge_import_stage would do with the staged rows, computed with the same
-- functions, locking and writing nothing (the commit reads the stored values again under its
-- locks). One pass counts the stored contacts matched, those that change, and each field's changes.
DROP FUNCTION IF EXISTS review_import_stage();
DROP FUNCTION IF EXISTS review_import_stage(jsonb);
CREATE FUNCTION review_import_stage(p_rules jsonb,
    OUT matched bigint, OUT changed bigint, OUT full_name bigint, OUT linkedin_profile bigint,
    OUT company bigint, OUT locale bigint, OUT timezone bigint, OUT metadata bigint)
-- PL/pgSQL, not SQL: Citus plans a SQL function's query with parameters, which it cannot distribute
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    SELECT count(*), count(*) FILTER (WHERE fn OR lp OR co OR lo OR tz OR md),
           count(*) FILTER (WHERE fn), count(*) FILTER (WHERE lp), count(*) FILTER (WHERE co),
           count(*) FILTER (WHERE lo), count(*) FILTER (WHERE tz), count(*) FILTER (WHERE md)
    INTO matched, changed, full_name, linkedin_profile, company, locale, timezone, metadata
    FROM (SELECT text_changes(c.full_name, ruled_text(p_rules->>'full_name', c.full_name, s.full_name)) AS fn,
                 text_changes(c.linkedin_profile, ruled_text(p_rules->>'linkedin_profile', c.linkedin_profile,
                                                             s.linkedin_profile)) AS lp,
                 text_changes(c.company, ruled_text(p_rules->>'company', c.company, s.company)) AS co,
                 text_changes(c.locale, ruled_text(p_rules->>'locale', c.locale, s.locale)) AS lo,
                 text_changes(c.timezone, ruled_text(p_rules->>'timezone', c.timezone, s.timezone)) AS tz,
                 metadata_changes(c.metadata, ruled_metadata(p_rules->>'metadata', c.metadata, s.metadata)) AS md,
                 -- a volatile column keeps PostgreSQL from pulling the subquery up into the
                 -- counts, so each comparison is made once per row, not once per use; unlike
                 -- OFFSET 0, it lets Citus count on each shard rather than ship every row here
                 random() AS once
          FROM import_stage s JOIN contacts c ON c.email = s.email) AS compared;
END;
$$;

-- The review's first p_limit changes, in row order: one row per changed field, old -> new as text
-- (metadata as JSON). Only the first rows that change anything are compared field by field.
DROP FUNCTION IF EXISTS review_import_changes(integer);
DROP FUNCTION IF EXISTS review_import_changes(integer, jsonb);
CREATE FUNCTION review_import_changes(p_limit integer, p_rules jsonb)
RETURNS TABLE (row_number integer, email text, field text, old text, new text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT m.row_number, m.email, f.field, COALESCE(f.old, ''), COALESCE(f.new, '')
        FROM (SELECT * FROM (
                  SELECT s.row_number, s.email,  -- the incoming values as the rules let them through
                         ruled_text(p_rules->>'full_name', c.full_name, s.full_name) AS full_name,
                         ruled_text(p_rules->>'linkedin_profile', c.linkedin_profile, s.linkedin_profile)
                             AS linkedin_profile,
                         ruled_text(p_rules->>'company', c.company, s.company) AS company,
                         ruled_text(p_rules->>'locale', c.locale, s.locale) AS locale,
                         ruled_text(p_rules->>'timezone', c.timezone, s.timezone) AS timezone,
                         ruled_metadata(p_rules->>'metadata', c.metadata, s.metadata) AS metadata,
                         c.full_name AS c_full_name, c.linkedin_profile AS c_linkedin_profile,
                         c.company AS c_company, c.locale AS c_locale, c.timezone AS c_timezone,
                         c.metadata AS c_metadata
                  FROM import_stage s JOIN contacts c ON c.email = s.email) AS r
              WHERE text_changes(c_full_name, full_name) OR text_changes(c_linkedin_profile, linkedin_profile)
                 OR text_changes(c_company, company) OR text_changes(c_locale, locale)
                 OR text_changes(c_timezone, timezone) OR metadata_changes(c_metadata, metadata)
              ORDER BY r.row_number
              LIMIT p_limit) AS m
        CROSS JOIN LATERAL (VALUES
            (1, 'full_name', m.c_full_name, merged_text(m.c_full_name, m.full_name),
                text_changes(m.c_full_name, m.full_name)),
            (2, 'linkedin_profile', m.c_linkedin_profile, merged_text(m.c_linkedin_profile, m.linkedin_profile),
                text_changes(m.c_linkedin_profile, m.linkedin_profile)),
            (3, 'company', m.c_company, merged_text(m.c_company, m.company), text_changes(m.c_company, m.company)),
            (4, 'locale', m.c_locale, merged_text(m.c_locale, m.locale), text_changes(m.c_locale, m.locale)),
            (5, 'timezone', m.c_timezone, merged_text(m.c_timezone, m.timezone),
                text_changes(m.c_timezone, m.timezone)),
            (6, 'metadata', m.c_metadata::text, merged_metadata(m.c_metadata, m.metadata)::text,
                metadata_changes(m.c_metadata, m.metadata))
        ) AS f(position, field, old, new, changes)
        WHERE f.changes
        ORDER BY m.row_number, f.position
        LIMIT p_limit;
END;
$$;

-- The planner's statistics of contacts, refreshed after a commit that inserted many contacts
-- (core.storage.commit.refresh_statistics). ANALYZE needs the table's owner, which the
-- application's role is not (sql/020_app_role.sql): this function runs as its owner, and does
-- only that.
CREATE OR REPLACE FUNCTION refresh_contact_statistics() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    ANALYZE contacts;
END;
$$;
