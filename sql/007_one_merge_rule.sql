-- The merge functions now live in sql/functions/merge.sql, re-applied on every start (issue 8).
-- apply_import_stage (002) was a second, slower copy of the merge rule kept only for a test.
DROP FUNCTION IF EXISTS apply_import_stage(uuid);
