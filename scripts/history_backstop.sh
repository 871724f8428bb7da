#!/usr/bin/env bash
# The cost of goarq recorder's SCAN backstop over results it recorded
# already, at two commits side by side: builds goarq at each, keeps
# RESULTS results in a throwaway redis-server, records them once, then
# starts each recorder in turn on that history and measures the CPU of its
# first pass (a SCAN over every kept result) per kept result, its Redis
# CPU and commands. Prints JSON. Not a test.
#   bash scripts/history_backstop.sh BEFORE_REF [AFTER_REF (default: the work tree)] [RESULTS (default 300000)] [ROUNDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: history_backstop.sh BEFORE_REF [AFTER_REF] [RESULTS] [ROUNDS]}
after=${2:-}
results=${3:-300000}
rounds=${4:-3}
source scripts/at_ref.sh
out=$AT_REF_OUT
at_ref_build "$before" "$out/before" ./cmd/goarq
at_ref_build "$after" "$out/after" ./cmd/goarq
go build -o "$out/historybackstop" ./scripts/historybackstop
source scripts/redis.sh
start_redis
"$out/historybackstop" -redis "$REDIS_URL" -results "$results" -rounds "$rounds" before="$out/before" after="$out/after"
