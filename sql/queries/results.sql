-- results.sql - storing an upload and re-merging what it touched, all in one transaction
-- (server/store.c).

-- name: upload_insert
-- $1 upload key (client upload id or content hash), $2 source, $3 host, $4 time, $5 token id.
-- No row back means this upload was already stored: the request changes nothing.
INSERT INTO uploads (upload_key, source, host, measured_at, token_id)
VALUES ($1, $2, $3, $4::timestamptz, $5::bigint)
ON CONFLICT (upload_key) DO NOTHING
RETURNING id;

-- name: upload_find
SELECT id FROM uploads WHERE upload_key = $1;

-- name: upload_count
UPDATE uploads SET nreports = $2::integer WHERE id = $1::bigint;

-- name: category_ensure
INSERT INTO categories (id, fingerprint) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING;

-- name: category_lock
-- Serialises merges into one category across server processes (categories_pkey).
SELECT revision FROM categories WHERE id = $1 FOR UPDATE;

-- name: report_insert
-- No row back means the same report (same content hash) is already stored.
INSERT INTO reports (upload_id, category_id, key, algorithm, result, content_hash)
VALUES ($1::bigint, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (content_hash) DO NOTHING
RETURNING id;

-- name: reports_of_profile
-- The input of one merge (reports_by_profile).
SELECT result::text FROM reports
WHERE category_id = $1 AND key = $2 AND algorithm = $3 ORDER BY id;

-- name: profile_upsert
INSERT INTO profiles (category_id, key, algorithm, result, median_ms, reports)
VALUES ($1, $2, $3, $4::jsonb, $5::double precision, $6::integer)
ON CONFLICT (category_id, key, algorithm) DO UPDATE
SET result = EXCLUDED.result, median_ms = EXCLUDED.median_ms, reports = EXCLUDED.reports,
    updated_at = now();

-- name: category_bump
-- In the transaction of the change: a new revision and fresh counts.
UPDATE categories
SET revision = revision + 1, updated_at = now(), nreports = nreports + $2::bigint,
    nkeys = (SELECT count(DISTINCT key) FROM profiles WHERE category_id = $1),
    nresults = (SELECT count(*) FROM profiles WHERE category_id = $1)
WHERE id = $1
RETURNING revision;

-- name: heuristic_upsert
-- $1 category, $2 key, $3 algorithm. A row back means the pick is new or changed (the category's
-- revision must then move); the same pick again returns nothing.
INSERT INTO heuristics (category_id, key, algorithm) VALUES ($1, $2, $3)
ON CONFLICT (category_id, key) DO UPDATE SET algorithm = EXCLUDED.algorithm, updated_at = now()
WHERE heuristics.algorithm <> EXCLUDED.algorithm
RETURNING key;
