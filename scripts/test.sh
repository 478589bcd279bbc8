#!/usr/bin/env bash
# The whole test suite: build (generate, typecheck, bundle envd), then every *.test.ts
# through node's test runner (Node 20 takes no globs and finds no .ts files by itself):
#   1. all tests, control plane on embedded PGlite;
#   2. the control plane's (and its clients') tests again on a Postgres server, when
#      WRENN_TEST_POSTGRES_URL names one (CI starts Debian's postgresql and sets it).
# Ends with one line: "N passed, N failed" over both runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npm run build --silent || exit 1

mapfile -t files < <(find packages test -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
# WRENN_TEST_FILTER narrows the run to files whose path matches it (for local work).
if [ -n "${WRENN_TEST_FILTER:-}" ]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$WRENN_TEST_FILTER")
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

run_phase() {
  local name=$1
  shift
  echo "== $name: ${#phase_files[@]} test files"
  node --import tsx --test --test-timeout=600000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$results/$name.tap" \
    "$@" "${phase_files[@]}"
}

phase_files=("${files[@]}")
WRENN_TEST_DATABASE_URL= run_phase pglite
status=$?

if [ -n "${WRENN_TEST_POSTGRES_URL:-}" ]; then
  mapfile -t phase_files < <(printf '%s\n' "${files[@]}" | grep -E '^packages/(control-plane|sdk|cli)/')
  if [ "${#phase_files[@]}" -gt 0 ]; then
    WRENN_TEST_DATABASE_URL="$WRENN_TEST_POSTGRES_URL" run_phase postgres
    status=$((status | $?))
  fi
else
  echo "== postgres: not run (WRENN_TEST_POSTGRES_URL is not set; CI sets it)"
fi

pass=0
fail=0
for tap in "$results"/*.tap; do
  [ -f "$tap" ] || continue
  p=$(grep -E '^# pass [0-9]+' "$tap" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail [0-9]+' "$tap" | tail -1 | awk '{print $3}')
  pass=$((pass + ${p:-0}))
  fail=$((fail + ${f:-0}))
done
echo
echo "$pass passed, $fail failed"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
