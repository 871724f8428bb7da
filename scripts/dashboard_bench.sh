#!/usr/bin/env bash
# The dashboard and exporter at scale: 100,000 queued jobs and 100,000 kept
# results in a throwaway redis-server; prints p50/p95 per page, the scrape
# cost and the processes' peak RSS. Not part of the test suite.
#   bash scripts/dashboard_bench.sh [-jobs N] [-results N] [-n REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/redis.sh
start_redis
bin=$(mktemp -d)
go build -o "$bin/" ./cmd/goarq ./scripts/dashbench
"$bin/dashbench" -redis "$REDIS_URL" -goarq "$bin/goarq" "$@"
rm -rf "$bin"
