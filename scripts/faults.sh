#!/usr/bin/env bash
# The long form of the fault tests: 2,000 jobs, a worker killed with SIGKILL
# every second (Go-only fleet, then with a Python worker in it), hostile
# payloads, AUTH/ACL and TLS; then 2,000 jobs through each Redis fault:
# redis-server killed and restarted twice, connections cut by a proxy, a
# Sentinel failover; then 1,000 jobs through a proxy that drops the replies
# of a third of the finish transactions after they ran (interop/lossyproxy).
# Prints the figures (jobs, kills, re-runs, lost, goroutines, dropped
# replies). Not part of CI; the short form is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
mkdir -p interop/bin
go build -o interop/bin/ $(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...)
source scripts/redis.sh
start_redis
export GOARQ_BIN="$(pwd)/interop/bin" GOARQ_FAULT_JOBS="${GOARQ_FAULT_JOBS:-2000}" GOARQ_FAULT_KILL_EVERY="${GOARQ_FAULT_KILL_EVERY:-1.0}" \
    GOARQ_FAULT_JOB_SECONDS="${GOARQ_FAULT_JOB_SECONDS:-0.3}" GOARQ_FAULT_MAX_KILLS="${GOARQ_FAULT_MAX_KILLS:-60}" \
    GOARQ_REDIS_FAULT_JOBS="${GOARQ_REDIS_FAULT_JOBS:-2000}" GOARQ_LOST_REPLY_JOBS="${GOARQ_LOST_REPLY_JOBS:-1000}"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -s interop/test_faults.py interop/test_redis_faults.py interop/test_lost_replies.py "$@"
