#!/usr/bin/env bash
# Checks the Docker files without a Docker engine (none runs on the build machines):
#   - compose.yaml parses, and every service's image, build file and volume is defined;
#   - every Debian package the Dockerfiles install exists in the configured archive;
#   - the Dockerfiles build with the same cmake commands as scripts/test.sh / scripts/demo.sh;
#   - with --build: those commands, run on a fresh export of HEAD (the build context that
#     .dockerignore leaves), build the binaries the images copy.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import sys, yaml
doc = yaml.safe_load(open("docker/compose.yaml"))
services, volumes = doc["services"], doc.get("volumes", {})
need = {"db", "server", "worker-1", "worker-2"}
assert need <= set(services), f"missing services: {need - set(services)}"
for name, s in services.items():
    assert "image" in s, f"{name}: no image"
    if "build" in s:
        df = s["build"]["dockerfile"]
        assert open(df), df
    for v in s.get("volumes", []):
        vol = v.split(":")[0]
        assert vol in volumes, f"{name}: volume {vol} not declared"
    for dep in s.get("depends_on", {}):
        assert dep in services, f"{name}: depends on unknown {dep}"
for name in ("db", "server", "worker-1", "worker-2"):
    assert "healthcheck" in services[name], f"{name}: no health check"
print("check: compose.yaml parses;", len(services), "services,", len(volumes), "volumes")
PY

for df in docker/Dockerfile.server docker/Dockerfile.worker; do
  pkgs=$(sed -n '/apt-get install/,/rm -rf/p' "$df" | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' \
         | grep -vE '^(apt-get|install|rm|y|qq|DEBIAN_FRONTEND|no|recommends|var|lib|apt|lists|useradd|mkdir|chown|system|uid|shell|fastrun|p)$' || true)
  for p in $pkgs; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || { echo "check: $df: no package $p" >&2; exit 1; }
  done
  grep -q 'cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo' "$df" \
    || { echo "check: $df does not configure like scripts/test.sh" >&2; exit 1; }
  grep -q 'USER fastrun' "$df" || { echo "check: $df does not drop root" >&2; exit 1; }
  [ "$(grep -c '^FROM debian:12' "$df")" -ge 2 ] || { echo "check: $df is not a Debian multi-stage build" >&2; exit 1; }
  echo "check: $df: packages exist, builds like the scripts, runs as fastrun"
done
grep -q 'cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo' scripts/test.sh

if [ "${1:-}" = --build ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git archive HEAD | tar -x -C "$tmp"
  (cd "$tmp" && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
     && cmake --build build -j"$(nproc)" --target fastrun-server fastrun-worker fastrun >/dev/null)
  for f in server/fastrun-server worker/fastrun-worker worker/fastrun; do
    [ -x "$tmp/build/$f" ] || { echo "check: build/$f was not built" >&2; exit 1; }
  done
  [ -d "$tmp/web" ] || { echo "check: web/ missing from the build context" >&2; exit 1; }
  echo "check: a fresh export of HEAD builds what the images copy"
fi
