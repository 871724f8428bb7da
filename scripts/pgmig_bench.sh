#!/usr/bin/env bash
# Opening a large PostgreSQL history written by an older goarq (schema
# version 4) with this one: a throwaway server (scripts/postgres.sh) gets
# -rows rows (default 1,000,000, made by the server), then the store is
# opened while an older recorder keeps inserting 50 rows every 50 ms, a
# reader searches every 50 ms, and a second goarq opens the store a
# second later. Prints JSON: how long Open took, when the index of the
# arguments' bytes was valid, the longest wait of each of the others.
# Not part of the test suite (history/postgres's TestLargeStoreMigration
# skips unless GOARQ_PGMIG_ROWS is set).
#   bash scripts/pgmig_bench.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
start_postgres
GOARQ_PGMIG_ROWS="${1:-1000000}" go test -count=1 -timeout 30m -run '^TestLargeStoreMigration$' -v ./history/postgres/ | grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok '
