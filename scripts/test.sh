#!/usr/bin/env bash
# The README's test command: installs what is missing, checks style, builds, and runs every test
# (unit, integration with a real PostgreSQL, server and workers, and the dashboard in headless
# Chromium) through ctest; then the same suite under ASan + UBSan (build-asan/) and short fuzz runs
# (build-fuzz/), see below. Safe to run twice. Build tree: build/ (FASTRUN_BUILD overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/check-style.sh

BUILD=${FASTRUN_BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
# Tests share this machine's two cores with their own servers; run them one at a time.
ctest --test-dir "$BUILD" --output-on-failure --timeout 900 "$@"

# ---------------------------------------------------------------------------------------------
# Sanitizers (hardening, RELIABILITY.md): the same suite again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (GCC, -O1, FASTRUN_SANITIZE) in build-asan/. Every process the
# tests start (servers, workers, `fastrun`) writes any report to build-asan/sanitizer-reports/;
# one that counts fails the run, even when its test passed. Left out here, with the reason:
#   dashboard             Node and Chromium drive it; the server code it reaches runs here in
#                         the server, jobs and hardening tests, and it is the slowest test;
#   label load            latency and memory figures mean nothing under the sanitizers;
#   label slow            hardening_workerkill (its workers profile under the sanitizers for
#                         minutes); the jobs test kills a worker mid-job in this build too.
# ASan's SIGSEGV/SIGBUS/SIGFPE handlers are off: the profiler's isolation tests crash candidates
# on purpose and check the signal they die of. Memory errors are still reported (they do not
# need those handlers) and a real crash still fails its test. No leak is suppressed: libgomp,
# OpenBLAS and libpq left no report; scripts/sanitizer-reports.sh says which reports count. A
# leak does not change a process's exit status (LSAN exitcode=0): the reports decide, since the
# status of many processes (servers, workers) is not what their test checks.
# FASTRUN_SANITIZERS=0 stops after the plain suite (a quicker run while developing; CI runs all).
[ "${FASTRUN_SANITIZERS:-1}" = 1 ] || exit 0
ASAN_BUILD=${FASTRUN_ASAN_BUILD:-build-asan}
REPORTS="$PWD/$ASAN_BUILD/sanitizer-reports"
cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTRUN_SANITIZE=ON >/dev/null
cmake --build "$ASAN_BUILD" -j"$(nproc)"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
san_status=0
ASAN_OPTIONS="log_path=$REPORTS/asan:log_exe_name=1:detect_leaks=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0" \
LSAN_OPTIONS="exitcode=0" \
UBSAN_OPTIONS="log_path=$REPORTS/ubsan:log_exe_name=1:print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir "$ASAN_BUILD" --output-on-failure --timeout 900 -E '^dashboard$' -LE 'load|slow' \
  || san_status=$?
./scripts/sanitizer-reports.sh "$REPORTS" || san_status=1
[ "$san_status" = 0 ] || exit "$san_status"

# ---------------------------------------------------------------------------------------------
# Fuzzing (fuzz/, RELIABILITY.md): the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/,
# each run over its committed corpus and then for FZ_SHORT_SECONDS from it. The long campaigns
# (1,000,000 executions each) are scripts/fuzz.sh, beside this command.
FUZZ_BUILD=${FASTRUN_FUZZ_BUILD:-build-fuzz}
cmake -S . -B "$FUZZ_BUILD" -DCMAKE_C_COMPILER=clang -DFASTRUN_SANITIZE=ON -DFASTRUN_FUZZ=ON \
  -DFZ_SHORT_SECONDS=10 >/dev/null
cmake --build "$FUZZ_BUILD" -j"$(nproc)" --target fuzz_all
ctest --test-dir "$FUZZ_BUILD" -L fuzz --output-on-failure --timeout 300
