-- 001_core.sql - the fleet's caches: categories, uploads with their provenance, the raw reports,
-- the merged profile of every (category, key, algorithm), and API tokens.
--
-- Applied by fastrun-server at start-up (server/migrate.c) inside one transaction and recorded
-- in schema_version. Text that is compared or ordered byte-wise (ids, keys, algorithm names) is
-- COLLATE "C", so PostgreSQL's order is strcmp's order, the order of the cache document.
-- The comments on each table and index name the queries of sql/queries/ that they serve.

CREATE TABLE schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_version IS
    'One row per applied migration (schema_version_max, schema_version_record).';

CREATE TABLE tokens (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    role       text NOT NULL CHECK (role IN ('reader', 'submitter', 'worker', 'admin')),
    hash       text COLLATE "C" NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
COMMENT ON TABLE tokens IS
    'Bearer tokens; only the SHA-256 of a token is kept (token_insert, tokens_list, token_revoke).';
CREATE UNIQUE INDEX tokens_by_hash ON tokens (hash);
COMMENT ON INDEX tokens_by_hash IS
    'token_lookup: the hash of the presented bearer token, once per authenticated request.';

CREATE TABLE categories (
    id          text COLLATE "C" PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    fingerprint jsonb NOT NULL,
    revision    bigint NOT NULL DEFAULT 0,
    nkeys       integer NOT NULL DEFAULT 0,
    nresults    integer NOT NULL DEFAULT 0,
    nreports    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE categories IS
    'Where a measurement is valid. revision is bumped in the transaction of every change to the '
    'category''s profiles, so a cached document is revalidated by comparing revisions '
    '(categories_list, category_ensure, category_lock, category_bump).';
COMMENT ON INDEX categories_pkey IS
    'category_revisions (one indexed lookup per download, the revalidation of cached documents), '
    'category_get, category_lock.';

CREATE TABLE uploads (
    id          bigserial PRIMARY KEY,
    upload_key  text COLLATE "C" NOT NULL,
    source      text NOT NULL CHECK (source IN ('worker', 'user')),
    host        text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    measured_at timestamptz NOT NULL,
    token_id    bigint REFERENCES tokens (id),
    received_at timestamptz NOT NULL DEFAULT now(),
    nreports    integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE uploads IS
    'One row per accepted POST /v1/results with its provenance (upload_insert, upload_count).';
CREATE UNIQUE INDEX uploads_by_key ON uploads (upload_key);
COMMENT ON INDEX uploads_by_key IS
    'upload_insert (ON CONFLICT: a retried upload changes nothing), upload_find.';

CREATE TABLE reports (
    id           bigserial PRIMARY KEY,
    upload_id    bigint NOT NULL REFERENCES uploads (id),
    category_id  text COLLATE "C" NOT NULL REFERENCES categories (id),
    key          text COLLATE "C" NOT NULL,
    algorithm    text COLLATE "C" NOT NULL,
    result       jsonb NOT NULL,
    content_hash text COLLATE "C" NOT NULL
);
COMMENT ON TABLE reports IS
    'Raw reports as uploaded, never changed: the input of the merge (report_insert).';
CREATE UNIQUE INDEX reports_by_content ON reports (content_hash);
COMMENT ON INDEX reports_by_content IS
    'report_insert: SHA-256 of (category, key, algorithm, figures, provenance); the same report '
    'twice is stored once.';
CREATE INDEX reports_by_profile ON reports (category_id, key, algorithm);
COMMENT ON INDEX reports_by_profile IS
    'reports_of_profile: every report of one (category, key, algorithm), read to re-merge it.';
CREATE INDEX reports_by_upload ON reports (upload_id);
COMMENT ON INDEX reports_by_upload IS 'Foreign key support: the reports of one upload.';

CREATE TABLE profiles (
    category_id text COLLATE "C" NOT NULL REFERENCES categories (id),
    key         text COLLATE "C" NOT NULL,
    algorithm   text COLLATE "C" NOT NULL,
    result      jsonb NOT NULL,
    median_ms   double precision,
    reports     integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, key, algorithm)
);
COMMENT ON TABLE profiles IS
    'The merged figure of every (category, key, algorithm) (frc_merge_results over its reports); '
    'median_ms is NULL for a failure.';
COMMENT ON INDEX profiles_pkey IS
    'profile_upsert; category_profiles (one category in key order, to build its document); '
    'category_bump (counts).';
