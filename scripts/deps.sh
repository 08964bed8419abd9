#!/usr/bin/env bash
# Installs what fastrun needs from Debian's packages (and Playwright's driver library from npm
# for the browser test). Safe to run twice: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git
  libjansson-dev libmicrohttpd-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libopenblas-openmp-dev libcriterion-dev
  postgresql curl
  chromium nodejs npm
  clang libclang-rt-14-dev  # the fuzz build (fuzz/: libFuzzer's runtime is in libclang-rt)
)
if [ "${FASTRUN_BENCH_DEPS:-0}" = 1 ]; then
  PACKAGES+=(libdnnl-dev wrk nginx-light hyperfine)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package: a working npm will do.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test drives Debian's Chromium with playwright-core (no browser download).
if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "deps: npm ci in tests/browser"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
