#!/usr/bin/env bash
# Puts the `wrenn` command on PATH: a global npm install of this checkout's CLI package,
# which npm makes a link to packages/cli (its compiled bundle then loads its dependencies
# from this checkout's node_modules, from any working directory). Idempotent: nothing is
# done when `wrenn` already runs this checkout's CLI. Needs the build (scripts/setup.sh).
#
# Usage: install-cli.sh [PREFIX]   (default: npm's global prefix, /usr/local for root)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-$(npm prefix -g)}"
BIN="$PREFIX/bin/wrenn"
TARGET="$REPO/packages/cli/bin/wrenn.mjs"

log() { printf '\033[1m[cli]\033[0m %s\n' "$*"; }

[ -f "$REPO/packages/cli/dist/bin/wrenn.mjs" ] || { echo "the CLI is not built: run scripts/setup.sh (or npm run build) first" >&2; exit 1; }
if [ -e "$BIN" ] && [ "$(readlink -f "$BIN")" = "$(readlink -f "$TARGET")" ]; then
  log "wrenn command present: $BIN"
else
  log "installing the wrenn command: $BIN -> $REPO/packages/cli"
  npm install -g --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$REPO/packages/cli" >/dev/null
fi
