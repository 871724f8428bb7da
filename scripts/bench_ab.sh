#!/usr/bin/env bash
# goarq at two commits, side by side: builds scripts/bench/goarqbench at
# each and runs the quick drain and latency rows (goarq only) with one and
# then the other, ROUNDS times in turn, on one throwaway redis-server, and
# prints each row's medians and the after/before ratio. For checking that a
# change keeps the worker's speed (the machines are shared and noisy:
# compare runs made in turn, never across sessions). Not a test.
#   bash scripts/bench_ab.sh BEFORE_REF [AFTER_REF (default: the work tree)] [ROUNDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: bench_ab.sh BEFORE_REF [AFTER_REF] [ROUNDS]}
after=${2:-}
rounds=${3:-3}
source scripts/venv.sh
source scripts/at_ref.sh
out=$AT_REF_OUT
at_ref_build "$before" "$out/before" ./scripts/bench/goarqbench
at_ref_build "$after" "$out/after" ./scripts/bench/goarqbench
source scripts/redis.sh
start_redis
for i in $(seq "$rounds"); do
    for which in before after; do
        echo "round $i: $which" >&2
        "$VENV/bin/python" scripts/bench/run.py --redis "$REDIS_URL" --go-bin "$out/$which" --quick --impls goarq \
            --only drain,latency --out "$out/res-$which" >/dev/null
    done
done
"$VENV/bin/python" - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
runs = {w: [json.load(open(p))["results"] for p in sorted(glob.glob(f"{out}/res-{w}/*.json"))] for w in ("before", "after")}
fields = {"jobs_per_s": "jobs/s", "p50_ms": "p50 ms", "p95_ms": "p95 ms"}
print("| row | before (runs) | after (runs) | after / before |\n|---|---|---|---|")
for key in runs["before"][0]:
    for field, label in fields.items():
        vals = {w: [r[field] for res in runs[w] for r in res.get(key, {}).get("goarq", []) if field in r] for w in runs}
        if not vals["before"] or not vals["after"]:
            continue
        b, a = statistics.median(vals["before"]), statistics.median(vals["after"])
        fmt = lambda v: ", ".join(f"{x:,.2f}" if x < 100 else f"{x:,.0f}" for x in v)
        print(f"| {key} {label} | {fmt(vals['before'])} | {fmt(vals['after'])} | {a / b:.3f} |")
PY
