-- 003_heuristics.sql - the heuristic's pick per (category, key), as the measuring machine's
-- kernels chose it (cache document: entry.heuristic). The server does not link kernels/, so
-- this is how downloads and the dashboard learn what tuning gained over the heuristic.

CREATE TABLE heuristics (
    category_id text COLLATE "C" NOT NULL REFERENCES categories (id),
    key         text COLLATE "C" NOT NULL,
    algorithm   text COLLATE "C" NOT NULL CHECK (algorithm ~ '^[A-Za-z0-9_.+-]+$' AND length(algorithm) <= 256),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, key)
);
COMMENT ON TABLE heuristics IS
    'The latest reported heuristic pick of each (category, key) (heuristic_upsert).';
COMMENT ON INDEX heuristics_pkey IS
    'heuristic_upsert; category_heuristics (one category in key order, to build its document).';
