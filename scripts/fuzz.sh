#!/usr/bin/env bash
# The long fuzz campaigns whose figures RELIABILITY.md records: builds the libFuzzer targets
# (clang, ASan + UBSan, build-fuzz/) and runs each for FUZZ_RUNS executions (default 1,000,000)
# from the committed corpus, one at a time under the machine's benchmark lock (a campaign keeps
# a core busy). Prints one summary line per target; exits non-zero on any finding, whose input
# is kept as build-fuzz/fuzz/campaign/crash-* (copy it into fuzz/corpus/<target>/ once fixed).
#   scripts/fuzz.sh                 all targets
#   scripts/fuzz.sh model request   some of them
#   FUZZ_RUNS=100000 scripts/fuzz.sh
# The test suite runs a short version (ctest -L fuzz in the fuzz build; scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FASTRUN_FUZZ_BUILD:-build-fuzz}
RUNS=${FUZZ_RUNS:-1000000}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cache_doc model request)

cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DFASTRUN_SANITIZE=ON -DFASTRUN_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target fuzz_all -j"$(nproc)" >/dev/null

out="$BUILD/fuzz/campaign"
mkdir -p "$out"
failed=0
for t in "${targets[@]}"; do
  work="$out/$t"
  mkdir -p "$work"
  start=$(date +%s)
  status=0
  flock /tmp/fastrun-bench.lock "$BUILD/fuzz/fuzz_$t" -runs="$RUNS" -timeout=10 \
    -rss_limit_mb=2048 -dict="fuzz/dict/$t.dict" -print_final_stats=1 \
    -artifact_prefix="$out/" "$work" "fuzz/corpus/$t" >"$out/$t.log" 2>&1 || status=$?
  secs=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -1)
  cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$out/$t.log" | tail -1)
  if [ "$status" = 0 ]; then result="no finding"; else result="FINDING (exit $status, see $out/$t.log)"; failed=1; fi
  echo "fuzz_$t: ${execs:-0} executions in ${secs} s, ${cov:-no coverage line}: $result"
done
exit $failed
