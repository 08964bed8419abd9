-- categories.sql - reading categories and their merged profiles (server/categories.c,
-- server/doccache.c).

-- name: categories_list
-- GET /v1/categories.
SELECT id, fingerprint::text, nkeys, nresults, nreports, revision,
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM categories ORDER BY id;

-- name: category_revisions
-- Every download: the current revision of each requested category (categories_pkey), compared
-- with the revision of the cached document. $1 is a text array of validated ids.
SELECT id, revision FROM categories WHERE id = ANY($1::text[]);

-- name: category_get
-- Building a category's document (inside begin_snapshot, with category_profiles).
SELECT fingerprint::text, revision FROM categories WHERE id = $1;

-- name: category_profiles
-- Building a category's document: its merged results in key order (profiles_pkey).
SELECT key, result::text FROM profiles WHERE category_id = $1 ORDER BY key, algorithm;

-- name: category_heuristics
-- Building a category's document: the heuristic's pick per key (heuristics_pkey).
SELECT key, algorithm FROM heuristics WHERE category_id = $1 ORDER BY key;
