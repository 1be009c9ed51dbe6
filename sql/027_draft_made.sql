-- When a draft was made (issue 23): the list of unfinished imports says when each was started and
-- how many rows it holds (the rows are in its state, written when it is saved).
ALTER TABLE drafts ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
