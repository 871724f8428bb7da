"""Runs Python arq 0.28, asynq and goarq side by side on one Redis and
prints a Markdown table (and writes JSON) of every figure: median of the
repetitions, with min and max, and the ratios goarq / arq and goarq / asynq.
Driven by scripts/bench.sh."""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def info(r, section):
    return r.info(section)


def commands_total(r):
    return sum(v["calls"] for k, v in r.info("commandstats").items() if k.startswith("cmdstat_"))


def cpu_us(r):
    c = r.info("cpu")
    return (c["used_cpu_sys"] + c["used_cpu_user"]) * 1e6


def run(cmd, env=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, args):
        self.args = args
        self.r = redis.Redis.from_url(args.redis)
        self.go = args.go_bin
        self.asynq = args.asynq_bin
        self.impls = ["arq", "asynq", "goarq"] if self.asynq else ["arq", "goarq"]
        if args.impls:
            self.impls = [i for i in self.impls if i in args.impls.split(",")]
        self.py = [sys.executable, os.path.join(HERE, "arq_bench.py")]
        self.results = {}

    def impl(self, name):
        return self.go if name == "goarq" else self.py

    def cmd(self, name, sub, *flags):
        base = {"goarq": [self.go], "asynq": [self.asynq]}.get(name) or list(self.py)
        return base + [sub, "--redis", self.args.redis, *map(str, flags)]

    def fill(self, n, function, impl="goarq"):
        self.r.flushdb()
        run([self.asynq if impl == "asynq" else self.go, "fill", "--redis", self.args.redis, "--n", n, "--function", function])

    @staticmethod
    def poll_flag(impl, poll):
        """arq takes seconds; goarq a Go duration; asynq its TaskCheckInterval,
        None for its default (1 s, where arq's default is 0.5 s)."""
        if impl == "arq":
            return ["--poll-delay", poll]
        if impl == "asynq" and poll is None:
            return []
        return ["--poll-delay", f"{poll}s"]

    def record(self, key, impl, values):
        self.results.setdefault(key, {})[impl] = values

    def drain(self, key, n, max_jobs, poll, function="noop"):
        for impl in self.impls:
            reps = []
            for _ in range(self.args.reps):
                self.fill(n, function, impl)
                c0, u0 = commands_total(self.r), cpu_us(self.r)
                p = None if impl == "asynq" and poll == 0.5 else poll
                out = run(self.cmd(impl, "drain", "--n", n, "--max-jobs", max_jobs, *self.poll_flag(impl, p)))
                c1, u1 = commands_total(self.r), cpu_us(self.r)
                assert out["jobs"] == n and out["failed"] == 0, out
                out["redis_cmds_per_job"] = (c1 - c0) / n
                out["redis_cpu_us_per_job"] = (u1 - u0) / n
                reps.append(out)
            self.record(key, impl, reps)
            print(f"  {key} {impl}: {statistics.median(r['jobs_per_s'] for r in reps):,.0f} jobs/s", file=sys.stderr)

    def enqueue(self, n):
        modes = {"arq": ["single", "concurrent"], "asynq": ["single", "concurrent"], "goarq": ["single", "concurrent", "batch"]}
        for impl, ms in modes.items():
            if impl not in self.impls:
                continue
            for mode in ms:
                reps = []
                for _ in range(self.args.reps):
                    self.r.flushdb()
                    c0 = commands_total(self.r)
                    out = run(self.cmd(impl, "enqueue", "--n", n, "--mode", mode))
                    out["redis_cmds_per_job"] = (commands_total(self.r) - c0) / n
                    if impl != "asynq":
                        assert self.r.zcard("arq:queue") == n
                    reps.append(out)
                self.record(f"enqueue_{mode}", impl, reps)
                print(f"  enqueue {mode} {impl}: {statistics.median(r['jobs_per_s'] for r in reps):,.0f} jobs/s", file=sys.stderr)

    def latency(self, n, low_poll):
        runs = [("arq", 0.5, "latency_poll_0.5s"), ("goarq", 0.5, "latency_poll_0.5s"), ("goarq", low_poll, "latency_low")]
        if self.asynq:
            # asynq at its defaults (TaskCheckInterval 1 s) and its fastest
            runs += [("asynq", None, "latency_poll_0.5s"), ("asynq", 0.001, "latency_low")]
        # goarq's worker, at its defaults, on jobs Python arq enqueues
        go_worker = shlex.join([self.go, "worker", "--redis", self.args.redis])
        runs += [("goarq", "py-enqueue", "latency_py_enqueue")]
        for impl, poll, key in runs:
            if impl not in self.impls:
                continue
            reps = []
            for _ in range(self.args.reps):
                self.r.flushdb()
                if poll == "py-enqueue":
                    cmd = self.cmd("arq", "latency", "--n", n, "--worker-cmd", go_worker)
                else:
                    cmd = self.cmd(impl, "latency", "--n", n, *self.poll_flag(impl, poll))
                reps.append(run(cmd))
            self.record(key, impl, reps)
            print(f"  {key} {impl}: p50 {statistics.median(r['p50_ms'] for r in reps):.1f} ms", file=sys.stderr)

    def herd(self, n, workers):
        """goarq's idle workers on one queue, jobs enqueued 5 ms apart (200
        jobs/s): Redis cost per job with one worker and with many, run in
        alternation so each pair shares the machine's conditions."""
        one, many = [], []
        for _ in range(self.args.reps):
            for count, reps in ((1, one), (workers, many)):
                self.r.flushdb()
                reps.append(run(self.cmd("goarq", "herd", "--n", n, "--gap", "5ms", "--workers", count)))
        for field in ("redis_cpu_us_per_job", "redis_cmds_per_job"):
            for a, b in zip(one, many):
                b[field + "_vs_one"] = b[field] / a[field]
        self.record("herd_1", "goarq", one)
        self.record(f"herd_{workers}", "goarq", many)
        print(f"  herd {workers} vs 1: Redis CPU per job {statistics.median(r['redis_cpu_us_per_job_vs_one'] for r in many):.2f}x",
              file=sys.stderr)

    def rss(self, n):
        for impl in self.impls:
            reps = []
            for _ in range(self.args.reps):
                self.fill(n, "sleep2", impl)
                out = run(self.cmd(impl, "rss", "--n", n, "--max-jobs", n, *self.poll_flag(impl, 0.05)))
                reps.append(out)
            self.record("rss_1000_waiting", impl, reps)
            print(f"  rss {impl}: {statistics.median(int(r['VmHWM'].split()[0]) for r in reps) / 1024:.1f} MB", file=sys.stderr)

    def ceiling(self):
        out = subprocess.run(["redis-benchmark", "-p", str(self.r.connection_pool.connection_kwargs["port"]), "-P", "16", "-q",
                              "-t", "set,get", "-n", str(self.args.redis_bench_n)], capture_output=True, text=True).stdout
        rates = {m.group(1).lower(): float(m.group(2)) for m in re.finditer(r"(SET|GET): ([\d.]+) requests per second", out)}
        self.results["redis_benchmark_P16"] = rates
        print(f"  redis-benchmark -P 16: {rates}", file=sys.stderr)


