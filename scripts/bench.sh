#!/usr/bin/env bash
# Benchmarks Python arq 0.28, hibiken/asynq and goarq side by side on one throwaway
# redis-server. Not a test: it never gates CI.
#   bash scripts/bench.sh            # full run (about 10 minutes)
#   bash scripts/bench.sh --quick    # short run, one repetition (under 2 minutes)
# Prints a Markdown table and writes the same data as JSON to bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server redis-tools >/dev/null
fi
source scripts/venv.sh
mkdir -p bench-results
# static builds (CGO_ENABLED=0), as goarq ships its binaries (the pip
# wheels) and as Go services usually deploy; asynq is built the same way
export CGO_ENABLED=0
go build -o bench-results/goarqbench ./scripts/bench/goarqbench
# asynq is its own module (scripts/bench/asynqbench/go.mod): goarq's go.mod
# does not depend on it
(cd scripts/bench/asynqbench && go build -o ../../../bench-results/asynqbench .)
source scripts/redis.sh
start_redis
"$VENV/bin/python" scripts/bench/run.py --redis "$REDIS_URL" --go-bin bench-results/goarqbench --asynq-bin bench-results/asynqbench "$@"
# the values row: goarq's decode + binding of a pydantic job record against
# CPython's pickle.loads of the same bytes (no Redis; its own table)
go build -o bench-results/valuesbench ./scripts/bench/valuesbench
"$VENV/bin/python" scripts/bench/values.py --go-bin bench-results/valuesbench
