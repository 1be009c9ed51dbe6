-- A schema Citus can distribute (issue 12), the same on one PostgreSQL server.
--
-- Citus keeps a distributed table's rows in shards by one column, and a unique key or a foreign
-- key between distributed tables must include it. contacts is distributed by email: its
-- uniqueness is the rule the import stands on, and every lookup of the merge goes by email.
-- import_contacts is distributed by email too, in the same shards (co-located), so each link's
-- foreign key to its contact, (email, contact_id) -> contacts (email, id), is checked on the worker
-- that holds both. The small tables that everything refers to (imports, campaigns,
-- campaign_imports) are reference tables, a copy on every node; an import's rejected rows are
-- distributed by import. The rest (keys, mappings, drafts, progress, the audit trail) stay on the
-- coordinator: nothing joins them to a distributed table.
--
-- On Citus, DDL on a distributed table is sent to the workers as the text it came in, and a file
-- is sent as one text (core.database.migrate): such statements go inside a DO block, where each
-- is a text of its own.

-- 1. Links carry their contact's email, the key they are sharded by.
ALTER TABLE import_contacts ADD COLUMN email text;
UPDATE import_contacts l SET email = c.email FROM contacts c WHERE c.id = l.contact_id;
ALTER TABLE import_contacts ALTER COLUMN email SET NOT NULL;

-- 2. Keys that include the email. A contact's id stays unique on one server (a unique index);
--    on Citus it is a plain index (ids are random or time-ordered UUIDs).
ALTER TABLE import_contacts DROP CONSTRAINT import_contacts_contact_id_fkey;
ALTER TABLE import_contacts DROP CONSTRAINT import_contacts_pkey;
ALTER TABLE import_contacts ADD CONSTRAINT import_contacts_pkey PRIMARY KEY (import_id, email);
ALTER TABLE contacts DROP CONSTRAINT contacts_pkey;
ALTER TABLE contacts ADD CONSTRAINT contacts_pkey PRIMARY KEY (email, id);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        -- DDL and data of one transaction go over one connection per node
        SET LOCAL citus.multi_shard_modify_mode TO sequential;
        PERFORM create_reference_table('campaigns');
        PERFORM create_reference_table('imports');
        PERFORM create_reference_table('campaign_imports');
        PERFORM create_distributed_table('contacts', 'email');
        PERFORM create_distributed_table('import_contacts', 'email', colocate_with => 'contacts');
        PERFORM create_distributed_table('import_errors', 'import_id');
        PERFORM create_distributed_table('import_error_rows', 'import_id', colocate_with => 'import_errors');
        CREATE INDEX contacts_id_idx ON contacts (id);
    ELSE
        CREATE UNIQUE INDEX contacts_id_idx ON contacts (id);
    END IF;
    -- 3. Every link has its contact, and goes with it.
    ALTER TABLE import_contacts ADD CONSTRAINT import_contacts_contact_fkey
        FOREIGN KEY (email, contact_id) REFERENCES contacts (email, id) ON DELETE CASCADE;
END $$;
