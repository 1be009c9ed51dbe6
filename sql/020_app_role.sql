-- Least privilege (issue 21, point 5). The console, the API and the CLI connect as
-- contact_import_app: not a superuser, owner of nothing, allowed to read and write the rows of the
-- tables, to add to the audit trail but never to change or remove what it holds, and to read but
-- not write the schema's record of migrations. Migrations run as the tables' owner, the role that
-- runs this file (core.storage.database: the embedded server's superuser, or the URL in
-- CONTACT_IMPORT_OWNER_URL). So the application cannot do what the audit trail's triggers alone
-- did not stop a superuser doing: SET session_replication_role = replica, ALTER TABLE ... DISABLE
-- TRIGGER, DROP TABLE, TRUNCATE. Roles belong to the server, not to one database: the role is made
-- once; each database grants it what it needs. Its password, if the server asks for one, is the
-- operator's to set (README, "Database").
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contact_import_app') THEN
        CREATE ROLE contact_import_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO contact_import_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO contact_import_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO contact_import_app;
REVOKE UPDATE, DELETE ON audit_log FROM contact_import_app;
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM contact_import_app;
-- Tables and sequences later migrations make, the same way (audit-like tables revoke as above).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO contact_import_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO contact_import_app;
