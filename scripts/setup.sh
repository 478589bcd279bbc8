#!/usr/bin/env bash
# Installs everything Wrenn needs on a fresh Debian 12 / Ubuntu machine (as root) and builds
# it: Debian packages, CRIU, npm dependencies (npm ci), generated code, the bundles.
# Idempotent: a second run only checks (nothing is installed, downloaded or rebuilt when
# everything is present and the build is newer than its sources). Works from any directory.
#
# Usage: setup.sh [--check]
#   --check   change nothing: print what a run would install or build, exit 1 if anything
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
todo=()
# Runs a step, or under --check records that it would run.
step() {
  local what=$1
  shift
  if [ "$CHECK" -eq 1 ]; then
    todo+=("$what")
    log "would run: $what"
  else
    log "$what"
    "$@"
  fi
}

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
# mount disk images; g++/make/python3 build node-pty's native addon; systemd brings
# systemctl for `wrenn service` and systemd-analyze, which the tests check the units with.
APT_PACKAGES=(
  runc tini mmdebstrap busybox-static nftables iproute2 e2fsprogs util-linux socat uidmap
  attr ca-certificates curl g++ make python3 systemd
  chromium  # the dashboard's browser tests (playwright-core drives it; no downloaded browser)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}" apt_install "${missing[@]}"
else
  log "Debian packages present"
fi

# CRIU (memory snapshots for pause/resume) from Debian's archive into a private prefix;
# a host where it cannot work pauses filesystem-only.
if [ "$CHECK" -eq 1 ]; then
  criu="${WRENN_CRIU_PREFIX:-/opt/wrenn/criu}/bin/criu"
  if [ -x "$criu" ] && "$criu" --version >/dev/null 2>&1; then log "CRIU present at $criu"; else todo+=(criu); log "would run: scripts/install-criu.sh"; fi
else
  bash scripts/install-criu.sh
fi

# `npm ls` checks the installed tree against package.json and the lockfile (a modification
# time says nothing after a git checkout or a copied node_modules).
if [ ! -d node_modules ] || ! npm ls --all >/dev/null 2>&1; then
  step "installing npm dependencies (npm ci)" npm ci --no-audit --no-fund
else
  log "npm dependencies present"
fi

# The build's outputs: rebuilt when one is missing or a source is newer than the oldest.
BUILD_OUTPUTS=(
  packages/envd/dist/envd.cjs packages/cli/dist/bin/wrenn.mjs packages/host-agent/dist/bin/wrenn-agent.mjs
  packages/control-plane/dist/bin/wrenn-control-plane.mjs
)
oldest=""
for out in "${BUILD_OUTPUTS[@]}"; do
  if [ ! -f "$out" ]; then oldest=""; break; fi
  if [ -z "$oldest" ] || [ "$out" -ot "$oldest" ]; then oldest=$out; fi
done
newer=""
if [ -n "$oldest" ]; then
  newer=$(find packages scripts package.json package-lock.json tsconfig.base.json \
    \( -name node_modules -o -name dist \) -prune -o \
    -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.mjs' -o -name '*.cjs' -o -name '*.json' -o -name '*.proto' -o -name '*.yaml' \) \
    -newer "$oldest" -print -quit)
fi
if [ -z "$oldest" ] || [ -n "$newer" ]; then
  step "building (generate protos, typecheck, bundles)${newer:+: $newer is newer than $oldest}" npm run build --silent
else
  log "build up to date"
fi

if [ "$CHECK" -eq 1 ] && [ "${#todo[@]}" -gt 0 ]; then
  log "not set up: ${#todo[@]} step(s) to run"
  exit 1
fi
log "done"
