-- The contacts an import matched but did not change (issue 8): the review shows them apart from the
-- updates, and so do the commit's result and the history. `updated` keeps the seed's meaning
-- (every stored contact the import linked), so updated - unchanged of them changed.
ALTER TABLE imports ADD COLUMN unchanged integer NOT NULL DEFAULT 0;
