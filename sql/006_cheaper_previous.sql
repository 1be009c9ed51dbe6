-- Re-imports (issue 4): most matched contacts do not change, yet _merge_import_lock (003) built the
-- whole `previous` object (jsonb_build_object of six fields, then minus the unchanged keys) for
-- every one of them. Now the six comparisons come first and a contact with nothing to change gets
-- '{}' directly; the object is built only for contacts that change. Same result, same locking
-- (FOR UPDATE, in pos order, from the locked current row). On a 1M-row all-update re-import the
-- locking read went from ~6.5-7.3 s to ~4.4 s (EXPLAIN ANALYZE in one transaction).
CREATE OR REPLACE FUNCTION _merge_import_lock(p_prefix text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO import_matched
    SELECT id, pos, src_row, new_full_name, new_linkedin_profile, new_company, new_locale,
           new_timezone, new_metadata,
           CASE WHEN new_full_name IS NOT DISTINCT FROM full_name
                 AND new_linkedin_profile IS NOT DISTINCT FROM linkedin_profile
                 AND new_company IS NOT DISTINCT FROM company
                 AND new_locale IS NOT DISTINCT FROM locale
                 AND new_timezone IS NOT DISTINCT FROM timezone
                 AND new_metadata IS NOT DISTINCT FROM metadata
           THEN '{}'::jsonb
           ELSE jsonb_build_object('full_name', full_name, 'linkedin_profile', linkedin_profile,
                                   'company', company, 'locale', locale, 'timezone', timezone,
                                   'metadata', metadata)
                - array_remove(ARRAY[
                    CASE WHEN new_full_name IS NOT DISTINCT FROM full_name THEN 'full_name' END,
                    CASE WHEN new_linkedin_profile IS NOT DISTINCT FROM linkedin_profile THEN 'linkedin_profile' END,
                    CASE WHEN new_company IS NOT DISTINCT FROM company THEN 'company' END,
                    CASE WHEN new_locale IS NOT DISTINCT FROM locale THEN 'locale' END,
                    CASE WHEN new_timezone IS NOT DISTINCT FROM timezone THEN 'timezone' END,
                    CASE WHEN new_metadata IS NOT DISTINCT FROM metadata THEN 'metadata' END
                  ], NULL)
           END
    FROM (
        SELECT c.id, s.pos, s.row_number AS src_row,
               c.full_name, c.linkedin_profile, c.company, c.locale, c.timezone, c.metadata,
               COALESCE(s.full_name, c.full_name)               AS new_full_name,
               COALESCE(s.linkedin_profile, c.linkedin_profile) AS new_linkedin_profile,
               COALESCE(s.company, c.company)                   AS new_company,
               COALESCE(s.locale, c.locale)                     AS new_locale,
               COALESCE(s.timezone, c.timezone)                 AS new_timezone,
               c.metadata || COALESCE(s.metadata, '{}'::jsonb)  AS new_metadata
        FROM import_stage s JOIN contacts c ON c.email = s.email
        WHERE p_prefix IS NULL
           OR (c.id <> import_contact_id(p_prefix, s.pos)
               AND NOT EXISTS (SELECT 1 FROM import_matched m WHERE m.pos = s.pos))
        ORDER BY s.pos
        FOR UPDATE OF c
    ) locked;
END;
$$;
