#!/usr/bin/env bash
# One command: set up this machine and start Wrenn. Today that is the host agent (which
# runs capsules, each with envd inside); the control plane and `wrenn up` join it next.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WRENN_DATA_DIR="${WRENN_DATA_DIR:-/var/lib/wrenn}"
echo "[up] base template (first time: ~1 minute, with progress)"
npx tsx scripts/build-template.ts minimal --data-dir "$WRENN_DATA_DIR"
echo "[up] starting the host agent (Ctrl-C stops it; capsules keep running and are adopted on the next start)"
echo "[up] token: $WRENN_DATA_DIR/agent-token   try it: sudo npx tsx scripts/agent-demo.ts"
export WRENN_SKIP_TEMPLATE_BUILD=1
exec node --import tsx packages/host-agent/src/start/main.ts
