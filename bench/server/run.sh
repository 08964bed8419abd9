#!/usr/bin/env bash
# bench/server/run.sh - download throughput of fastrun-server next to nginx serving the same bytes.
#
# Starts, on loopback and in a temporary folder: a PostgreSQL cluster, fastrun-server, and nginx
# (temporary config, as the current user). Uploads a generated merged cache of about 200 KB,
# saves what GET /v1/cache returns as a static file for nginx, then runs wrk with the same
# threads, connections and duration against both, and prints requests/s, p99 latency and the
# ratio. Every request to fastrun-server does what a fleet client's does: one revision query
# against PostgreSQL, then the document from memory.
#
# Usage: bench/server/run.sh [BUILD_DIR]   (default: build; or $FASTRUN_BUILD)
# Knobs: BENCH_KEYS (300), BENCH_THREADS (2), BENCH_CONNECTIONS (16), BENCH_DURATION (10s).
# Runs under flock /tmp/fastrun-bench.lock so that two benchmarks never share the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${FASTRUN_BENCH_LOCKED:-0}" != 1 ]; then
  exec env FASTRUN_BENCH_LOCKED=1 flock /tmp/fastrun-bench.lock "$0" "$@"
fi

BUILD=${1:-${FASTRUN_BUILD:-build}}
SERVER_BIN=$(realpath "$BUILD/server/fastrun-server")
KEYS=${BENCH_KEYS:-300}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-16}
DURATION=${BENCH_DURATION:-10s}
PGBIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$PGBIN/initdb" ] || PGBIN=/usr/lib/postgresql/15/bin
for tool in wrk nginx jq curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (FASTRUN_BENCH_DEPS=1 scripts/deps.sh)" >&2; exit 1; }
done
[ -x "$SERVER_BIN" ] || { echo "bench: build fastrun-server first ($SERVER_BIN)" >&2; exit 1; }

