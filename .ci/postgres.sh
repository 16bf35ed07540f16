#!/usr/bin/env sh
# Debian's PostgreSQL for the model registry's tests (tests/test_registry.py): installs the
# package when missing, starts the cluster, creates (once) role deepad / password deepad and
# database deepad_test, and prints the URL the tests read from DEEPAD_TEST_POSTGRES_URL.
set -eu
if [ "$(id -u)" = 0 ]; then run=""; elif command -v sudo >/dev/null 2>&1; then run="sudo"; else
  echo "PostgreSQL needs root or sudo to install and start: apt-get install postgresql" >&2
  exit 1
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  $run apt-get update -qq
  $run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "$(pg_lsclusters -h)" ]; then  # the package made none (e.g. create_main_cluster off)
  $run pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >/dev/null
fi
# shellcheck disable=SC2046  # word splitting is the point: "version name port status ..."
set -- $(pg_lsclusters -h | head -n 1)
version=$1 cluster=$2 port=$3 status=$4
[ "$status" = online ] || $run pg_ctlcluster "$version" "$cluster" start
as_postgres() { (cd /tmp && if [ -z "$run" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi); }
tries=0
until as_postgres pg_isready -q -p "$port"; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "PostgreSQL $version/$cluster did not start" >&2; exit 1; }
  sleep 1
done
sql() { as_postgres psql -p "$port" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
if [ "$(sql "SELECT 1 FROM pg_roles WHERE rolname = 'deepad'")" = 1 ]; then
  sql "ALTER ROLE deepad LOGIN PASSWORD 'deepad'"
else
  sql "CREATE ROLE deepad LOGIN PASSWORD 'deepad'"
fi
[ "$(sql "SELECT 1 FROM pg_database WHERE datname = 'deepad_test'")" = 1 ] ||
  as_postgres createdb -p "$port" -O deepad deepad_test
echo "postgresql://deepad:deepad@localhost:$port/deepad_test"
