"""Push wake-ups: a Go worker started without --poll-delay (the library's
defaults) starts a job Python's arq enqueues about one round trip later,
instead of polling every 0.5 s; after a Redis restart, cut connections and
a Sentinel failover it does so again; a Redis user that may not run CLIENT
gets polling, with one log line saying so. The fault tests run the worker
with an hour's poll delay, so that a job starting at all shows the push
wake-up works."""
import asyncio
import random
import statistics

import redis
from arq.connections import RedisSettings, create_pool

from .conftest import wait_for
from .test_faults import RedisServer
from .test_go_worker import GoWorker
from .test_redis_faults import Sentinel, reachable

HOUR = "3600s"


async def run_one(url, job_id, timeout=15):
    """Enqueue 'noop' from Python arq and wait for its result."""
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        job = await pool.enqueue_job("noop", _job_id=job_id)
        await job.result(timeout=timeout, poll_delay=0.05)
        info = await job.result_info()
        return (info.start_time - info.enqueue_time).total_seconds() * 1000
    finally:
        await pool.aclose()


async def started(w, needle, timeout=20):
    await wait_for(lambda: needle in w.output, timeout=timeout)


async def test_go_worker_with_defaults_starts_python_jobs_at_once():
    """Jobs enqueued by arq 20 ms ±5 ms apart start within milliseconds
    (arq ms timestamps), where polling every 0.5 s gives 250 ms on average;
    the idle worker's own health-check write does not count as a job."""
    srv = RedisServer()
    w = GoWorker(redis_url=srv.url, poll_delay=None)
    try:
        await started(w, "Starting worker")
        await wait_for(lambda: redis.Redis.from_url(srv.url).exists("arq:queue:health-check"), timeout=10)
        pool = await create_pool(RedisSettings.from_dsn(srv.url))
        jobs = []
        for i in range(30):
            jobs.append(await pool.enqueue_job("noop", _job_id=f"lat-{i}"))
            await asyncio.sleep(0.02 + random.uniform(-0.005, 0.005))
        lat = []
        for job in jobs:
            await job.result(timeout=10, poll_delay=0.05)
            info = await job.result_info()
            lat.append((info.start_time - info.enqueue_time).total_seconds() * 1000)
        await pool.aclose()
        print(f"\nenqueue→start, Go worker defaults, Python enqueue: p50 {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms")
        assert statistics.median(lat) <= 20, lat
        assert "push wake-up unavailable" not in w.output
    finally:
        w.kill()
        srv.stop()


async def test_push_wakeup_rearmed_after_redis_restart_and_cuts():
    srv = RedisServer()
    w = GoWorker("--poll-delay", HOUR, redis_url=srv.url, poll_delay=None)
    try:
        await started(w, "Starting worker")
        await run_one(srv.url, "before")
        srv.kill()
        srv.start()
        await run_one(srv.url, "after-restart")
        admin = redis.Redis.from_url(srv.url)
        for kind in ("pubsub", "normal"):  # the wake-up connection, then the pool
            admin.client_kill_filter(_type=kind)
            await run_one(srv.url, f"after-kill-{kind}")
        admin.close()
        assert w.proc.poll() is None, w.output
        assert w.output.count("re-armed") >= 2, w.output
    finally:
        w.kill()
        srv.stop()


async def test_push_wakeup_follows_sentinel_failover():
    s = Sentinel()
    w = None
    try:
        await wait_for(lambda: reachable(s.ready), timeout=30, interval=0.1)
        w = GoWorker("--poll-delay", HOUR, "--sentinel", f"127.0.0.1:{s.port}", redis_url="redis://localhost/0", poll_delay=None)
        await started(w, "Starting worker")
        await run_one(f"redis://127.0.0.1:{s.master_port()}/0", "before")
        s.master.kill()
        await wait_for(lambda: reachable(s.master_port) == s.replica.port, timeout=30, interval=0.05)
        await run_one(f"redis://127.0.0.1:{s.replica.port}/0", "after-failover", timeout=30)
        assert w.proc.poll() is None, w.output
    finally:
        if w:
            w.kill()
        s.stop()


async def test_user_without_client_permission_falls_back_to_polling():
    srv = RedisServer()
    admin = redis.Redis.from_url(srv.url)
    admin.acl_setuser("app", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all", "-client"])
    w = GoWorker(redis_url=f"redis://app:pw@127.0.0.1:{srv.port}/0", poll_delay="100ms")
    try:
        await started(w, "Starting worker")
        await run_one(srv.url, "polled")
        assert w.output.count("push wake-up unavailable") == 1, w.output
        assert "NOPERM" in w.output, w.output
    finally:
        w.kill()
        admin.close()
        srv.stop()
