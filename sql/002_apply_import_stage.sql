-- Set-based upsert of one import's staged rows (temp table import_stage, one row per email),
-- called inside the commit transaction. Rules (ARCHITECTURE.md "Import rules"):
--   * a new email inserts, a known email updates;
--   * an empty (NULL) incoming value never erases a stored one;
--   * metadata merges key by key, incoming keys win;
--   * every staged row is linked to the import with its action, and an update keeps in
--     `previous` the stored values of exactly the fields it changed (undo data).
-- Rows are always locked and inserted in email order, so concurrent imports that share
-- emails wait for each other instead of deadlocking.
CREATE FUNCTION apply_import_stage(p_import uuid, OUT inserted integer, OUT updated integer)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM contacts c JOIN import_stage s ON s.email = c.email
        ORDER BY c.email FOR UPDATE OF c;

    WITH ins AS (
        INSERT INTO contacts (email, full_name, linkedin_profile, company, locale, timezone, metadata)
        SELECT email, full_name, linkedin_profile, company, locale, timezone,
               COALESCE(metadata, '{}'::jsonb)
        FROM import_stage ORDER BY email
        ON CONFLICT (email) DO NOTHING
        RETURNING id, email
    )
    INSERT INTO import_contacts (import_id, contact_id, action, row_number, previous)
    SELECT p_import, ins.id, 'inserted', s.row_number, NULL
    FROM ins JOIN import_stage s ON s.email = ins.email;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    -- Rows that a concurrent import inserted after our first lock are locked here, before the
    -- snapshot below reads their current values.
    PERFORM 1 FROM contacts c JOIN import_stage s ON s.email = c.email
        WHERE NOT EXISTS (SELECT 1 FROM import_contacts l
                          WHERE l.import_id = p_import AND l.contact_id = c.id)
        ORDER BY c.email FOR UPDATE OF c;

    WITH old AS (
        SELECT c.*, s.row_number AS src_row,
               COALESCE(s.full_name, c.full_name)               AS new_full_name,
               COALESCE(s.linkedin_profile, c.linkedin_profile) AS new_linkedin_profile,
               COALESCE(s.company, c.company)                   AS new_company,
               COALESCE(s.locale, c.locale)                     AS new_locale,
               COALESCE(s.timezone, c.timezone)                 AS new_timezone,
               c.metadata || COALESCE(s.metadata, '{}'::jsonb)  AS new_metadata
        FROM contacts c JOIN import_stage s ON s.email = c.email
        WHERE NOT EXISTS (SELECT 1 FROM import_contacts l
                          WHERE l.import_id = p_import AND l.contact_id = c.id)
    ), diff AS (
        SELECT old.*,
               jsonb_build_object('full_name', full_name, 'linkedin_profile', linkedin_profile,
                                  'company', company, 'locale', locale, 'timezone', timezone,
                                  'metadata', metadata)
               - array_remove(ARRAY[
                   CASE WHEN new_full_name IS NOT DISTINCT FROM full_name THEN 'full_name' END,
                   CASE WHEN new_linkedin_profile IS NOT DISTINCT FROM linkedin_profile THEN 'linkedin_profile' END,
                   CASE WHEN new_company IS NOT DISTINCT FROM company THEN 'company' END,
                   CASE WHEN new_locale IS NOT DISTINCT FROM locale THEN 'locale' END,
                   CASE WHEN new_timezone IS NOT DISTINCT FROM timezone THEN 'timezone' END,
                   CASE WHEN new_metadata IS NOT DISTINCT FROM metadata THEN 'metadata' END
                 ], NULL) AS previous
        FROM old
    ), upd AS (
        UPDATE contacts c SET
            full_name = d.new_full_name,
            linkedin_profile = d.new_linkedin_profile,
            company = d.new_company,
            locale = d.new_locale,
            timezone = d.new_timezone,
            metadata = d.new_metadata,
            updated_at = CASE WHEN d.previous = '{}'::jsonb THEN c.updated_at ELSE now() END
        FROM diff d WHERE c.id = d.id
        RETURNING c.id, d.src_row, d.previous
    )
    INSERT INTO import_contacts (import_id, contact_id, action, row_number, previous)
    SELECT p_import, id, 'updated', src_row, previous FROM upd;
    GET DIAGNOSTICS updated = ROW_COUNT;
END;
$$;
