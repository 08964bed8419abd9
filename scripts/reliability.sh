#!/usr/bin/env bash
# The long reliability runs whose figures RELIABILITY.md records, beside the test command
# (scripts/test.sh runs shortened versions of the same tests):
#   - load: 200 concurrent clients for 60 s (the suite: 50 for 10 s);
#   - workers killed with SIGKILL mid-job 20 times (the suite: 4);
#   - the fuzz campaigns, 1,000,000 executions per target (scripts/fuzz.sh).
# Each runs under the machine's benchmark lock. Build tree: build/ (FASTRUN_BUILD overrides).
#   scripts/reliability.sh            everything
#   scripts/reliability.sh load kill  some of it (load, kill, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FASTRUN_BUILD:-build}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(load kill fuzz)

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target test_hardening_load test_hardening_workerkill \
  fastrun-server fastrun-worker >/dev/null
export FASTRUN_SERVER_BIN="$PWD/$BUILD/server/fastrun-server"
export FASTRUN_WORKER_BIN="$PWD/$BUILD/worker/fastrun-worker"

for part in "${parts[@]}"; do
  case "$part" in
    load)
      FASTRUN_LOAD_CLIENTS=200 FASTRUN_LOAD_SECONDS=60 flock /tmp/fastrun-bench.lock \
        "$BUILD/tests/hardening/test_hardening_load" --verbose 2>&1 | grep -E '^\[(----|PASS|FAIL)'
      ;;
    kill)
      FASTRUN_HARDENING_KILLS=20 flock /tmp/fastrun-bench.lock \
        "$BUILD/tests/hardening/test_hardening_workerkill" --verbose 2>&1 | grep -E '^\[(----|PASS|FAIL)'
      ;;
    fuzz)
      ./scripts/fuzz.sh
      ;;
    *)
      echo "reliability: unknown part '$part' (load, kill, fuzz)" >&2
      exit 2
      ;;
  esac
done
