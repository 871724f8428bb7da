"""The goarq CLI against real arq workers and a real Redis."""
import asyncio
import json
import subprocess

from arq.jobs import Job, JobStatus

from .conftest import BIN, REDIS_URL, wait_for
from .pyfuncs import run_burst, running_worker
from .test_go_worker import GoWorker, arq_check


def goarq(*args, timeout=60):
    p = subprocess.run([str(BIN / "goarq"), "--redis", REDIS_URL, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


async def agoarq(*args):
    return await asyncio.to_thread(goarq, *args)


async def test_result_json_of_python_jobs(arq_redis):
    pool = arq_redis
    ok = await pool.enqueue_job("echo", 1, "two", (3.0,), k={"x": None})
    bad = await pool.enqueue_job("fail", "kaput")
    await run_burst(pool)
    code, out, _ = goarq("--json", "result", ok.job_id)
    assert code == 0
    r = json.loads(out)
    assert r["success"] is True and r["result"] == [[1, "two", [3.0]], {"k": {"x": None}}]
    code, out, err = goarq("--json", "result", bad.job_id)
    assert code == 1
    r = json.loads(out)
    assert r["success"] is False and r["exception"]["class"] == "ValueError" and r["exception"]["message"] == "kaput"
    code, out, err = goarq("result", bad.job_id)
    assert code == 1 and "ValueError: kaput" in err
    code, out, _ = goarq("--json", "info", ok.job_id)
    assert code == 0 and json.loads(out)["function"] == "echo"


async def test_enqueue_wait_runs_on_python_worker(arq_redis):
    pool = arq_redis
    async with running_worker(pool):
        code, out, err = await agoarq("enqueue", "add", "1", "2", "--wait", "30s")
        assert (code, out) == (0, "3\n"), err
        code, out, _ = await agoarq("enqueue", "add", "1", "2", "--job-id", "fixed")
        assert code == 0 and out == "fixed\n"
        assert await Job("fixed", pool).result(timeout=10) == 3
        code, _, err = await agoarq("enqueue", "add", "1", "2", "--job-id", "fixed")
        assert code == 3 and "already" in err


async def test_abort_a_job_on_a_python_worker(arq_redis):
    pool = arq_redis
    async with running_worker(pool, allow_abort_jobs=True):
        job = await pool.enqueue_job("sleep", 30)
        await wait_for(lambda: _in_progress(job))
        code, out, err = await agoarq("abort", "--timeout", "10s", job.job_id)
        assert code == 0 and out == "aborted\n", err
        assert await job.status() == JobStatus.complete


async def _in_progress(job):
    return await job.status() == JobStatus.in_progress


async def test_health_agrees_with_arq_check(arq_redis):
    pool = arq_redis
    assert goarq("health")[0] == 1 and await asyncio.to_thread(arq_check) == 1
    w = GoWorker("--health-check-interval", "1s")
    try:
        await wait_for(lambda: pool.exists("arq:queue:health-check"))
        code, out, _ = goarq("health")
        assert code == 0 and "j_complete=" in out
        assert await asyncio.to_thread(arq_check) == 0
        code, out, _ = goarq("--json", "stats")
        assert code == 0 and json.loads(out)["health"].endswith("queued=0")
    finally:
        w.signal()
        await w.wait()
    assert goarq("health")[0] == 1 and await asyncio.to_thread(arq_check) == 1


async def test_demo_on_real_redis_prints_python_to_paste(arq_redis):
    code, out, err = goarq("demo")
    assert code == 0, err
    assert "✗ aborted (Job.abort() returned true)" in out and "retry with backoff" in out
    assert "await create_pool(RedisSettings.from_dsn(" in out and "enqueue_job('add', 1, 2, _queue_name='goarq:demo')" in out


async def test_unreachable_redis_is_one_clear_line():
    p = subprocess.run([str(BIN / "goarq"), "--redis", "redis://user:s3cret@127.0.0.1:1/0", "jobs"], capture_output=True, text=True)
    assert p.returncode == 4
    assert p.stderr.count("\n") == 1 and "127.0.0.1:1" in p.stderr and "s3cret" not in p.stderr
