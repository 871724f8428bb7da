"""Migrating one function at a time on a shared queue (README: "Migrating
from Python, one function at a time"): Go workers with --only-own-functions
next to stock arq workers. Short forms; scripts/migrate.sh runs the long
forms (GOARQ_MIGRATE_* below) and prints the figures."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from arq.jobs import Job, JobStatus

from .conftest import BIN, REDIS_URL, wait_for
from .test_go_worker import GoWorker

N_MIXED = int(os.environ.get("GOARQ_MIGRATE_JOBS", "5000"))
N_FOREIGN = int(os.environ.get("GOARQ_MIGRATE_FOREIGN", "5000"))
N_IDLE_FOREIGN = int(os.environ.get("GOARQ_MIGRATE_IDLE_FOREIGN", "10000"))
IDLE_WINDOW = float(os.environ.get("GOARQ_MIGRATE_IDLE_SECONDS", "6"))

GO_FUNCS = ["count", "add", "echo"]  # what the Go workers took over
PY_ONLY = ["work", "job_info", "sleep"]  # still only on the Python side
GO_FLAGS = ("--functions", ",".join(GO_FUNCS), "--only-own-functions")


class PyWorker(GoWorker):
    """A stock arq worker process (python -m arq SETTINGS)."""

    def __init__(self, settings="MigrateWorkerSettings"):
        self.log = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, REDIS_URL=REDIS_URL)
        self.proc = subprocess.Popen([sys.executable, "-m", "arq", f"interop.arq_settings.{settings}"], env=env,
                                     cwd=os.path.dirname(os.path.dirname(__file__)), stdout=self.log, stderr=subprocess.STDOUT)


def goarq(*args):
    p = subprocess.run([str(BIN / "goarq"), "--redis", REDIS_URL, *map(str, args)], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def call(i, fn):
    """The arguments of job i of function fn."""
    return {"count": (f"k{i}",), "work": (f"k{i}", 0), "add": (i, 1), "echo": (i,), "job_info": (), "sleep": (0,)}[fn]


async def enqueue(pool, jobs):
    for start in range(0, len(jobs), 500):
        await asyncio.gather(*[pool.enqueue_job(fn, *args, _job_id=jid) for jid, fn, args in jobs[start:start + 500]])


async def _results(pool, ids):
    n = 0
    for start in range(0, len(ids), 1000):
        n += sum(1 for v in await pool.mget([f"arq:result:{i}" for i in ids[start:start + 1000]]) if v is not None)
    return n


async def _snapshot(pool, ids):
    """Record, score and any in-progress/retry/result key of each job."""
    out = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        async with pool.pipeline(transaction=False) as p:
            for i in chunk:
                p.get(f"arq:job:{i}")
                p.zscore("arq:queue", i)
                p.exists(f"arq:in-progress:{i}", f"arq:retry:{i}", f"arq:result:{i}")
            vals = await p.execute()
        for k, i in enumerate(chunk):
            out[i] = tuple(vals[3 * k:3 * k + 3])
    return out


async def test_mixed_fleet_two_python_two_go_each_job_once(arq_redis):
    """Two stock arq workers with all six functions, two Go workers with
    three of them (--only-own-functions): every job ends with exactly one
    successful result at try 1, each counter is 1, nobody logs `function ...
    not found`, and the Go workers run a share of their functions' jobs."""
    pool = arq_redis
    fns = GO_FUNCS + PY_ONLY
    jobs = [(f"m{i}", fns[i % 6], call(i, fns[i % 6])) for i in range(N_MIXED)]
    await enqueue(pool, jobs)
    # step 1 of the README: the Python workers run everything; step 2: Go
    # workers with --only-own-functions join them on the same queue
    py = [PyWorker() for _ in range(2)]
    go = []
    start = time.monotonic()
    try:
        await wait_for(lambda: pool.exists("arq:queue:health-check"), timeout=20)
        go = [GoWorker(*GO_FLAGS, "--max-jobs", 10) for _ in range(2)]
        await wait_for(lambda: _all_done(pool, jobs), timeout=180, interval=0.2)
        took = time.monotonic() - start
        # watch the fleet as the README says: goarq workers shows both Go workers
        code, out, _ = goarq("--json", "workers")
        assert code == 0
        listed = json.loads(out)
        assert len(listed["workers"]) == 2 and all(w["only_own_functions"] and w["functions"] == sorted(GO_FUNCS) for w in listed["workers"])
        assert "j_complete=" in listed["health"]
        code, out, _ = goarq("results", "--help")
        if "--function" in out:  # goarq results --function (the CLI branch): what the Go side ran and how it went
            code, out, _ = goarq("--json", "results", "--function", "count", "--limit", "0")
            rows = json.loads(out)["results"]
            assert code == 0 and len(rows) == sum(1 for _, fn, _ in jobs if fn == "count") and all(r["function"] == "count" for r in rows)
    finally:
        for w in go:
            w.signal(signal.SIGINT)
        for w in py:
            w.signal(signal.SIGTERM)
        for w in go + py:
            await w.wait(30)
    results = {}
    for jid, fn, args in jobs:
        results[jid] = await Job(jid, pool).result_info()
    bad = [jid for jid, r in results.items() if r is None or not r.success or r.job_try != 1]
    assert not bad, (bad[:10], [results[b] for b in bad[:3]])
    counted = [f"k{i}" for i, (_, fn, _) in enumerate(jobs) if fn in ("count", "work")]
    counts = await pool.mget(counted)
    assert counts == [b"1"] * len(counted), [k for k, c in zip(counted, counts) if c != b"1"][:10]
    assert await pool.zcard("arq:queue") == 0
    logs = [w.output for w in go + py]
    assert not any("not found" in out for out in logs), [out for out in logs if "not found" in out][0][-2000:]
    ran_go = sum(out.count(" ← ") for out in logs[:2])
    ran_py_go_funcs = sum(out.count(f":{fn} ●") for out in logs[2:] for fn in GO_FUNCS)
    for out in logs[:2]:
        for fn in PY_ONLY:
            assert f":{fn}(" not in out, f"a Go worker ran {fn}"
    go_jobs = sum(1 for _, fn, _ in jobs if fn in GO_FUNCS)
    assert ran_go > 0, "the Go workers ran none of their functions' jobs"
    print(f"\nmixed fleet: {N_MIXED} jobs in {took:.1f}s, Go workers ran {ran_go} of the {go_jobs} jobs of their "
          f"functions ({100 * ran_go / go_jobs:.0f}%; the Python workers logged {ran_py_go_funcs} of them), 0 lost, 0 run twice, 0 'not found'")


