#!/usr/bin/env bash
# The README's test command: installs what is missing, checks style, builds, and runs every test
# (unit, integration with a real PostgreSQL, server and workers, and the dashboard in headless
# Chromium) through ctest. Safe to run twice. Build tree: build/ (FASTRUN_BUILD overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/check-style.sh

BUILD=${FASTRUN_BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
# Tests share this machine's two cores with their own servers; run them one at a time.
ctest --test-dir "$BUILD" --output-on-failure --timeout 900 "$@"
