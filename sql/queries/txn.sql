-- txn.sql - transaction control, prepared like every other statement (server/db.c).

-- name: begin
-- Uploads and token changes: READ COMMITTED, serialised per category by category_lock.
BEGIN;

-- name: begin_snapshot
-- Building a category's document: one consistent snapshot of its revision and profiles.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: commit
COMMIT;

-- name: rollback
ROLLBACK;
