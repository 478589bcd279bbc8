#!/usr/bin/env bash
# Installs and starts Debian's PostgreSQL for the test suite's Postgres phase (CI and local
# runs that want it), with password auth for the postgres role on 127.0.0.1.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed'; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
service postgresql start >/dev/null
for _ in $(seq 1 30); do
  su postgres -c 'pg_isready -q' && break
  sleep 1
done
su postgres -c "psql -qc \"alter user postgres password 'wrenn'\""
echo "[ci-postgres] PostgreSQL ready on 127.0.0.1:5432"
