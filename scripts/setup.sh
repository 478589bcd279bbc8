#!/usr/bin/env bash
# Installs everything Wrenn needs on a fresh Debian 12 / Ubuntu machine (as root) and builds
# it: Debian packages, npm dependencies (npm ci), generated code, the envd bundle.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup must run as root (it installs Debian packages and the host agent needs root): sudo $0" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Host tools: runc and tini run capsules; mmdebstrap builds the base template; busybox-static
# makes the tiny test template; nftables/iproute2 plumb networks; e2fsprogs/util-linux make and
# mount disk images; g++/make/python3 build node-pty's native addon.
APT_PACKAGES=(
  runc tini mmdebstrap busybox-static nftables iproute2 e2fsprogs util-linux socat uidmap
  attr ca-certificates curl g++ make python3
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# CRIU (memory snapshots for pause/resume) from Debian's archive into a private prefix;
# a host where it cannot work pauses filesystem-only.
bash scripts/install-criu.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  log "npm dependencies present"
fi

log "building (generate protos, typecheck, bundle envd)"
npm run build --silent
log "done"
