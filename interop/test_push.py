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


async def test_go_worker_starts_python_deferred_jobs_when_due():
    """Jobs Python defers start once arq's own rule says they are due
    (timestamp_ms() >= score), within milliseconds: the idle worker learnt
    the due time when the enqueue woke it, and slept until then."""
    srv = RedisServer()
    w = GoWorker(redis_url=srv.url, poll_delay=None)
    try:
        await started(w, "Starting worker")
        pool = await create_pool(RedisSettings.from_dsn(srv.url))
        jobs = []
        for i in range(12):
            job = await pool.enqueue_job("noop", _job_id=f"def-{i}", _defer_by=0.2 + i * 0.037)
            jobs.append((job, (await job.info()).score))
        late = []
        for job, score in jobs:
            await job.result(timeout=10, poll_delay=0.05)
            info = await job.result_info()
            st = round(info.start_time.timestamp() * 1000)
            assert st >= score, (job.job_id, st, score)
            late.append(st - score)
        await pool.aclose()
        print(f"\nstart after due, Go worker defaults, Python defer_by: p50 {statistics.median(late)} ms, max {max(late)} ms")
        assert statistics.median(late) <= 5, late
    finally:
        w.kill()
        srv.stop()


async def test_idle_go_workers_share_a_queue_without_a_claim_each():
    """Four idle Go workers (separate processes) on one queue, Python
    enqueuing every 5 ms: every write to the queue wakes all four, but one
    reacts at once and the others mostly only peek, so the claim scripts per
    job stay near one worker's two (on the job's enqueue and on its finish),
    besides the job's finish script; each job runs once."""
    srv = RedisServer()
    ws = [GoWorker(redis_url=srv.url, poll_delay=None) for _ in range(4)]
    admin = redis.Redis.from_url(srv.url)
    try:
        for w in ws:
            await started(w, "Starting worker")
        await wait_for(lambda: admin.info("commandstats").get("cmdstat_zrange", {}).get("calls", 0) >= 4, timeout=10)
        scripts = lambda: admin.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)  # noqa: E731
        before = scripts()
        pool = await create_pool(RedisSettings.from_dsn(srv.url))
        jobs = []
        for i in range(120):
            jobs.append(await pool.enqueue_job("noop", _job_id=f"herd-{i}"))
            await asyncio.sleep(0.005)
        lat = []
        for job in jobs:
            await job.result(timeout=10, poll_delay=0.05)
            info = await job.result_info()
            assert info.success and info.job_try == 1, info
            lat.append((info.start_time - info.enqueue_time).total_seconds() * 1000)
        await pool.aclose()
        per_job = (scripts() - before) / len(jobs)
        print(f"\n4 idle Go workers: {per_job:.2f} scripts per job (one of them the finish), "
              f"enqueue→start p50 {statistics.median(lat):.0f} ms")
        assert per_job <= 4, per_job
        assert statistics.median(lat) <= 20, lat
        for w in ws:
            assert w.proc.poll() is None, w.output
    finally:
        for w in ws:
            w.kill()
        admin.close()
        srv.stop()


async def test_go_worker_runs_a_job_retried_with_no_delay_at_once():
    """A job that retries with no delay (arq's Retry(defer=0)) runs again at
    once on an idle Go worker whose poll delay is an hour. The finish writes
    nothing to the queue key then (arq's finish_job sends no ZINCRBY without
    an increment), so no push comes: the worker that wrote the retry wakes
    itself. Its first run lasts 0.2 s, so the worker is idle (its claim
    left nothing) when the retry is written."""
    srv = RedisServer()
    w = GoWorker("--poll-delay", HOUR, redis_url=srv.url, poll_delay=None)
    try:
        await started(w, "Starting worker")
        pool = await create_pool(RedisSettings.from_dsn(srv.url))
        job = await pool.enqueue_job("tracked", "r0", 0, 0.2, _job_id="retry-0")
        assert await job.result(timeout=10, poll_delay=0.05) == 2
        info = await job.result_info()
        ended = int(redis.Redis.from_url(srv.url).get("r0:end:retry-0"))
        gap = info.start_time.timestamp() * 1000 - ended
        await pool.aclose()
        print(f"\nretry with no delay → next run, Go worker at a 1 h poll delay: {gap:.0f} ms")
        assert gap <= 1000, gap
        assert "retrying job in 0.00s" in w.output
    finally:
        w.kill()
        srv.stop()
