#!/usr/bin/env bash
# The whole test suite: typecheck, then every *.test.ts under packages/ and test/ through
# node's test runner (Node 20 takes no globs and finds no .ts files by itself).
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build --silent

mapfile -t files < <(find packages test -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi
# WRENN_TEST_FILTER narrows the run to files whose path matches it (for local work).
if [ -n "${WRENN_TEST_FILTER:-}" ]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$WRENN_TEST_FILTER")
fi
exec node --import tsx --test --test-reporter=spec --test-timeout=600000 "${files[@]}"
