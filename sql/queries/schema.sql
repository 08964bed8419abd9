-- schema.sql - what the migrator (server/migrate.c) asks about the schema. These run before the
-- tables exist, so the migrator executes them unprepared; every other query is prepared.

-- name: schema_lock
-- Serialises migrations of several servers starting at once (transaction-scoped advisory lock).
SELECT pg_advisory_xact_lock($1::bigint);

-- name: schema_exists
SELECT to_regclass('schema_version') IS NOT NULL;

-- name: schema_version_max
SELECT coalesce(max(version), 0) FROM schema_version;

-- name: schema_version_record
INSERT INTO schema_version (version, name) VALUES ($1::integer, $2);
