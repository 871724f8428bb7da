#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time and fails on any crash. New
# interesting inputs stay in Go's cache; a crashing input is written under
# <package>/testdata/fuzz/<target>/ and, committed, becomes a regression
# test of `go test`.
#   bash scripts/fuzz.sh                                   # 60 s per target
#   FUZZTIME=30m FUZZ_PARALLEL=2 FUZZ_TARGETS=FuzzDecodeJob bash scripts/fuzz.sh
#
#   FUZZTIME       -fuzztime of each target: a duration or a count (100000x); default 60s
#   FUZZ_PARALLEL  fuzzing processes (-parallel); default: one per CPU
#   FUZZ_TARGETS   regexp of the target names to run; default: all
#   FUZZ_MEM_MB    address-space limit (ulimit -v) of go test and its fuzzing
#                  processes, in MiB; default 4096, 0 for none. An input that
#                  needs more makes Go's runtime fail ("fatal error: out of
#                  memory"), and the fuzzer writes that input. Without the limit
#                  the kernel's OOM killer ends the process with SIGKILL, and Go
#                  writes no input ("no crash will be recorded").
#   FUZZ_LOGDIR    where each target's full output is kept; default /tmp/goarq-fuzz
# GOFLAGS and the other go environment variables apply as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
targets="${FUZZ_TARGETS:-.}"
mem="${FUZZ_MEM_MB:-4096}"
logdir="${FUZZ_LOGDIR:-/tmp/goarq-fuzz}"
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then
    parallel=(-parallel "$FUZZ_PARALLEL")
fi
mkdir -p "$logdir"
status=0
for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
        [[ "$target" =~ $targets ]] || continue
        log="$logdir/$target.log"
        printf '==> %s %s (%s, log %s)\n' "$pkg" "$target" "$fuzztime" "$log"
        rc=0
        (
            if [ "$mem" != 0 ]; then ulimit -v $((mem * 1024)); fi
            exec go test "$pkg" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "${parallel[@]}"
        ) >"$log" 2>&1 || rc=$?
        # the last progress line says how many inputs were run
        grep '^fuzz: elapsed' "$log" | tail -1 || true
        grep -E '^(ok|FAIL)\s' "$log" | tail -1 || true
        if [ "$rc" != 0 ] || grep -q -- '--- FAIL' "$log"; then
            status=1
            # why: the failure message and the input Go wrote, or the
            # fuzzer's own error
            grep -v '^fuzz: elapsed' "$log" | tail -30
            if input=$(grep -o 'Failing input written to .*' "$log" | sed 's/^Failing input written to //'); then
                name="$target/$(basename "$input")"
                printf 'failing input: %s/%s\nre-run: go test %s -run=%s\n' "$dir" "$input" "$pkg" "$name"
                # a fuzzing process that died took its message with it: run
                # the input once more to show it (a panic, "out of memory", or
                # where a slow input spends its time when -timeout ends it)
                echo "--- $name run once more:"
                (
                    if [ "$mem" != 0 ]; then ulimit -v $((mem * 1024)); fi
                    exec go test "$pkg" -run="^${target}\$/^$(basename "$input")\$" -timeout=120s
                ) 2>&1 | head -40 || true
            elif grep -q 'no crash will be recorded' "$log"; then
                echo "a fuzzing process was killed by a signal, most likely the kernel's OOM killer, so Go wrote no input;"
                echo "run again with a lower FUZZ_MEM_MB (e.g. 2048) so that Go's runtime fails on the input and the fuzzer records it"
            fi
        fi
    done
done
exit $status
