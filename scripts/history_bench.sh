#!/usr/bin/env bash
# goarq's job history at scale, in a throwaway redis-server: a Go worker's
# drain with and without `goarq recorder` beside it (alternating, side by
# side), the recorder's ingest rate, Redis commands per recorded result and
# peak RSS, then every history query's p95 over 1,000,000 SQLite rows.
# Prints JSON. Not part of the test suite.
# With --postgres first, a throwaway PostgreSQL server (scripts/postgres.sh;
# pg_trgm) takes the ingest part instead of SQLite (the server's CPU per
# result is reported too), and the query benchmark runs on it as well.
#   bash scripts/history_bench.sh [--postgres] [-jobs N] [-rounds R] [-rows N] [-reps N] [-tracking-rounds R] [-recorder-args "..."]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/redis.sh
start_redis
pgargs=()
if [ "${1:-}" = "--postgres" ]; then
    shift
    source scripts/postgres.sh
    start_postgres
    pgargs=(-postgres "$GOARQ_TEST_POSTGRES")
fi
bin=$(mktemp -d)
go build -o "$bin/" ./cmd/goarq ./scripts/historybench
"$bin/historybench" -redis "$REDIS_URL" -goarq "$bin/goarq" "${pgargs[@]}" "$@"
rm -rf "$bin"
