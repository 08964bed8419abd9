#!/usr/bin/env bash
# The banned list (STYLE.md "Tools keep the style"): unbounded or unchecked C library calls that
# have a bounded or checked replacement. Exits non-zero naming each use.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atof|strtok|tmpnam|mktemp)\s*\('
if grep -nE "$banned" --include='*.c' --include='*.h' -r common kernels cache worker server tests bench 2>/dev/null \
   | grep -vE '//\s*style-ok|/\*\s*style-ok'; then
  echo "check-style: banned functions found above (use snprintf, strtol, memcpy with a length...)" >&2
  exit 1
fi
echo "check-style: no banned functions"
