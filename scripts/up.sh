#!/usr/bin/env bash
# One command: set up this machine and start Wrenn. `wrenn up` then builds the `minimal`
# template if missing (progress bar), starts the control plane (embedded PGlite) and a
# host agent in one process, registers the agent, creates the first administrator and API
# key (printed once, and written to ~/.config/wrenn/config.json, mode 0600). Ctrl-C stops
# it; capsules keep running and the next start adopts them. Arguments go to `wrenn up`
# (--port, --data-dir, --admin-email, ...). The `wrenn` command is installed on PATH too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/install-cli.sh
exec node packages/cli/dist/bin/wrenn.mjs up --no-setup "$@"