AS=()
TMP=$(mktemp -d /tmp/fastrun-bench-server.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
  [ -f "$TMP/pg/postmaster.pid" ] && "${AS[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg" stop -m fast >/dev/null 2>&1
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { # a loopback port nobody listens on now
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# PostgreSQL refuses to run as root: run it as an unprivileged user then.
if [ "$(id -u)" = 0 ]; then
  PGUSER_OS=nobody; id fastrun-test >/dev/null 2>&1 && PGUSER_OS=fastrun-test
  chown "$PGUSER_OS" "$TMP"
  AS=(runuser -u "$PGUSER_OS" --)
fi
"${AS[@]}" "$PGBIN/initdb" -A trust -U fastrun -E UTF8 --no-sync -D "$TMP/pg" >/dev/null
PGPORT=$(free_port)
"${AS[@]}" "$PGBIN/postgres" -D "$TMP/pg" -p "$PGPORT" -k "$TMP" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c synchronous_commit=off >"$TMP/pg.log" 2>&1 &
PIDS+=($!)
DB="host=127.0.0.1 port=$PGPORT user=fastrun dbname=postgres"
for _ in $(seq 100); do "$PGBIN/pg_isready" -q -d "$DB" && break; sleep 0.1; done

HTTP_PORT=$(free_port)
"$SERVER_BIN" --listen "127.0.0.1:$HTTP_PORT" --database "$DB" >"$TMP/server.log" 2>&1 &
PIDS+=($!)
URL="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
TOKEN=$("$SERVER_BIN" token create --role submitter --name bench --database "$DB" 2>/dev/null)

# A merged cache: KEYS matmul keys, four algorithms each, two machines' reports merged.
upload() { # host scale
  jq -cn --argjson keys "$KEYS" --arg host "$1" --argjson scale "$2" '
    {provenance: {source: "user", host: $host, time: "2026-01-01T00:00:00Z"},
     fingerprint: {format_version: 1, kernel_set: 1, cpu: "bench cpu", isa: "avx512",
                   threads: 2, blas: "OpenBLAS 0.3.21", blas_core: "Cooperlake"},
     entries: [range(1; $keys + 1) as $m |
       {key: "matmul batch=1 m=\($m) n=256 k=128 f32 wp=0",
        results: [
          {algorithm: "matmul.blas", attributes: ["REPRODUCIBLE", "USES_BLAS"], workspace: 0,
           median_ms: ($m * 0.011 * $scale), min_ms: ($m * 0.010 * $scale), samples: 40},
          {algorithm: "matmul.packed_simd", attributes: ["REPRODUCIBLE"], workspace: 65536,
           median_ms: ($m * 0.009 * $scale), min_ms: ($m * 0.008 * $scale), samples: 40},
          {algorithm: "matmul.splitk", attributes: [], workspace: 262144,
           median_ms: ($m * 0.013 * $scale), min_ms: ($m * 0.012 * $scale), samples: 40},
          {algorithm: "matmul.naive", attributes: ["REPRODUCIBLE", "NAIVE"], workspace: 0,
           median_ms: ($m * 0.2 * $scale), min_ms: ($m * 0.19 * $scale), samples: 5}]}]}' |
    curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      --data-binary @- "$URL/v1/results" >/dev/null
}
upload bench-a 1.0
upload bench-b 1.1
CAT=$(curl -sf "$URL/v1/categories" | jq -r '.categories[0].id')
PATH_Q="/v1/cache?category=$CAT"
mkdir -p "$TMP/www"
curl -sf "$URL$PATH_Q" -o "$TMP/www/cache.json"
chmod 755 "$TMP/www"; chmod 644 "$TMP/www/cache.json"
BYTES=$(stat -c %s "$TMP/www/cache.json")

NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  default_type application/json;
  etag on;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $TMP/www;
  }
}
EOF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
PIDS+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/cache.json" -o /dev/null && break; sleep 0.1; done
cmp -s <(curl -sf "http://127.0.0.1:$NGINX_PORT/cache.json") <(curl -sf "$URL$PATH_Q") ||
  { echo "bench: nginx and fastrun-server do not serve the same bytes" >&2; exit 1; }

# wrk -> "req/s p99_ms", after a 2 s warm-up (connections opened, caches filled)
measure() {
  wrk -t"$THREADS" -c"$CONNS" -d2s "$1" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$1" >"$TMP/wrk.txt"
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$TMP/wrk.txt")
  if grep -q "Non-2xx" "$TMP/wrk.txt"; then echo "bench: errors from $1:" >&2; cat "$TMP/wrk.txt" >&2; exit 1; fi
  echo "$rps $p99"
}
read -r SRV_RPS SRV_P99 < <(measure "$URL$PATH_Q")
read -r NGX_RPS NGX_P99 < <(measure "http://127.0.0.1:$NGINX_PORT/cache.json")

printf 'document: %d bytes (%d keys x 4 algorithms, 2 reports each); wrk -t%s -c%s -d%s; %s cores\n' \
  "$BYTES" "$KEYS" "$THREADS" "$CONNS" "$DURATION" "$(nproc)"
printf '%-32s %12s %10s\n' "target" "requests/s" "p99 ms"
printf '%-32s %12.0f %10.2f\n' "fastrun-server GET /v1/cache" "$SRV_RPS" "$SRV_P99"
printf '%-32s %12.0f %10.2f\n' "nginx static file" "$NGX_RPS" "$NGX_P99"
awk -v a="$SRV_RPS" -v b="$NGX_RPS" 'BEGIN { printf "fastrun-server / nginx throughput: %.2f\n", a / b }'
curl -sf "$URL/metrics" | awk '
  $1 == "fastrun_cache_documents_served_total" { served = $2 }
  $1 == "fastrun_cache_revision_queries_total" { queries = $2 }
  END { printf "revision queries to PostgreSQL: %d for %d documents served (%.2f per download)\n",
               queries, served, served ? queries / served : 0 }'
