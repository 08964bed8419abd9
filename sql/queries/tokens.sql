-- tokens.sql - bearer tokens (server/auth.c, server/tokens.c). Only SHA-256 hashes are stored.

-- name: token_insert
INSERT INTO tokens (name, role, hash) VALUES ($1, $2, $3)
RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');

-- name: token_lookup
-- Every request that needs a token: uses tokens_by_hash.
SELECT id, role, name, hash FROM tokens WHERE hash = $1 AND revoked_at IS NULL;

-- name: tokens_list
SELECT id, name, role,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM tokens ORDER BY id;

-- name: token_revoke
UPDATE tokens SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL RETURNING id;
