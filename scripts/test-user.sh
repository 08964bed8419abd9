#!/usr/bin/env bash
# Creates the system user `fastrun-test` that runs the test PostgreSQL clusters when the tests run
# as root (initdb and postgres refuse root). Optional: without it tests/harness uses `nobody`
# (or $FRT_PG_USER). Safe to run twice.
set -euo pipefail
if id fastrun-test >/dev/null 2>&1; then
  echo "test-user: fastrun-test exists"
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fastrun-test
echo "test-user: created fastrun-test"
