-- health.sql - connection set-up and liveness.

-- name: ping
-- GET /readyz: the database answers.
SELECT 1;

-- name: session_setup
-- Run on every new connection: no statement may hold a pooled connection forever.
SELECT set_config('statement_timeout', $1, false);
