-- workers.sql - the worker side of jobs: registration, claims under a lease, heartbeats,
-- per-operator reports, lapsed leases (server/workers.c, server/claim.c, server/lease.c).

-- name: worker_insert
-- POST /v1/workers. $1 name, $2 host, $3 pool, $4 category id, $5 fingerprint, $6 token id.
INSERT INTO workers (name, host, pool, category_id, fingerprint, token_id)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::bigint)
RETURNING id, fr_time(registered_at);

-- name: worker_seen
-- Every claim poll: the worker is alive. No row back: unknown or signed off.
UPDATE workers SET last_seen = now()
WHERE id = $1::bigint AND stopped_at IS NULL
RETURNING pool, category_id, token_id, fingerprint::text, name, host;

-- name: worker_stop
-- DELETE /v1/workers/{id}: the worker signs off.
UPDATE workers SET stopped_at = now()
WHERE id = $1::bigint AND stopped_at IS NULL
RETURNING token_id;

-- name: worker_jobs_held
-- DELETE /v1/workers/{id}: the jobs worker $1 still holds (a claim whose answer it never read,
-- because it was stopping), locked, to be handed back in the sign-off's transaction.
SELECT id, attempt FROM jobs WHERE worker_id = $1::bigint AND state = 'running' FOR UPDATE;

-- name: workers_list
-- GET /v1/workers: $1 true lists every worker ever registered, else those not signed off and
-- seen in the last $2 seconds or running a job; with the job each one is running.
SELECT w.id, w.name, w.host, w.pool, w.category_id, w.fingerprint::text,
       fr_time(w.registered_at), fr_time(w.last_seen), fr_time(w.stopped_at),
       w.stopped_at IS NULL AND w.last_seen > now() - make_interval(secs => $2::double precision),
       j.id, j.attempt, j.model_name
FROM workers w
LEFT JOIN jobs j ON j.worker_id = w.id AND j.state = 'running'
WHERE $1::boolean
   OR (w.stopped_at IS NULL AND w.last_seen > now() - make_interval(secs => $2::double precision))
   OR j.id IS NOT NULL
ORDER BY w.id;

-- name: jobs_expired
-- Running jobs whose lease lapsed, locked; SKIP LOCKED lets several servers sweep at once
-- (jobs_leased).
SELECT j.id, j.attempt, j.failures, j.max_failures, j.worker_id, w.name, w.host,
       fr_time(j.lease_expires)
FROM jobs j JOIN workers w ON w.id = j.worker_id
WHERE j.state = 'running' AND j.lease_expires < now()
ORDER BY j.lease_expires
LIMIT 100
FOR UPDATE OF j SKIP LOCKED;

-- name: job_claim
-- The claim: the first queued job this worker may take, by priority then age, skipping rows
-- another claim holds (jobs_claimable). $1 the worker's pool, $2 its category, $3 its id: a
-- worker that signed off, or whose token was revoked, while its long-poll was still waiting
-- gets nothing (the token was checked when the request began, seconds ago).
SELECT id FROM jobs
WHERE state = 'queued' AND not_before <= now()
  AND ((target_kind = 'pool' AND target = $1) OR (target_kind = 'category' AND target = $2))
  AND EXISTS (SELECT 1 FROM workers w LEFT JOIN tokens t ON t.id = w.token_id
              WHERE w.id = $3::bigint AND w.stopped_at IS NULL
                AND (w.token_id IS NULL OR t.revoked_at IS NULL))
ORDER BY priority DESC, id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: job_start
-- Job $1 (locked by job_claim) goes to worker $2 of category $3 under a lease of $4 seconds;
-- the attempt number moves on, which fences every earlier holder.
UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = $2::bigint,
                category_id = $3, error = NULL,
                lease_expires = now() + make_interval(secs => $4::double precision),
                started_at = coalesce(started_at, now()), updated_at = now()
WHERE id = $1::bigint
RETURNING attempt, fr_time(lease_expires), mode, weight_preprocess, model_name, force;

-- name: job_attempt_insert
INSERT INTO job_attempts (job_id, attempt, worker_id, category_id)
VALUES ($1::bigint, $2::integer, $3::bigint, $4);

-- name: job_operators_pending
-- The operators a claim hands out: those still pending, in model order.
SELECT idx, name, key FROM job_operators
WHERE job_id = $1::bigint AND state = 'pending' ORDER BY idx;

-- name: job_lease_extend
-- A heartbeat or a report of the lease holder: the lease runs $2 seconds from now.
UPDATE jobs SET lease_expires = now() + make_interval(secs => $2::double precision),
                updated_at = now()
WHERE id = $1::bigint
RETURNING fr_time(lease_expires);

-- name: job_operator_lock
-- A report: the operator's row, locked with the job's.
SELECT key, state, attempt, worker_id FROM job_operators
WHERE job_id = $1::bigint AND idx = $2::integer FOR UPDATE;

-- name: job_operator_done
-- A report landed: operator $2 of job $1 and every other pending operator with the same key
-- ($13) are done with upload $6. $3 category, $4 attempt, $5 worker, $7 candidates, $8 failed
-- candidates, $9 best algorithm, $10 its median, $11 conditions, $12 seconds spent.
UPDATE job_operators
SET state = 'done', category_id = $3, attempt = $4::integer, worker_id = $5::bigint,
    upload_id = $6::bigint, reports = reports + 1, candidates = $7::integer,
    failed_candidates = $8::integer, best_algorithm = $9, best_ms = $10::double precision,
    conditions = $11::jsonb, duration_s = $12::double precision, finished_at = now()
WHERE job_id = $1::bigint AND (idx = $2::integer OR (key = $13 AND state = 'pending'))
RETURNING idx;

-- name: upload_conditions
-- The measurement conditions of a worker's upload.
UPDATE uploads SET conditions = $2::jsonb WHERE id = $1::bigint;
