#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints its own table with a same-run baseline).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run build --silent
for b in bench/*.ts; do
  echo "== $b"
  npx tsx "$b"
done
