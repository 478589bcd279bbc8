#!/usr/bin/env bash
# Pure unit tests: every *.test.ts beside the code under packages/*/src. They start no
# capsule, agent, server or database and need no root and no build (tsx compiles on the
# fly), so they run in seconds as any user. Integration tests live under packages/*/test
# and run with everything else through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(find packages -path '*/node_modules' -prune -o -path '*/src/*' -name '*.test.ts' -print | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no unit test files found" >&2
  exit 1
fi
exec node --import tsx --test --test-timeout=60000 --test-reporter=spec "${files[@]}"
