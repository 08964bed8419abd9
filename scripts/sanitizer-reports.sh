#!/usr/bin/env bash
# scripts/sanitizer-reports.sh DIR: prints the sanitizer reports in DIR that count and exits 1 if
# there is one (scripts/test.sh, after the suite ran under ASan + UBSan).
# Every report counts but one kind: a LeakSanitizer report all of whose allocation stacks lie
# wholly in libcriterion.so, the bookkeeping of Criterion's runner process (48 or 96 bytes). That
# library has no frame pointers, so those stacks stop inside it and no suppression can name a
# frame of their own; a suppression of the module would match every test's leaks too, since
# tests run under Criterion's frames.
set -euo pipefail
dir=$1
bad=0
for f in "$dir"/*; do
  [ -e "$f" ] || continue
  if awk '
    /ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:/ { counts = 1 }
    /leak of .* allocated from:/ { inleak = 1; criterion_only = 1; next }
    inleak && /^ *#[0-9]+ / { if ($1 != "#0" && $0 !~ /libcriterion\.so/) criterion_only = 0; next }
    inleak { if (!criterion_only) counts = 1; inleak = 0 }
    END { if (inleak && !criterion_only) counts = 1; exit counts ? 0 : 1 }' "$f"; then
    echo "== $f" >&2
    head -n 60 "$f" >&2
    bad=1
  fi
done
exit $bad
