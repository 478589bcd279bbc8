#!/usr/bin/env bash
# One command: set up the machine and start Wrenn. Today that is envd on this machine
# (the host agent and control plane join as they land).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export UV_USE_IO_URING=0
port="${WRENN_ENVD_PORT:-49983}"
echo "[up] starting envd on ${WRENN_ENVD_HOST:-127.0.0.1}:${port} (Ctrl-C to stop)"
exec node packages/envd/dist/envd.cjs --port "$port" --host "${WRENN_ENVD_HOST:-127.0.0.1}" --run-dir "${WRENN_ENVD_RUN_DIR:-/tmp/wrenn-run}"
