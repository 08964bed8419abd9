#!/usr/bin/env bash
# The README's main command: the whole system on one machine.
#   1. installs what is missing (scripts/deps.sh) and builds into build/;
#   2. starts a PostgreSQL cluster kept in var/pg on a free loopback port (as root, PostgreSQL
#      runs as the unprivileged user the tests use: $FASTRUN_PG_USER, else fastrun-test, made by
#      scripts/test-user.sh, since initdb and postgres refuse to run as root);
#   3. starts fastrun-server with one local fastrun-worker (--local-workers 1), logs in var/;
#   4. submits a profiling job for resnet50-b1.json over HTTP with curl, waits for it, and
#      downloads the merged cache, exactly as a CI step would (README "CI recipe");
#   5. runs the model with that cache and prints the table of chosen algorithms, then the
#      dashboard's address.
# Safe to run twice: the cluster is reused (and with it the results, so the second job finds
# every operator cached and is done at once) and the server restarted.
#   ./scripts/demo.sh stop    stops the server, its worker and PostgreSQL
# Environment: MODEL (default ../shared/models/resnet50-b1.json), FASTRUN_BUILD (build),
# FASTRUN_DEMO_PORT (the server's port, default 8080 or the next free one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
PGDIR=$VAR/pg
BUILD=${FASTRUN_BUILD:-build}
MODEL=${MODEL:-$ROOT/../shared/models/resnet50-b1.json}

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

pg_bindir() {
  for v in 17 16 15 14; do
    [ -x /usr/lib/postgresql/$v/bin/initdb ] && { echo /usr/lib/postgresql/$v/bin; return; }
  done
  pg_config --bindir
}

# Runs a command as the PostgreSQL user (ourselves unless we are root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

free_port() { # the first free loopback TCP port from $1 on
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

stop_server() {
  if [ -f "$VAR/server.pid" ] && kill -0 "$(cat "$VAR/server.pid")" 2>/dev/null; then
    local pid; pid=$(cat "$VAR/server.pid")
    kill -TERM "$pid"
    # The server first stops its worker, which finishes the operator it is measuring.
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null || true
    echo "demo: fastrun-server stopped"
  fi
  rm -f "$VAR/server.pid"
}

stop_pg() {
  if [ -f "$PGDIR/data/postmaster.pid" ]; then
    PG_USER=$(stat -c %U "$PGDIR/data")
    as_pg "$(pg_bindir)/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null && echo "demo: PostgreSQL stopped"
  fi
}

if [ "${1:-}" = stop ]; then
  stop_server
  stop_pg
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [stop]"

say "Dependencies and build ($BUILD/)"
./scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fastrun fastrun-server fastrun-worker
FASTRUN=$ROOT/$BUILD/worker/fastrun
SERVER_BIN=$ROOT/$BUILD/server/fastrun-server
[ -f "$MODEL" ] || die "no model at $MODEL (set MODEL=...)"

say "PostgreSQL in var/pg"
mkdir -p "$VAR"
PGBIN=$(pg_bindir)
if [ "$(id -u)" = 0 ]; then
  PG_USER=${FASTRUN_PG_USER:-}
  if [ -z "$PG_USER" ]; then ./scripts/test-user.sh >/dev/null; PG_USER=fastrun-test; fi
  echo "demo: running as root, so PostgreSQL runs as the user '$PG_USER'"
else
  PG_USER=$(id -un)
fi
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  rm -rf "$PGDIR"
  mkdir -p "$PGDIR"
  [ "$(id -u)" = 0 ] && chown "$PG_USER" "$PGDIR"
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U fastrun -A trust -E UTF8 >"$VAR/initdb.log" 2>&1 \
    || die "initdb failed, see var/initdb.log"
  echo "demo: new cluster in var/pg/data"
fi
PG_USER=$(stat -c %U "$PGDIR/data")
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
  PGPORT=$(free_port "$(cat "$VAR/pg.port" 2>/dev/null || echo 55432)")
  echo "$PGPORT" >"$VAR/pg.port"
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "PostgreSQL did not start, see var/pg/pg.log"
fi
PGPORT=$(cat "$VAR/pg.port")
if [ "$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U fastrun -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'fastrun'")" != 1 ]; then
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U fastrun fastrun
fi
DATABASE="host=127.0.0.1 port=$PGPORT user=fastrun dbname=fastrun"
echo "demo: PostgreSQL on 127.0.0.1:$PGPORT (log var/pg/pg.log)"

say "fastrun-server with one local worker"
stop_server
PORT=${FASTRUN_DEMO_PORT:-$(free_port 8080)}
SERVER=http://127.0.0.1:$PORT
WEB=()
[ -f "$ROOT/web/index.html" ] && WEB=(--web "$ROOT/web")
setsid "$SERVER_BIN" --listen "127.0.0.1:$PORT" --database "$DATABASE" "${WEB[@]}" \
  --local-workers 1 >>"$VAR/server.log" 2>&1 </dev/null &
echo $! >"$VAR/server.pid"
for _ in $(seq 1 200); do
  curl -fs "$SERVER/readyz" >/dev/null 2>&1 && break
  kill -0 "$(cat "$VAR/server.pid")" 2>/dev/null || die "the server exited, see var/server.log"
  sleep 0.1
done
curl -fs "$SERVER/readyz" >/dev/null || die "the server is not ready, see var/server.log"
echo "demo: $SERVER (log var/server.log)"
TOKEN=$("$SERVER_BIN" token create --role submitter --name demo --database "$DATABASE" 2>/dev/null)
( umask 077; echo "$TOKEN" >"$VAR/submitter.token" )

say "Profiling job for $(basename "$MODEL")"
auth="Authorization: Bearer $TOKEN"
job=$(curl --fail-with-body -sS -o "$VAR/job.json" -w '%header{location}' -H "$auth" \
        -H 'Content-Type: application/json' --data-binary "@$MODEL" \
        "$SERVER/v1/jobs?target=default&mode=fast") || { cat "$VAR/job.json" >&2; exit 1; }
echo "demo: submitted $SERVER$job"
field() { grep -o "\"$1\":\"[^\"]*\"" "$VAR/job.json" | head -1 | cut -d'"' -f4; }
progress() { grep -o '"progress":{[^}]*}' "$VAR/job.json" | tr -d '{}"' | sed 's/progress://'; }
while :; do
  state=$(field state)
  echo "demo: $state: $(progress)"
  case $state in done|failed|cancelled) break ;; esac
  curl --fail-with-body -sS -o "$VAR/job.json" -H "$auth" "$SERVER$job?wait=10"
done
[ "$state" = done ] || die "the job ended $state: $(field error); see $SERVER$job"

say "Merged cache"
CACHE=$VAR/$(basename "$MODEL" .json).cache.json
curl --fail-with-body -sS -o "$CACHE" -H "$auth" "$SERVER$job/cache"
echo "demo: var/$(basename "$CACHE") ($(wc -c <"$CACHE") bytes)"

say "fastrun run $(basename "$MODEL") --fast-run-algo-policy var/$(basename "$CACHE")"
"$FASTRUN" run "$MODEL" --fast-run-algo-policy "$CACHE"

say "Done"
echo "Dashboard:   $SERVER/"
echo "Jobs API:    $SERVER/v1/jobs    workers: $SERVER/v1/workers"
echo "Stop it all: ./scripts/demo.sh stop"