def med(reps, field):
    vals = [r[field] for r in reps if field in r]
    if not vals:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(vals), min(vals), max(vals)


def fmt(v, unit=""):
    if v >= 100:
        return f"{v:,.0f}{unit}"
    return f"{v:.2f}{unit}" if v < 10 else f"{v:.1f}{unit}"


def table(res, meta):
    rows = ["| figure | arq 0.28 median (min–max) | asynq median (min–max) | goarq median (min–max) | goarq / arq | goarq / asynq |",
            "|---|---|---|---|---|---|"]

    def row(label, key, field, unit="", better="higher", arq_key=None, asynq_key=None):
        a = res.get(arq_key or key, {}).get("arq")
        q = res.get(asynq_key or key, {}).get("asynq")
        g = res.get(key, {}).get("goarq")
        a = a if a and field in a[0] else None
        q = q if q and field in q[0] else None
        cell = lambda reps: "–" if not reps else "{} ({}–{})".format(*(fmt(x, unit) for x in med(reps, field)))  # noqa: E731

        def ratio(other):
            if not (other and g):
                return "–"
            om, gm = med(other, field)[0], med(g, field)[0]
            if om == 0:
                return "–"
            return f"{gm / om:.1f}x" if better == "higher" else f"{gm / om:.2f}x"
        rows.append(f"| {label} | {cell(a)} | {cell(q)} | {cell(g)} | {ratio(a)} | {ratio(q)} |")

    n, nio = meta["n"], meta["n_io"]
    row(f"drain {n:,} no-op jobs, max_jobs 10, poll 0.5 s (arq defaults; asynq's 1 s), jobs/s", "drain_10_0.5", "jobs_per_s")
    row(f"drain {n:,} no-op jobs, max_jobs 100, poll 0.5 s (asynq 1 s), jobs/s", "drain_100_0.5", "jobs_per_s")
    row(f"drain {n:,} no-op jobs, max_jobs 100, poll 0.01 s, jobs/s", "drain_100_0.01", "jobs_per_s")
    row(f"drain {nio:,} jobs waiting 10 ms on I/O, max_jobs 100, jobs/s", "drain_io", "jobs_per_s")
    row("Redis commands per processed job (max_jobs 100, poll 0.01 s)", "drain_100_0.01", "redis_cmds_per_job", better="lower")
    row("redis-server CPU µs per processed job (max_jobs 100, poll 0.01 s)", "drain_100_0.01", "redis_cpu_us_per_job", better="lower")
    row(f"enqueue {meta['n_enqueue']:,} one at a time, jobs/s", "enqueue_single", "jobs_per_s")
    row(f"enqueue {meta['n_enqueue']:,} with 100 concurrent callers, jobs/s", "enqueue_concurrent", "jobs_per_s")
    row(f"enqueue {meta['n_enqueue']:,} with EnqueueMany (batches of 1,000), jobs/s", "enqueue_batch", "jobs_per_s",
        arq_key="enqueue_single", asynq_key="enqueue_single")
    row("Redis commands per enqueued job (one at a time)", "enqueue_single", "redis_cmds_per_job", better="lower")
    for key, label in (("latency_poll_0.5s", "defaults (arq poll 0.5 s, asynq 1 s)"),
                       ("latency_low", f"fastest (goarq poll {meta['low_poll'] * 1000:g} ms, asynq 1 ms)")):
        for p in ("p50", "p95", "p99"):
            row(f"enqueue→start latency {p}, {label}, ms", key, f"{p}_ms", better="lower", arq_key="latency_poll_0.5s")
        row(f"idle Redis commands/s per worker, {label}", key, "idle_cmds_per_s", better="lower", arq_key="latency_poll_0.5s")
    row("deferred job start after its due time, p50, goarq defaults, ms", "latency_poll_0.5s", "deferred_late_p50_ms", better="lower")
    row("Job.Result return after the job ends, p50, goarq defaults, ms", "latency_poll_0.5s", "result_wake_p50_ms", better="lower")
    for p in ("p50", "p99"):
        row(f"enqueue→start latency {p}, jobs enqueued by Python arq, goarq defaults (arq: its own worker), ms", "latency_py_enqueue",
            f"{p}_ms", better="lower", arq_key="latency_poll_0.5s")
    row("of which after arq's enqueue_job returned, p50, ms", "latency_py_enqueue", "after_enqueue_p50_ms", better="lower",
        arq_key="latency_poll_0.5s")
    hw = meta.get("herd_workers", 8)
    for label, field in (("redis-server CPU µs per job", "redis_cpu_us_per_job"), ("Redis commands per job", "redis_cmds_per_job")):
        row(f"herd, 200 jobs/s: {label}, 1 idle worker", "herd_1", field, better="lower")
        row(f"herd, 200 jobs/s: {label}, {hw} idle workers", f"herd_{hw}", field, better="lower")
        row(f"herd, 200 jobs/s: {label}, {hw} idle workers / 1 (pairs run in turn), x", f"herd_{hw}", field + "_vs_one", better="lower")
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec,
    # so a Go program started by this Python script would report the
    # Python child's size at fork
    for label, field in (("peak RSS (VmHWM), 1,000 concurrent jobs each waiting 2 s, MB", "VmHWM"),
                         ("of which private memory (RssAnon at the end), MB", "RssAnon"),
                         ("of which the program's file-backed pages (RssFile), MB", "RssFile")):
        rows.append("| {} | {} | {} | {} | {} | {} |".format(label, *_rss_cells(res.get("rss_1000_waiting", {}), field)))
    rb = res.get("redis_benchmark_P16", {})
    if rb:
        rows.append(f"| redis-benchmark -P 16 (SET / GET), ops/s | {rb.get('set', 0):,.0f} / {rb.get('get', 0):,.0f} | | | | |")
    return "\n".join(rows)


