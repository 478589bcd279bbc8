#!/usr/bin/env bash
# Installs a working CRIU for memory snapshots (pause/resume) into a private prefix.
#
# Why not `apt-get install criu`: bookworm's criu 3.17 fails on kernels >= 6.13 ("vdso:
# Unexpected rt vDSO area bounds") and trixie's 4.1 cannot dump here; unstable's 4.2 works
# but needs a newer glibc than bookworm's. So the .debs of criu (from sid) and of its
# libraries, glibc included (from trixie), are downloaded -- never installed -- and unpacked
# into one prefix, and a wrapper runs criu through that prefix's own dynamic loader. The
# system's packages and apt configuration are left untouched (private apt state).
#
# The archive's address comes from this machine's apt configuration; none is written here.
# Idempotent: when the wrapper exists and `criu check` passes, nothing is downloaded.
#
# With a C compiler present it also builds the lazy-pages shim (scripts/criu/
# lazy-pages-shim.c) into PREFIX/lib/wrenn/: the agent preloads it into `criu lazy-pages` so
# page faults are served before background copying and no fault is left waiting (first exec
# after a lazy resume of 512 MB ~120 ms sooner). Without a compiler lazy restore works, slower.
#
# Usage: install-criu.sh [PREFIX]   (default /opt/wrenn/criu; WRENN_CRIU_PREFIX also works)
# Exit status 0 also when the kernel cannot do memory snapshots (the agent then pauses
# filesystem-only); non-zero only when the install itself failed.
set -euo pipefail
# Resolved before anything changes directory: the download step below cd's into a temporary
# directory, after which a relative $0 no longer names this script.
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

PREFIX="${1:-${WRENN_CRIU_PREFIX:-/opt/wrenn/criu}}"
WRAPPER="$PREFIX/bin/criu"
# libnl from sid too: trixie's build has no symbol versions and the loader warns on every run.
SID_PACKAGES=(criu libcompel1 libnet9 libnftables1 libnftnl11 libnl-3-200)
TRIXIE_PACKAGES=(
  libc6 libgnutls30t64 libbsd0 libprotobuf-c1 libuuid1 libmd0 libp11-kit0 libidn2-0
  libunistring5 libtasn1-6 libnettle8t64 libhogweed6t64 libgmp10 libffi8 libjansson4 libmnl0
  libxtables12 libedit2 libtinfo6 libzstd1 liblzma5 libbz2-1.0 zlib1g libgcc-s1
)

log() { printf '\033[1m[criu]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install-criu.sh must run as root" >&2
  exit 1
fi

if [ -x "$WRAPPER" ] && "$WRAPPER" --version >/dev/null 2>&1; then
  log "present: $("$WRAPPER" --version | head -n1) at $WRAPPER"
else
  # The Debian archive this machine already uses: the first non-security URI of its deb822
  # sources, else of the one-line sources.list format.
  archive_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk '
        /^[[:space:]]*$/ { if (uri != "" && suites !~ /-security/) { print uri; exit } uri = ""; suites = ""; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { $1 = ""; suites = $0 }
        END { if (uri != "" && suites !~ /-security/) print uri }
      ' "$f"
    done | head -n1
  }
  URI="$(archive_uri)"
  if [ -z "$URI" ] && [ -f /etc/apt/sources.list ]; then
    URI="$(awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list | head -n1)"
  fi
  if [ -z "$URI" ]; then
    echo "no Debian archive URI found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    exit 1
  fi
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$KEYRING" ] || { echo "missing $KEYRING (apt-get install debian-archive-keyring)" >&2; exit 1; }

  WORK="$(mktemp -d /tmp/wrenn-criu-install.XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs" "$WORK/etc/preferences.d" "$WORK/etc/sources.list.d"
  chmod -R a+rwx "$WORK" # apt's download sandbox user (_apt) writes here
  cat >"$WORK/etc/sources.list" <<EOF
deb [signed-by=$KEYRING] $URI sid main
deb [signed-by=$KEYRING] $URI trixie main
EOF
  APT_OPTS=(
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::State::status=/dev/null"
    -o "Dir::Etc::SourceList=$WORK/etc/sources.list"
    -o "Dir::Etc::SourceParts=$WORK/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$WORK/etc/preferences"
    -o "Dir::Etc::PreferencesParts=$WORK/etc/preferences.d"
    -o "Dir::Cache=$WORK/cache"
    -o "APT::Architecture=amd64"
    -o "Debug::NoLocking=1"
  )
  log "reading package lists of sid and trixie from $URI (private apt state)"
  apt-get "${APT_OPTS[@]}" -qq update
  cd "$WORK/debs"
  log "downloading ${#SID_PACKAGES[@]} packages from sid"
  apt-get "${APT_OPTS[@]}" -qq download $(printf '%s/sid ' "${SID_PACKAGES[@]}")
  log "downloading ${#TRIXIE_PACKAGES[@]} packages from trixie"
  apt-get "${APT_OPTS[@]}" -qq download $(printf '%s/trixie ' "${TRIXIE_PACKAGES[@]}")

  STAGE="$PREFIX.new"
  rm -rf "$STAGE"
  mkdir -p "$STAGE/bin"
  for deb in ./*.deb; do dpkg-deb -x "$deb" "$STAGE"; done
  LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
  [ -x "$STAGE/usr/sbin/criu" ] || { echo "criu binary missing after unpacking" >&2; exit 1; }
  cat >"$STAGE/bin/criu" <<EOF
#!/bin/sh
# CRIU from Debian unstable, run through its own glibc (see scripts/install-criu.sh).
exec "$LIBDIR/ld-linux-x86-64.so.2" --library-path "$LIBDIR:$PREFIX/lib/x86_64-linux-gnu:$PREFIX/usr/lib" "$PREFIX/usr/sbin/criu" "\$@"
EOF
  chmod 0755 "$STAGE/bin/criu"
  ls "$WORK/debs" >"$STAGE/PACKAGES"
  rm -rf "$PREFIX"
  mv "$STAGE" "$PREFIX"
  log "installed $("$WRAPPER" --version | head -n1) at $WRAPPER"
fi

# The lazy-pages shim: rebuilt when missing or older than its source (cheap, no download).
SHIM_SRC="$SCRIPT_DIR/criu/lazy-pages-shim.c"
SHIM="$PREFIX/lib/wrenn/lazy-pages-shim.so"
if [ -f "$SHIM" ] && ! [ "$SHIM_SRC" -nt "$SHIM" ]; then
  log "lazy-pages shim present at $SHIM"
elif [ -f "$SHIM_SRC" ]; then
  CC="$(command -v cc || command -v gcc || true)"
  if [ -n "$CC" ]; then
    mkdir -p "$PREFIX/lib/wrenn"
    "$CC" -O2 -Wall -fPIC -shared -o "$SHIM.tmp" "$SHIM_SRC" -ldl && mv "$SHIM.tmp" "$SHIM"
    log "built the lazy-pages shim at $SHIM"
  else
    log "no C compiler: lazy restore without the lazy-pages shim (apt-get install gcc, then run this again)"
  fi
fi

if "$WRAPPER" check >/dev/null 2>&1; then
  if "$WRAPPER" check --feature uffd-noncoop >/dev/null 2>&1; then
    log "criu check passed: memory snapshots with lazy restore"
  else
    log "criu check passed: memory snapshots (no lazy restore)"
  fi
else
  log "criu check FAILED on this kernel: pause will be filesystem-only ($("$WRAPPER" check 2>&1 | tail -n1))"
fi
