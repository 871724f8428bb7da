#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time (FUZZTIME, default 60s each)
# and fails on any crash. New interesting inputs stay in Go's cache; a
# crashing input is written under arqcompat/testdata/fuzz/ and, committed,
# becomes a regression test of `go test`.
#   bash scripts/fuzz.sh            # 60 s per target
#   FUZZTIME=10s bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
status=0
for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
        printf '==> %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
        if ! go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" 2>&1 | tee /tmp/goarq-fuzz.log | grep -E '^(ok|FAIL|--- FAIL|PASS)|Failing input|fuzz: elapsed' | tail -3; then
            status=1
        fi
        if grep -q -- '--- FAIL' /tmp/goarq-fuzz.log; then
            status=1
            grep -v '^fuzz: elapsed' /tmp/goarq-fuzz.log | tail -30 # why: a crash input, or the fuzzer's own error
        fi
    done
done
exit $status
