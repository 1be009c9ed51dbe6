-- How far a running commit is (issue 10, point 6), written as it goes from another connection than
-- the commit's, so any tab or process can show it: the commit's own transaction holds the import's
-- row locked, and its writes are invisible until it ends. No foreign key: checking one would wait
-- for that lock. One row per import, replaced as the commit moves and deleted when it ends.
CREATE TABLE import_progress (
    import_id uuid PRIMARY KEY,
    stage text NOT NULL,
    done bigint NOT NULL,
    total bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
