-- Contacts leave half of each page free (issue 20): an update that leaves the LinkedIn profile
-- alone (the one indexed column an update may change) then writes the contact's new version on
-- the same page, as a heap-only tuple (HOT), which adds no entry to any of the table's four
-- indexes. Those entries were three quarters of a rewrite's cost: a re-import of 1M realistic
-- rows that changes every contact went 37.1-37.3 -> 27.1-27.4 s (bench/README.md). The table
-- takes twice the pages (201 -> 410 MB for 1M realistic contacts; the indexes keep their size).
-- Only pages written from now on are half full: a table loaded before keeps its packed pages until
-- it is rewritten (VACUUM FULL).
DO $$
BEGIN
    ALTER TABLE contacts SET (fillfactor = 50);
END $$;
