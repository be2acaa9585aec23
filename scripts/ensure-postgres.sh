#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a database
# named "test" that the postgres user reaches without a password (the tests'
# default EXAM_TEST_POSTGRES_URL). Installs Debian's postgresql when missing
# and starts the cluster when stopped. Fails loudly when it cannot.
set -euo pipefail
if [ -n "${EXAM_TEST_POSTGRES_URL:-}" ]; then exit 0; fi   # the caller brings its own
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-postgres: installing Debian's postgresql" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "ensure-postgres: starting PostgreSQL $version" >&2
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "ensure-postgres: PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
# The tests connect as postgres to database "test" over TCP without a password.
if ! psql "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" -qAtc 'select 1' >/dev/null 2>&1; then
  echo "ensure-postgres: preparing database 'test' and trust auth on 127.0.0.1 for the tests" >&2
  hba=$($SUDO -u postgres psql -qAtc 'show hba_file' 2>/dev/null || su postgres -c "psql -qAtc 'show hba_file'")
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    (su postgres -c "psql -qAtc 'select pg_reload_conf()'" || $SUDO -u postgres psql -qAtc 'select pg_reload_conf()') >/dev/null
  fi
  (su postgres -c "createdb test" 2>/dev/null || $SUDO -u postgres createdb test 2>/dev/null) || true
  psql "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" -qAtc 'select 1' >/dev/null \
    || { echo "ensure-postgres: cannot connect as postgres to database test on 127.0.0.1" >&2; exit 1; }
fi
