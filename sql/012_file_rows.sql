-- The rows the file held (issue 10, point 2): total_rows is the seed's count of contacts written,
-- which a file with invalid or repeated rows does not reach. NULL for imports made before.
ALTER TABLE imports ADD COLUMN file_rows integer;