async def _all_done(pool, jobs):
    return await _results(pool, [j[0] for j in jobs]) == len(jobs)


async def test_only_own_functions_does_not_starve_and_leaves_others_untouched(arq_redis):
    """5,000 ready jobs of a function only Python has, then 100 of a Go
    function; no Python worker: one Go worker (max_jobs 10) starts all 100
    within 2 s of being launched, and the 5,000 stay exactly as enqueued."""
    pool = arq_redis
    foreign = [(f"p{i}", "work", (f"w{i}", 0)) for i in range(N_FOREIGN)]
    own = [(f"g{i}", "count", (f"c{i}",)) for i in range(100)]
    await enqueue(pool, foreign)
    await enqueue(pool, own)
    before = await _snapshot(pool, [j[0] for j in foreign])
    launched = time.time()
    w = GoWorker(*GO_FLAGS, "--max-jobs", 10)
    try:
        await wait_for(lambda: _all_done(pool, own), timeout=30)
    finally:
        w.signal(signal.SIGINT)
        assert await w.wait() == 0, w.output
    starts = [(await Job(jid, pool).result_info()).start_time.timestamp() for jid, _, _ in own]
    took = max(starts) - launched
    after = await _snapshot(pool, [j[0] for j in foreign])
    assert after == before, [i for i in before if after[i] != before[i]][:5]
    assert all(v[2] == 0 for v in after.values())  # no in-progress, retry or result key
    assert "not found" not in w.output
    print(f"\nstarvation: {N_FOREIGN} foreign jobs first, 100 own jobs all started {took:.2f}s after the Go worker was launched")
    assert took < 2.0, took


async def _commands(pool):
    return int((await pool.info("stats"))["total_commands_processed"])


async def _idle_rate(pool, worker, seconds):
    """Commands per second Redis processes while worker idles (after its
    start-up), less this measurement's own INFO."""
    await wait_for(lambda: _has_worker_record(pool), timeout=10)
    await asyncio.sleep(1.0)  # past the start-up reads
    c0 = await _commands(pool)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    c1 = await _commands(pool)
    dt = time.monotonic() - t0
    assert worker.proc.poll() is None, worker.output
    return (c1 - c0 - 1) / dt


async def _has_worker_record(pool):
    return len([k async for k in pool.scan_iter("goarq:worker:*")]) > 0


