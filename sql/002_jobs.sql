-- 002_jobs.sql - profiling jobs and the workers that run them: the job queue with leases,
-- each job's per-operator progress, the history of its attempts, and the registered workers.
--
-- A job is claimed under a lease (jobs.lease_expires) that the worker's heartbeats extend. Every
-- claim increments jobs.attempt; each call a worker makes carries (worker id, attempt) and is
-- refused unless the job is running with exactly that worker and attempt and an unexpired lease
-- (server/lease.c). A lease that lapses puts the job back in the queue after a backoff
-- (not_before), or fails it once max_failures attempts have failed (server/claim.c).
-- Comments on each index name the queries of sql/queries/jobs.sql and workers.sql it serves.

CREATE TABLE workers (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    host          text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    pool          text COLLATE "C" NOT NULL
                  CHECK (pool ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' AND pool !~ '^[0-9a-f]{16}$'),
    category_id   text COLLATE "C" NOT NULL CHECK (category_id ~ '^[0-9a-f]{16}$'),
    fingerprint   jsonb NOT NULL,
    token_id      bigint REFERENCES tokens (id),
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz
);
COMMENT ON TABLE workers IS
    'One row per fastrun-worker process registration (worker_insert). last_seen moves with every '
    'claim poll and heartbeat (worker_seen); stopped_at is set when the worker signs off '
    '(worker_stop). A pool name never looks like a category id, so a job target is unambiguous.';
CREATE INDEX workers_live_by_pool ON workers (pool, last_seen) WHERE stopped_at IS NULL;
COMMENT ON INDEX workers_live_by_pool IS
    'workers_live: is any worker of this pool alive (the "no live worker" note of a queued job).';
CREATE INDEX workers_live_by_category ON workers (category_id, last_seen) WHERE stopped_at IS NULL;
COMMENT ON INDEX workers_live_by_category IS
    'workers_live: is any worker of this exact category alive.';

CREATE TABLE jobs (
    id                bigserial PRIMARY KEY,
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    model_name        text NOT NULL,
    model             jsonb NOT NULL,
    target_kind       text NOT NULL CHECK (target_kind IN ('pool', 'category')),
    target            text COLLATE "C" NOT NULL,
    mode              text NOT NULL CHECK (mode IN ('fast', 'full')),
    weight_preprocess boolean NOT NULL,
    priority          integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    force             boolean NOT NULL DEFAULT false,
    category_id       text COLLATE "C",
    attempt           integer NOT NULL DEFAULT 0,
    failures          integer NOT NULL DEFAULT 0,
    max_failures      integer NOT NULL CHECK (max_failures >= 1),
    worker_id         bigint REFERENCES workers (id),
    lease_expires     timestamptz,
    not_before        timestamptz NOT NULL DEFAULT now(),
    submitted_by      bigint REFERENCES tokens (id),
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'running') = (worker_id IS NOT NULL AND lease_expires IS NOT NULL))
);
COMMENT ON TABLE jobs IS
    'Profiling jobs (job_insert). category_id: the target category, or for a pool target the '
    'category of the worker that claimed it last. attempt counts claims; failures counts '
    'attempts that ended badly (lease expired, worker-reported failure), capped by max_failures.';
CREATE INDEX jobs_claimable ON jobs (priority DESC, id) WHERE state = 'queued';
COMMENT ON INDEX jobs_claimable IS
    'job_claim: the queue in claim order (priority, then age), holding only queued jobs so a '
    'claim never walks the history of finished jobs. FOR UPDATE SKIP LOCKED takes the first row '
    'no other claim holds.';
CREATE INDEX jobs_leased ON jobs (lease_expires) WHERE state = 'running';
COMMENT ON INDEX jobs_leased IS 'jobs_expired: running jobs whose lease lapsed.';
CREATE INDEX jobs_by_state ON jobs (state, id);
COMMENT ON INDEX jobs_by_state IS 'jobs_list filtered by state, newest first.';
CREATE INDEX jobs_by_worker ON jobs (worker_id) WHERE state = 'running';
COMMENT ON INDEX jobs_by_worker IS 'workers_list: the job a worker is running now.';

CREATE TABLE job_operators (
    job_id            bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx               integer NOT NULL,
    name              text NOT NULL,
    key               text COLLATE "C" NOT NULL,
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'cached', 'done')),
    category_id       text COLLATE "C",
    attempt           integer,
    worker_id         bigint REFERENCES workers (id),
    upload_id         bigint REFERENCES uploads (id),
    reports           integer NOT NULL DEFAULT 0,
    candidates        integer,
    failed_candidates integer,
    best_algorithm    text,
    best_ms           double precision,
    duration_s        double precision,
    conditions        jsonb,
    finished_at       timestamptz,
    PRIMARY KEY (job_id, idx)
);
COMMENT ON TABLE job_operators IS
    'Each operator of a job: pending, cached (results for its category existed: the server-side '
    'resume) or done (reported by a worker, with the upload that holds its results). reports '
    'counts accepted reports: exactly 1 for a done operator.';
COMMENT ON INDEX job_operators_pkey IS
    'job_operators_list, job_operators_pending, job_operator_lock, job_progress.';

CREATE TABLE job_attempts (
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker_id   bigint NOT NULL REFERENCES workers (id),
    category_id text COLLATE "C" NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    outcome     text NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'completed', 'released', 'lease_expired', 'failed',
                                   'cancelled')),
    detail      text,
    PRIMARY KEY (job_id, attempt)
);
COMMENT ON TABLE job_attempts IS
    'The history of a job''s claims: who, when, and how each ended (job_attempt_insert, '
    'job_attempt_end, job_attempts_list).';

ALTER TABLE uploads ADD COLUMN conditions jsonb;
COMMENT ON COLUMN uploads.conditions IS
    'How the upload was measured (threads, load average, whether the machine-wide measurement '
    'lock had to be waited for), when the uploader said (upload_conditions).';

CREATE FUNCTION fr_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
COMMENT ON FUNCTION fr_time(timestamptz) IS 'RFC 3339 UTC text with milliseconds (NULL stays NULL).';
