#!/usr/bin/env bash
# The long form of the migration tests (interop/test_migrate.py): a mixed
# fleet of two stock arq workers and two Go workers with --only-own-functions
# drains 20,000 jobs; 20,000 foreign jobs in front of 100 own ones; the idle
# cost in front of 50,000 foreign jobs over 30 s. Prints the figures. Not
# part of CI; the short form is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
mkdir -p interop/bin
go build -o interop/bin/ $(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...)
source scripts/redis.sh
start_redis
export GOARQ_BIN="$(pwd)/interop/bin" GOARQ_MIGRATE_JOBS="${GOARQ_MIGRATE_JOBS:-20000}" GOARQ_MIGRATE_FOREIGN="${GOARQ_MIGRATE_FOREIGN:-20000}" \
    GOARQ_MIGRATE_IDLE_FOREIGN="${GOARQ_MIGRATE_IDLE_FOREIGN:-50000}" GOARQ_MIGRATE_IDLE_SECONDS="${GOARQ_MIGRATE_IDLE_SECONDS:-30}"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -s interop/test_migrate.py "$@"