async def test_idle_cost_in_front_of_foreign_jobs(arq_redis):
    """An idle Go worker with --only-own-functions in front of 10,000 jobs of
    other functions costs about what an idle worker costs on an empty queue
    (one read per poll), plus a small constant."""
    pool = arq_redis
    base_w = GoWorker("--poll-delay", "100ms")
    try:
        base = await _idle_rate(pool, base_w, IDLE_WINDOW)
    finally:
        base_w.signal(signal.SIGINT)
        assert await base_w.wait() == 0
    await pool.flushdb()
    await enqueue(pool, [(f"p{i}", "work", (f"w{i}", 0)) for i in range(N_IDLE_FOREIGN)])
    w = GoWorker(*GO_FLAGS, "--poll-delay", "100ms")
    try:
        own = await _idle_rate(pool, w, IDLE_WINDOW)
    finally:
        w.signal(signal.SIGINT)
        assert await w.wait() == 0
    assert await pool.zcard("arq:queue") == N_IDLE_FOREIGN
    print(f"\nidle cost (poll delay 100 ms, {IDLE_WINDOW:.0f}s window): {base:.2f} commands/s on an empty queue, "
          f"{own:.2f} commands/s with --only-own-functions in front of {N_IDLE_FOREIGN} foreign jobs (+{own - base:.2f}/s)")
    assert own <= base + 1.0, (base, own)


async def test_max_concurrency_per_function(arq_redis):
    """--max-concurrency sleep=2: never more than two sleep jobs run at once
    in the Go worker, and count jobs queued behind them flow past."""
    pool = arq_redis
    sleeps = [(f"s{i}", "sleep", (0.3,)) for i in range(6)]
    counts = [(f"c{i}", "count", (f"k{i}",)) for i in range(40)]
    await enqueue(pool, sleeps + counts)
    w = GoWorker("--functions", "sleep,count", "--max-concurrency", "sleep=2", "--max-jobs", 10)
    peak = 0
    try:
        async def sampled():
            nonlocal peak
            peak = max(peak, await pool.exists(*[f"arq:in-progress:{j[0]}" for j in sleeps]))
            return await _all_done(pool, sleeps + counts)
        await wait_for(sampled, timeout=20)
    finally:
        w.signal(signal.SIGINT)
        assert await w.wait() == 0, w.output
    info = {jid: await Job(jid, pool).result_info() for jid, _, _ in sleeps + counts}
    spans = [(info[j].start_time, info[j].finish_time) for j, _, _ in sleeps]
    overlap = max(sum(1 for s2, f2 in spans if s2 <= s < f2) for s, _ in spans)
    assert overlap == 2 and peak <= 2, (overlap, peak)
    last_count = max(info[j].finish_time for j, _, _ in counts)
    assert last_count < sorted(f for _, f in spans)[2], "count jobs waited behind the limited sleeps"


async def test_rollback_and_the_python_side_without_the_function(arq_redis):
    """The README's last steps. Rollback: a Go worker stopped with SIGINT
    leaves its running job queued, and a Python worker (which still has the
    function) runs it as try 2. And why a function stays in the Python code
    while Python workers share the queue: a stock arq worker without it fails
    its jobs with `function 'count' not found`."""
    pool = arq_redis
    w = GoWorker("--functions", "sleep", "--only-own-functions")
    job = await pool.enqueue_job("sleep", 5, _job_id="inflight")
    await wait_for(lambda: pool.exists("arq:in-progress:inflight"), timeout=10)
    await asyncio.sleep(0.2)
    w.signal(signal.SIGINT)
    assert await w.wait() == 0
    assert await job.status() == JobStatus.queued
    py = PyWorker()
    try:
        await wait_for(lambda: pool.exists("arq:result:inflight"), timeout=20, interval=0.1)
        info = await job.result_info()
        assert info.success and info.job_try == 2
    finally:
        py.signal(signal.SIGTERM)
        await py.wait(30)
    # a Python worker whose code no longer has `count`
    lacking = PyWorker("MigrateWithoutCountSettings")
    try:
        gone = await pool.enqueue_job("count", "kx", _job_id="lost")
        await wait_for(lambda: pool.exists("arq:result:lost"), timeout=20, interval=0.1)
    finally:
        lacking.signal(signal.SIGTERM)
        await lacking.wait(30)
    info = await gone.result_info()
    assert not info.success and "function 'count' not found" in str(info.result)
    assert "function 'count' not found" in lacking.output
