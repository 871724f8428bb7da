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
out=$(mktemp -d)
cleanup() {
    for w in "$out/src-before" "$out/src-after"; do
        [ -d "$w" ] && git worktree remove --force "$w" >/dev/null 2>&1
    done
    rm -rf "$out"
}
trap cleanup EXIT
export CGO_ENABLED=0
build() { # build REF DEST
    if [ -z "$1" ]; then
        go build -o "$2" ./cmd/goarq
    else
        git worktree add -q --detach "$out/src-$(basename "$2")" "$1"
        (cd "$out/src-$(basename "$2")" && go build -o "$2" ./cmd/goarq)
    fi
}
build "$before" "$out/before"
build "$after" "$out/after"
go build -o "$out/historybackstop" ./scripts/historybackstop
source scripts/redis.sh
start_redis
trap 'cleanup; stop_redis' EXIT # start_redis set its own
"$out/historybackstop" -redis "$REDIS_URL" -results "$results" -rounds "$rounds" before="$out/before" after="$out/after"
