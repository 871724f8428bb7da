"""The values row of scripts/bench.sh: goarq's decode plus binding of a
realistic job record against CPython's C pickle.loads of the same bytes.

The record is the one arq's enqueue_job writes for process_order(order),
order being appmodels.bench_order(): a pydantic v2 model of 20 fields with a
list of 10 nested models, an IntEnum, a StrEnum and a ZoneInfo datetime.
Both sides run in this one run, alternately, three times; the table gives
the medians and the ratio. Go's CPU is the process's user + system time, so
its garbage collector and its idle scheduler threads count; the second row
runs Go on one P, as CPython runs on one core. Not a test: it never gates CI.
"""
import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from arq.jobs import serialize_job  # noqa: E402

from interop.appmodels import bench_order  # noqa: E402


def python_loads(data, n):
    pickle.loads(data)
    t0 = time.process_time()
    for _ in range(n):
        pickle.loads(data)
    return (time.process_time() - t0) / n * 1e6


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--go-bin", required=True)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default="bench-results")
    a = p.parse_args()
    data = serialize_job("process_order", (bench_order(),), {}, None, 1_700_000_000_000, serializer=None)
    assert pickle.loads(data)["a"][0] == bench_order()
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as f:
        f.write(data)
    try:
        py, go, go1 = [], [], []
        for _ in range(a.reps):
            py.append(python_loads(data, a.n))
            for procs, into in ((None, go), ("1", go1)):
                env = dict(os.environ)
                if procs:
                    env["GOMAXPROCS"] = procs
                out = subprocess.run([a.go_bin, "-file", f.name, "-n", str(a.n)], check=True, capture_output=True,
                                     text=True, env=env)
                into.append(json.loads(out.stdout)["cpu_us_per_job"])
    finally:
        os.unlink(f.name)
    py_us, go_us, go1_us = statistics.median(py), statistics.median(go), statistics.median(go1)
    res = {"bytes": len(data), "n": a.n, "reps": a.reps, "python_loads_cpu_us": py, "goarq_decode_bind_cpu_us": go,
           "goarq_decode_bind_cpu_us_gomaxprocs1": go1, "ratio_goarq_to_python": go_us / py_us,
           "ratio_goarq_to_python_gomaxprocs1": go1_us / py_us}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "values.json"), "w") as f:
        json.dump(res, f, indent=1)
    print()
    print("| values: one job record, %d pickle bytes (pydantic model, 20 fields, 10 nested models, enums, ZoneInfo datetime) "
          "| CPython pickle.loads | goarq decode + bind to a Go struct | goarq / CPython |" % len(data))
    print("|---|---|---|---|")
    print("| CPU per job, median of %d (Go: all cores' CPU, GOMAXPROCS default) | %.1f µs | %.1f µs | %.2f× |"
          % (a.reps, py_us, go_us, go_us / py_us))
    print("| the same, Go with GOMAXPROCS=1 (no idle P spinning, no parallel GC) | %.1f µs | %.1f µs | %.2f× |"
          % (py_us, go1_us, go1_us / py_us))


if __name__ == "__main__":
    main()
