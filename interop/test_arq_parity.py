"""Behaviour where a Go worker must do exactly what a Python arq worker does:
each test runs the same job on both and compares what Python reads back."""
import asyncio

import pytest
from arq import Retry
from arq.jobs import Job
from arq.worker import JobExecutionFailed

from .pyfuncs import run_burst
from .test_go_worker import go_burst


async def _outcome(job):
    try:
        return "ok", await job.result(timeout=5)
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return type(e).__name__, str(e)


async def test_cancelled_error_raised_by_the_job_is_retried_until_max_tries(arq_redis):
    pool = arq_redis
    outcomes = {}
    for side in ("python", "go"):
        job = await pool.enqueue_job("fail_as", "asyncio", "CancelledError", "from the job", _job_id=f"c-{side}")
        if side == "python":
            await run_burst(pool, max_tries=3)
        else:
            out = await go_burst("--max-tries", 3)
            assert out.count("cancelled, will be run again") == 3, out
        outcomes[side] = await _outcome(job)
        info = await job.result_info()
        assert info.job_try == 4 and not info.success
    assert outcomes["go"] == outcomes["python"] == ("JobExecutionFailed", "max 3 retries exceeded")


async def test_retry_with_retry_jobs_off_stores_the_retry_exception_with_its_state(arq_redis):
    pool = arq_redis
    results = {}
    for side in ("python", "go"):
        job = await pool.enqueue_job("retry", 5, 2.5, _job_id=f"r-{side}")
        if side == "python":
            await run_burst(pool, retry_jobs=False)
        else:
            await go_burst("--retry-jobs=false")
        info = await job.result_info()
        assert not info.success
        results[side] = info.result
    for r in results.values():
        assert type(r) is Retry
    assert results["go"].defer_score == results["python"].defer_score == 2500
    assert repr(results["go"]) == repr(results["python"]) == "<Retry defer 2.50s>"
    assert results["go"].args == results["python"].args


async def test_health_check_interval_zero_writes_on_every_poll_with_one_second_ttl(arq_redis):
    pool = arq_redis
    from .test_go_worker import GoWorker

    w = GoWorker("--health-check-interval", "0")
    try:
        async def written():
            return await pool.get("arq:queue:health-check")

        first = await asyncio.wait_for(_until(written), 10)
        assert b"j_complete=0" in first
        # arq: PSETEX (0 + 1) * 1000 on every poll. Over 3 s the 1 s key
        # never runs out, its TTL never exceeds 1 s, and it is seen refreshed.
        ttls = []
        for _ in range(30):
            ttls.append(await pool.pttl("arq:queue:health-check"))
            await asyncio.sleep(0.1)
        assert all(t <= 1000 for t in ttls), ttls
        assert sum(t > 0 for t in ttls) >= 27, ttls
        assert any(b > a for a, b in zip(ttls, ttls[1:])), ttls
    finally:
        w.kill()


async def _until(fn):
    """Await fn() until it returns something truthy."""
    while True:
        v = await fn()
        if v:
            return v
        await asyncio.sleep(0.02)


async def test_max_tries_and_job_timeout_zero_are_taken_literally(arq_redis):
    pool = arq_redis
    outcomes = {}
    for side in ("python", "go"):
        tries = await pool.enqueue_job("noop" if side == "go" else "add", *(() if side == "go" else (1, 2)), _job_id=f"t-{side}")
        if side == "python":
            await run_burst(pool, max_tries=0)
        else:
            await go_burst("--max-tries", 0)
        outcomes[side] = await _outcome(tries)
    assert outcomes["go"] == outcomes["python"] == ("JobExecutionFailed", "max 0 retries exceeded")

    outcomes = {}
    for side in ("python", "go"):
        job = await pool.enqueue_job("sleep", 1, _job_id=f"to-{side}")
        if side == "python":
            await run_burst(pool, job_timeout=0)
        else:
            await go_burst("--job-timeout", 0)
        outcomes[side] = await _outcome(job)
    assert outcomes["go"][0] == outcomes["python"][0] == "TimeoutError"


async def test_fixture_functions_match_their_python_twins(arq_redis):
    pool = arq_redis
    for side in ("python", "go"):
        kw = await pool.enqueue_job("add", a=1, b=2, _job_id=f"kw-{side}")
        mixed = await pool.enqueue_job("add", 1, b=2.5, _job_id=f"mixed-{side}")
        ints = await pool.enqueue_job("sleep", 0, _job_id=f"sleep-{side}")
        floats = await pool.enqueue_job("sleep", 0.01, _job_id=f"sleepf-{side}")
        missing = await pool.enqueue_job("add", 1, _job_id=f"missing-{side}")
        if side == "python":
            await run_burst(pool)
        else:
            await go_burst()
        assert await kw.result(timeout=5) == 3
        assert await mixed.result(timeout=5) == 3.5
        r = await ints.result(timeout=5)
        assert r == 0 and type(r) is int
        r = await floats.result(timeout=5)
        assert r == 0.01 and type(r) is float
        with pytest.raises(TypeError, match=r"add\(\) missing 1 required positional argument: 'b'"):
            await missing.result(timeout=5)
