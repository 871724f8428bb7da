"""The Python arq half of scripts/bench.sh: each subcommand measures one
thing with real arq 0.28 and prints one JSON object."""
import argparse
import asyncio
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import time

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker


async def noop(ctx):
    return None


async def io_wait(ctx):
    await asyncio.sleep(0.01)


async def sleep2(ctx):
    await asyncio.sleep(2)


async def started_at(ctx):
    return time.time()


FUNCTIONS = [noop, io_wait, sleep2, started_at]


def settings(args):
    return RedisSettings.from_dsn(args.redis)


async def drain(args):
    w = Worker(functions=FUNCTIONS, redis_settings=settings(args), burst=True, max_jobs=args.max_jobs,
               poll_delay=args.poll_delay, handle_signals=False)
    start = time.perf_counter()
    await w.async_run()
    secs = time.perf_counter() - start
    await w.close()
    out = {"jobs": w.jobs_complete, "failed": w.jobs_failed, "seconds": secs, "jobs_per_s": w.jobs_complete / secs}
    if args.command == "rss":
        out["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "VmHWM"):
                    out[key] = value.strip()
    return out


async def enqueue(args):
    pool = await create_pool(settings(args))
    start = time.perf_counter()
    if args.mode == "single":
        for _ in range(args.n):
            await pool.enqueue_job("noop")
    else:
        per = args.n // 100

        async def caller():
            for _ in range(per):
                await pool.enqueue_job("noop")

        await asyncio.gather(*[caller() for _ in range(100)])
    secs = time.perf_counter() - start
    await pool.aclose()
    return {"jobs": args.n, "seconds": secs, "jobs_per_s": args.n / secs}


async def total_commands(pool):
    return (await pool.info("stats"))["total_commands_processed"]


async def latency(args):
    # the worker runs in its own process, as in production, so that waiting
    # for results here does not load its event loop; --worker-cmd runs
    # another one (goarq's) on the jobs this arq client enqueues
    cmd = shlex.split(args.worker_cmd) if args.worker_cmd else [
        sys.executable, __file__, "worker", "--redis", args.redis, "--poll-delay", str(args.poll_delay)]
    worker = subprocess.Popen(cmd)
    pool = await create_pool(settings(args))
    try:
        while not await pool.exists("arq:queue:health-check"):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        before = await total_commands(pool)
        await asyncio.sleep(args.idle)
        idle = (await total_commands(pool) - before - 1) / args.idle
        # enqueue on a schedule, not after each result: arrivals then fall
        # at every phase of the worker's poll cycle, as in production; the
        # jitter keeps them from locking to a poll period
        jobs = []
        start = time.time()
        for i in range(args.n):
            await asyncio.sleep(max(0.0, start + i * args.gap + random.uniform(-args.gap / 4, args.gap / 4) - time.time()))
            t0 = time.time()
            job = await pool.enqueue_job("started_at")
            jobs.append((job, t0, time.time()))
        lat, after = [], []
        for job, t0, t1 in jobs:
            started = await job.result(poll_delay=0.01)
            lat.append((started - t0) * 1000)
            after.append((started - t1) * 1000)  # negative: started before enqueue_job returned
    finally:
        worker.terminate()
        worker.wait()
        await pool.aclose()
    lat.sort()
    after.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
    return {"p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "idle_cmds_per_s": idle,
            "after_enqueue_p50_ms": after[len(after) // 2]}


def run_worker(args):
    w = Worker(functions=FUNCTIONS, redis_settings=settings(args), poll_delay=args.poll_delay, health_check_interval=3600)
    w.run()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["drain", "enqueue", "latency", "rss", "worker"])
    p.add_argument("--redis", default=os.environ.get("REDIS_URL"))
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--max-jobs", type=int, default=10)
    p.add_argument("--poll-delay", type=float, default=0.5)
    p.add_argument("--mode", default="single")
    p.add_argument("--gap", type=float, default=0.02)
    p.add_argument("--idle", type=float, default=2.0)
    p.add_argument("--worker-cmd", default="", help="latency: run this worker instead of arq's")
    args = p.parse_args()
    if args.command == "worker":
        return run_worker(args)
    fn = {"drain": drain, "rss": drain, "enqueue": enqueue, "latency": latency}[args.command]
    print(json.dumps(asyncio.run(fn(args))))


if __name__ == "__main__":
    main()