def _rss_cells(r, field):
    kb = lambda x: int(str(x[field]).split()[0])  # noqa: E731
    mb = {impl: [kb(x) / 1024 for x in reps] for impl, reps in r.items() if reps and field in reps[0]}
    c = lambda impl: f"{statistics.median(mb[impl]):.1f} ({min(mb[impl]):.1f}–{max(mb[impl]):.1f})" if impl in mb else "–"  # noqa: E731
    ratio = lambda other: (f"{statistics.median(mb['goarq']) / statistics.median(mb[other]):.2f}x"  # noqa: E731
                           if other in mb and "goarq" in mb else "–")
    return c("arq"), c("asynq"), c("goarq"), ratio("arq"), ratio("asynq")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True)
    p.add_argument("--go-bin", required=True)
    p.add_argument("--asynq-bin", default="", help="asynqbench binary; without it the asynq column stays empty")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    p.add_argument("--out", default="bench-results")
    p.add_argument("--impls", default="", help="comma list of implementations to run (default: all)")
    p.add_argument("--only", default="", help="comma list: drain,enqueue,latency,herd,rss,ceiling")
    args = p.parse_args()
    q = args.quick
    if args.reps is None:
        args.reps = 1 if q else 3
    meta = {"n": 2000 if q else 20000, "n_io": 1000 if q else 10000, "n_enqueue": 2000 if q else 20000,
            "n_latency": 30 if q else 200, "low_poll": 0.005, "reps": args.reps, "quick": q,
            "n_herd": 200 if q else 1000, "herd_workers": 8}
    args.redis_bench_n = 100_000 if q else 1_000_000
    b = Bench(args)
    only = set(filter(None, args.only.split(",")))
    want = lambda s: not only or s in only  # noqa: E731
    start = time.time()
    if want("drain"):
        b.drain("drain_10_0.5", meta["n"], 10, 0.5)
        b.drain("drain_100_0.5", meta["n"], 100, 0.5)
        b.drain("drain_100_0.01", meta["n"], 100, 0.01)
        b.drain("drain_io", meta["n_io"], 100, 0.5, "io_wait")
    if want("enqueue"):
        b.enqueue(meta["n_enqueue"])
    if want("latency"):
        b.latency(meta["n_latency"], meta["low_poll"])
    if want("herd"):
        b.herd(meta["n_herd"], meta["herd_workers"])
    if want("rss"):
        b.rss(1000)
    if want("ceiling"):
        b.ceiling()
    meta.update(seconds=round(time.time() - start, 1), date=datetime.datetime.now().isoformat(timespec="seconds"),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
                redis=b.r.info("server")["redis_version"], python=platform.python_version())
    md = table(b.results, meta)
    print(md)
    print(f"\n{meta['date']}, {meta['machine']}, redis {meta['redis']}, Python {meta['python']}, "
          f"{meta['reps']} repetitions, {meta['seconds']} s")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"bench-{meta['date'].replace(':', '')}.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": b.results, "markdown": md}, f, indent=1)
    print(f"JSON: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
