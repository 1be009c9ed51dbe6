-- When an import last changed contacts (issue 11): its commit, or the last batch the HTTP API
-- added to it, which may come long before the API completes it. Undo orders imports by it.
ALTER TABLE imports ADD COLUMN changed_at timestamptz;
UPDATE imports SET changed_at = completed_at WHERE status IN ('completed', 'reverted');
