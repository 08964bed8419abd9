-- jobs.sql - profiling jobs as submitters and readers see them: submit, read, list, cancel
-- (server/jobs.c, server/job_view.c). The worker side of jobs is in workers.sql.

-- name: job_insert
-- POST /v1/jobs. $1 model name, $2 model (jsonb), $3 target kind, $4 target, $5 mode, $6 weight
-- preprocess, $7 priority, $8 force, $9 max failures, $10 submitter's token id, $11 category
-- (the target when it is a category, else NULL).
INSERT INTO jobs (model_name, model, target_kind, target, mode, weight_preprocess, priority,
                  force, max_failures, submitted_by, category_id)
VALUES ($1, $2::jsonb, $3, $4, $5, $6::boolean, $7::integer, $8::boolean, $9::integer,
        $10::bigint, $11)
RETURNING id;

-- name: job_operators_insert
-- POST /v1/jobs: every operator at once. $2 is a JSON array of {"name", "key"} in model order.
INSERT INTO job_operators (job_id, idx, name, key)
SELECT $1::bigint, (e.ord - 1)::integer, e.value->>'name', e.value->>'key'
FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord);

-- name: job_operators_cache
-- The server-side resume: pending operators whose key already has results in category $2 become
-- cached (profiles_pkey on (category_id, key)). At submission for a category target, at each
-- claim for the claiming worker's category. Returns how many changed.
WITH cached AS (
    UPDATE job_operators o SET state = 'cached', category_id = $2, finished_at = now()
    WHERE o.job_id = $1::bigint AND o.state = 'pending'
      AND EXISTS (SELECT 1 FROM profiles p WHERE p.category_id = $2 AND p.key = o.key)
    RETURNING 1)
SELECT count(*) FROM cached;

-- name: job_progress
-- Operators of job $1 by state (job_operators_pkey).
SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'cached'),
       count(*) FILTER (WHERE state = 'done'), count(*)
FROM job_operators WHERE job_id = $1::bigint;

-- name: job_get
-- GET /v1/jobs/{id}: the job, its current worker and its progress. Columns are read by name
-- position in server/job_view.c (JOB_COLUMNS there).
SELECT j.id, j.state, j.model_name, j.target_kind, j.target, j.mode, j.weight_preprocess,
       j.priority, j.force, j.category_id, j.attempt, j.failures, j.max_failures,
       j.worker_id, w.name, w.host, fr_time(j.lease_expires), fr_time(j.not_before),
       j.error, fr_time(j.created_at), fr_time(j.started_at), fr_time(j.finished_at),
       fr_time(j.updated_at), p.pending, p.cached, p.done, p.total,
       j.state = 'running' AND j.lease_expires < now()
FROM jobs j
LEFT JOIN workers w ON w.id = j.worker_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.state = 'pending') AS pending,
           count(*) FILTER (WHERE o.state = 'cached') AS cached,
           count(*) FILTER (WHERE o.state = 'done') AS done, count(*) AS total
    FROM job_operators o WHERE o.job_id = j.id) p
WHERE j.id = $1::bigint;

-- name: job_state
-- GET /v1/jobs/{id}?wait: the cheap poll while waiting for the job to end.
SELECT state, coalesce(error, '') FROM jobs WHERE id = $1::bigint;

-- name: jobs_list
-- GET /v1/jobs, newest first. $1 states (text array or NULL), $2 target (or NULL), $3 category
-- (or NULL), $4 only ids below this one (keyset pagination, or NULL), $5 page size. The same
-- columns as job_get.
SELECT j.id, j.state, j.model_name, j.target_kind, j.target, j.mode, j.weight_preprocess,
       j.priority, j.force, j.category_id, j.attempt, j.failures, j.max_failures,
       j.worker_id, w.name, w.host, fr_time(j.lease_expires), fr_time(j.not_before),
       j.error, fr_time(j.created_at), fr_time(j.started_at), fr_time(j.finished_at),
       fr_time(j.updated_at), p.pending, p.cached, p.done, p.total,
       j.state = 'running' AND j.lease_expires < now()
FROM jobs j
LEFT JOIN workers w ON w.id = j.worker_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE o.state = 'pending') AS pending,
           count(*) FILTER (WHERE o.state = 'cached') AS cached,
           count(*) FILTER (WHERE o.state = 'done') AS done, count(*) AS total
    FROM job_operators o WHERE o.job_id = j.id) p
WHERE ($1::text[] IS NULL OR j.state = ANY ($1::text[]))
  AND ($2::text IS NULL OR j.target = $2)
  AND ($3::text IS NULL OR j.category_id = $3)
  AND ($4::bigint IS NULL OR j.id < $4::bigint)
ORDER BY j.id DESC
LIMIT $5::integer;

-- name: job_operators_list
-- GET /v1/jobs/{id}: every operator with its progress (job_operators_pkey).
SELECT idx, name, key, state, category_id, attempt, worker_id, reports, candidates,
       failed_candidates, best_algorithm, best_ms, duration_s, conditions::text,
       fr_time(finished_at)
FROM job_operators WHERE job_id = $1::bigint ORDER BY idx;

-- name: job_attempts_list
-- GET /v1/jobs/{id}: the history of its claims.
SELECT a.attempt, a.worker_id, w.name, w.host, a.category_id, fr_time(a.started_at),
       fr_time(a.ended_at), a.outcome, a.detail
FROM job_attempts a JOIN workers w ON w.id = a.worker_id
WHERE a.job_id = $1::bigint ORDER BY a.attempt;

-- name: job_categories
-- GET /v1/jobs/{id}/cache: the categories that hold the job's results.
SELECT DISTINCT category_id FROM job_operators
WHERE job_id = $1::bigint AND category_id IS NOT NULL ORDER BY category_id;

-- name: job_lock
-- Any change of a job's state starts here: the row, locked for the transaction.
SELECT state, worker_id, attempt, lease_expires > now(), category_id, failures, max_failures,
       fr_time(lease_expires)
FROM jobs WHERE id = $1::bigint FOR UPDATE;

-- name: job_finish
-- Ends job $1 in state $2 (done, failed, cancelled) with error $3 (or NULL).
UPDATE jobs SET state = $2, error = $3, worker_id = NULL, lease_expires = NULL,
                finished_at = now(), updated_at = now()
WHERE id = $1::bigint;

-- name: job_requeue
-- Puts job $1 back in the queue: $2 failures to add (0 for a hand-back), $3 backoff seconds,
-- $4 the reason kept in error while it waits (or NULL).
UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires = NULL,
                failures = failures + $2::integer,
                not_before = now() + make_interval(secs => $3::double precision),
                error = $4, updated_at = now()
WHERE id = $1::bigint;

-- name: job_attempt_end
-- Closes attempt $2 of job $1 with outcome $3 and detail $4, if it is still open.
UPDATE job_attempts SET ended_at = now(), outcome = $3, detail = $4
WHERE job_id = $1::bigint AND attempt = $2::integer AND outcome = 'running';

-- name: workers_live
-- Whether any worker of pool $1 (or, when $1 is NULL, of category $2) was seen in the last $3
-- seconds (workers_live_by_pool, workers_live_by_category).
SELECT count(*) FROM workers
WHERE stopped_at IS NULL AND last_seen > now() - make_interval(secs => $3::double precision)
  AND (($1::text IS NOT NULL AND pool = $1) OR ($1::text IS NULL AND category_id = $2));
