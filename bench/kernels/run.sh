#!/usr/bin/env bash
# bench/kernels/run.sh - the kernel figures of BENCHMARKS.md, reproduced:
#   1. bench-kernels (fastrun's pick vs im2col+OpenBLAS vs oneDNN NCHW and blocked) on
#      resnet50-b1, transformer-small and bench/kernels/unseen.json, at 1 and 2 threads;
#   2. `fastrun bench` (every algorithm of every operator) on resnet50-b1 at 1 and 2 threads,
#      its JSON turned into one markdown table per thread count (jq).
# Each program runs under its own `flock /tmp/fastrun-bench.lock` (so other people's benchmarks
# may run between two of them, never during one), and the load (uptime) when it got the lock
# and when it finished goes to OUT/conditions.txt with the exact command line. The programs drop
# an inherited OPENBLAS_CORETYPE themselves (re-exec, README "OpenBLAS") and say so.
#
# Usage: bench/kernels/run.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR: a build with the targets bench-kernels and fastrun (default: build, or
#              $FASTRUN_BUILD); OUT_DIR: where results go (default: bench/kernels/results).
#   MODELS_DIR: folder of the shared models (default: ../shared/models beside the repository).
#   BENCH_MIN_TIME_MS: samples per implementation and operator (default 200).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-${FASTRUN_BUILD:-build}}
OUT=${2:-bench/kernels/results}
MODELS=${MODELS_DIR:-../shared/models}
MIN_MS=${BENCH_MIN_TIME_MS:-200}
LOCK=/tmp/fastrun-bench.lock
KB="$BUILD/bench/kernels/bench-kernels"
FR="$BUILD/worker/fastrun"
for bin in "$KB" "$FR"; do
  [ -x "$bin" ] || { echo "run.sh: build $bin first (needs libdnnl-dev for bench-kernels)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "run.sh: jq is missing" >&2; exit 1; }
mkdir -p "$OUT"
COND="$OUT/conditions.txt"
{ echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"; } >"$COND"

# locked OUTFILE CMD...: CMD under the lock, stdout to OUTFILE, load before and after to $COND.
locked() {
  local outfile=$1
  shift
  flock "$LOCK" bash -c '
    cond=$1; outfile=$2; shift 2
    { echo; echo "\$ $*"; echo "lock taken: $(uptime)"; } >>"$cond"
    rc=0; "$@" >"$outfile" || rc=$?
    echo "finished:   $(uptime)" >>"$cond"
    exit $rc' locked "$COND" "$outfile" "$@"
}

for model in "$MODELS/resnet50-b1.json" "$MODELS/transformer-small.json" bench/kernels/unseen.json; do
  name=$(basename "$model" .json)
  echo "run.sh: bench-kernels $name" >&2
  locked "$OUT/kernels-$name.md" "$KB" "$model" --threads 1,2 --min-time-ms "$MIN_MS" --markdown \
    --json-file "$OUT/kernels-$name.json"
done

# One markdown table of `fastrun bench --json`: a row per operator, a column per algorithm
# (median ms; conv2d. dropped from names, matmul. shortened to mm.), then the best, its GFLOP/s
# and its speed-up over the baseline.
to_markdown() {
  jq -r '
    def short: sub("^conv2d\\."; "") | sub("^matmul\\."; "mm.");
    def ms: if . < 0.1 then (. * 10000 | round / 10000 | tostring)
            else (. * 1000 | round / 1000 | tostring) end;
    ([.operators[].candidates[].algorithm] | unique) as $algos
    | "#### fastrun bench \(.model), \(.threads) thread\(if .threads == 1 then "" else "s" end): median ms per algorithm\n",
      "| operator | " + ($algos | map(short) | join(" | ")) + " | best | GFLOP/s | best vs baseline |",
      "|---|" + ($algos | map("---:") | join("|")) + "|---|---:|---:|",
      (.operators[] | . as $op
        | "| \(.name) | "
          + ($algos | map(. as $a | ($op.candidates | map(select(.algorithm == $a)) | first)
              | if . == null then "" elif .failure then "failed" else (.median_ms | ms) end)
             | join(" | "))
          + " | \(.best | short) | "
          + ($op.candidates | map(select(.algorithm == $op.best)) | first | .gflops * 10 | round / 10 | tostring)
          + " | "
          + (if .speedup_over_baseline == null then "-"
             else "\(.speedup_over_baseline * 100 | round / 100)x over \(.baseline | short)" end)
          + " |")' "$1"
}

for t in 1 2; do
  echo "run.sh: fastrun bench resnet50-b1 --threads $t" >&2
  json="$OUT/fastrun-bench-resnet50-b1-t$t.json"
  locked "$json" "$FR" bench "$MODELS/resnet50-b1.json" --threads "$t" --json
  to_markdown "$json" >"$OUT/fastrun-bench-resnet50-b1-t$t.md"
done
echo "run.sh: results in $OUT" >&2
