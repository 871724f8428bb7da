"""The goarq CLI against real arq workers and a real Redis."""
import asyncio
import json
import subprocess

from arq.jobs import Job, JobStatus

from .conftest import BIN, REDIS_URL, make_pool, wait_for
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


async def test_job_try_agrees_with_queued_jobs(arq_redis):
    """jobs, info and arq's queued_jobs() show the same try for a job that has not run."""
    pool = arq_redis
    plain = await pool.enqueue_job("add", 1, 2, _defer_by=3600)
    third = await pool.enqueue_job("add", 1, 2, _job_try=3, _defer_by=3600)
    code, out, err = goarq("enqueue", "add", "1", "2", "--job-id", "go-plain", "--defer-by", "1h")
    assert code == 0, err
    code, out, err = goarq("enqueue", "add", "1", "2", "--job-id", "go-second", "--job-try", "2", "--defer-by", "1h")
    assert code == 0, err
    python = {d.job_id: d.job_try for d in await pool.queued_jobs()}
    assert python == {plain.job_id: None, third.job_id: 3, "go-plain": None, "go-second": 2}
    code, out, _ = goarq("--json", "jobs")
    assert code == 0
    assert {j["job_id"]: j["job_try"] for j in json.loads(out)["jobs"]} == python
    for job_id, want in python.items():
        code, out, _ = goarq("--json", "info", job_id)
        assert code == 0 and json.loads(out)["job_try"] == want
        code, out, _ = goarq("info", job_id)
        assert f"job_try       {want}\n" in out
    code, out, _ = goarq("jobs")
    rows = {l.split()[0]: l.split()[-5] for l in out.splitlines()[1:]}  # TRY, ENQUEUED (date time), RUNS (in 1h0m0s)
    assert rows == {k: str(v) for k, v in python.items()}


async def test_results_of_a_queue_run_by_a_python_worker(arq_redis):
    pool = arq_redis
    mine = [await pool.enqueue_job("add", i, 1, _queue_name="pyq") for i in range(3)]
    mine.append(await pool.enqueue_job("fail", "kaput", _queue_name="pyq"))
    other = await pool.enqueue_job("add", 5, 5)
    await run_burst(pool, queue_name="pyq")
    await run_burst(pool)
    results = await pool.all_job_results()
    by_finish = [r.job_id for r in sorted(results, key=lambda r: r.finish_time, reverse=True) if r.queue_name == "pyq"]
    code, out, err = goarq("--json", "results", "--queue", "pyq")
    assert code == 0, err
    rows = json.loads(out)["results"]
    # newest finish first (jobs finishing in the same millisecond may come in either order)
    finished = {r.job_id: r.finish_time for r in results}
    assert [finished[r["job_id"]] for r in rows] == [finished[i] for i in by_finish]
    assert {r["job_id"] for r in rows} == {j.job_id for j in mine} and other.job_id not in out
    assert {r["queue_name"] for r in rows} == {"pyq"}
    code, out, _ = goarq("--json", "--queue", "pyq", "results", "--function", "add", "--limit", "2")
    adds = [finished[i] for i in by_finish if i != mine[3].job_id]
    assert [finished[r["job_id"]] for r in json.loads(out)["results"]] == adds[:2]
    code, out, _ = goarq("--queue", "pyq", "results", "--failed")
    assert code == 0 and "pyq" in out and "ValueError: kaput" in out and mine[0].job_id not in out
    code, out, _ = goarq("--json", "results")
    assert [r["job_id"] for r in json.loads(out)["results"]] == [other.job_id]


async def test_unreadable_record_next_to_python_written_ones(arq_redis):
    pool = arq_redis
    ok = await pool.enqueue_job("echo", 1)
    bad = await pool.enqueue_job("fail", "kaput")
    await run_burst(pool)
    await pool.set("arq:result:junk", b"\x80\x04\x95garbage")
    code, out, err = goarq("results")
    assert code == 0, err
    assert ok.job_id in out and bad.job_id in out
    junk = [l for l in out.splitlines() if l.startswith("junk")]
    assert len(junk) == 1 and "unreadable: pickle: " in junk[0]
    code, out, err = goarq("--json", "stats")
    assert code == 0, err
    st = json.loads(out)
    assert (st["results_ok"], st["results_failed"], st["results_unreadable"]) == (1, 1, 1)
    # the wrong serializer: every record is marked, with what its bytes look like
    code, out, err = goarq("--serializer", "json", "results")
    assert code == 0, err
    for job_id in (ok.job_id, bad.job_id):
        line = next(l for l in out.splitlines() if l.startswith(job_id))
        assert "unreadable: json: " in line and "(the bytes look pickle-encoded, not json)" in line
    # a JSON-written job next to a pickled one in the queue, and one whose key is gone
    json_pool = await make_pool("json")
    try:
        j = await json_pool.enqueue_job("add", 1, 2)
    finally:
        await json_pool.aclose()
    p = await pool.enqueue_job("add", 3, 4)
    await pool.zadd("arq:queue", {"gone": 1})
    code, out, err = goarq("jobs")
    assert code == 0, err
    lines = {l.split()[0]: l for l in out.splitlines()[1:]}
    assert "add" in lines[p.job_id]
    assert "unreadable: pickle: " in lines[j.job_id] and "(the bytes look json-encoded, not pickle)" in lines[j.job_id]
    assert "expired" in lines["gone"]


async def test_kwarg_json_with_commas_reaches_python_whole(arq_redis):
    """--kwarg values are JSON: a list or a string with commas is one value,
    and Python's worker gets it as such."""
    code, out, err = await agoarq("enqueue", "echo", "--job-id", "commas", "--kwarg", 'cols=["a","b"]',
                                  "--kwarg", 'name="a,b"', "--kwarg", 'm={"x": 1, "y": [2, 3]}')
    assert code == 0 and out == "commas\n", err
    await run_burst(arq_redis)
    info = await Job("commas", arq_redis).result_info()
    assert info.kwargs == {"cols": ["a", "b"], "name": "a,b", "m": {"x": 1, "y": [2, 3]}}, info.kwargs
    assert info.success and info.result == ((), {"cols": ["a", "b"], "name": "a,b", "m": {"x": 1, "y": [2, 3]}}), info.result
