"""Go enqueues, Python arq consumes; Python enqueues, Go reads."""
import asyncio
import datetime
import time

import pytest
from arq.constants import default_queue_name
from arq.jobs import Job, JobStatus

from .conftest import ago, go, wait_for
from .pyfuncs import Color, Point, run_burst, running_worker
from .samples import as_received, assert_same, for_serializer


async def test_go_enqueues_every_type_python_worker_echoes(pool, serializer):
    out = go("samples-enqueue", "--job-id", "samples", serializer=serializer)
    rows = for_serializer(serializer)
    assert out["names"] == [n for n, _ in rows]

    # what a Python producer would have sent, as the Python worker sees it
    [jd] = await pool.queued_jobs()
    assert jd.function == "echo" and jd.job_id == "samples"
    want_args = tuple(as_received(v, serializer) for _, v in rows)
    want_kwargs = {n: as_received(v, serializer) for n, v in rows}
    if serializer != "pickle":
        want_args = list(want_args)
    assert_same(jd.args, want_args, "args")
    assert_same(jd.kwargs, want_kwargs, "kwargs")

    await run_burst(pool, serializer)
    job = Job("samples", pool, _deserializer=pool.job_deserializer)
    args, kwargs = await job.result(timeout=5)
    assert_same(args, want_args, "result args")
    assert_same(kwargs, want_kwargs, "result kwargs")

    # and Go reads Python's result back into the same Go values
    checked = go("samples-check", "--job-id", "samples", serializer=serializer)
    assert checked["ok"], checked["mismatches"]
    assert checked["checked"] == len(rows)


async def test_python_enqueues_every_type_go_reads(pool, serializer):
    rows = for_serializer(serializer)
    job = await pool.enqueue_job("echo", *[v for _, v in rows], _job_id="py-samples", **{n: v for n, v in rows})
    assert job is not None
    info = go("info", "--job-id", "py-samples", serializer=serializer)
    assert info["found"] and info["function"] == "echo" and info["finished"] is False
    await run_burst(pool, serializer)
    checked = go("samples-check", "--job-id", "py-samples", serializer=serializer)
    assert checked["ok"], checked["mismatches"]


@pytest.mark.parametrize("serializer", ["pickle"])
async def test_opaque_python_objects_pass_through_go_unchanged(pool, serializer):
    await pool.enqueue_job("echo", Color.RED, Color.GREEN, Point(1, 2), _job_id="src", p=Point(3, 4))
    out = go("relay", "--from", "src", "--job-id", "relayed", "--function", "echo")
    assert [a["class"] for a in out["args"]] == ["interop.pyfuncs.Color", "interop.pyfuncs.Color", "interop.pyfuncs.Point"]
    await pool.delete("arq:job:src")
    await pool.zrem(default_queue_name, "src")
    await run_burst(pool)
    args, kwargs = await Job("relayed", pool).result(timeout=5)
    assert args == (Color.RED, Color.GREEN, Point(1, 2))
    assert args[0] is Color.RED  # the same enum member, not a copy
    assert kwargs == {"p": Point(3, 4)}


async def test_python_failures_read_from_go(arq_redis):
    pool = arq_redis
    await pool.enqueue_job("fail", "boom", _job_id="value-error")
    await pool.enqueue_job("fail_custom", "x", 1, _job_id="custom")
    await pool.enqueue_job("short_sleep", 2, _job_id="timeout")
    await pool.enqueue_job("echo", _job_id="max-tries", _job_try=6)
    await pool.enqueue_job("no_such_function", _job_id="not-found")
    await pool.enqueue_job("echo", _job_id="expired", _expires=0.001)
    await wait_for(lambda: _gone(pool, "arq:job:expired"))
    await run_burst(pool)

    def exc(job_id):
        r = go("result", "--job-id", job_id)
        assert r["kind"] == "failed", r
        return r["exception"]

    e = exc("value-error")
    assert (e["module"], e["class"], e["args"], e["message"]) == ("builtins", "ValueError", ["boom"], "boom")
    e = exc("custom")
    assert (e["module"], e["class"], e["args"]) == ("interop.pyfuncs", "CustomError", ["x", 1])
    e = exc("timeout")
    assert e["class"] == "TimeoutError"
    e = exc("max-tries")
    assert (e["module"], e["class"], e["message"]) == ("arq.worker", "JobExecutionFailed", "max 5 retries exceeded")
    e = exc("not-found")
    assert e["message"] == "function 'no_such_function' not found"
    e = exc("expired")
    assert (e["class"], e["message"]) == ("JobExecutionFailed", "job expired")


async def _gone(pool, key):
    return not await pool.exists(key)


@pytest.mark.parametrize("path", ["script", "watch-multi"])
async def test_dedup_go_then_python_and_back(arq_redis, path):
    pool = arq_redis
    flags = ["--watch-multi"] if path == "watch-multi" else []

    def go(*args, **kw):
        from .conftest import go as run_go

        return run_go(*args, *flags, **kw)

    assert go("enqueue", "--job-id", "dup", "--function", "add", "--args", "[1, 2]")["enqueued"]
    assert await pool.enqueue_job("add", 1, 2, _job_id="dup") is None
    assert not go("enqueue", "--job-id", "dup", "--function", "add", "--args", "[1, 2]")["enqueued"]
    await run_burst(pool, keep_result=0.5)
    assert await Job("dup", pool).result() == 3
    # while the result is kept, neither side enqueues the id again
    assert await pool.enqueue_job("add", 1, 2, _job_id="dup") is None
    assert not go("enqueue", "--job-id", "dup", "--function", "add", "--args", "[1, 2]")["enqueued"]
    await wait_for(lambda: _gone(pool, "arq:result:dup"))
    assert go("enqueue", "--job-id", "dup", "--function", "add", "--args", "[1, 2]")["enqueued"]

    # Python first, then Go
    assert await pool.enqueue_job("add", 1, 2, _job_id="dup2") is not None
    assert not go("enqueue", "--job-id", "dup2", "--function", "add", "--args", "[5, 5]")["enqueued"]
    await run_burst(pool, keep_result=0.5)
    assert not go("enqueue", "--job-id", "dup2", "--function", "add", "--args", "[5, 5]")["enqueued"]
    await wait_for(lambda: _gone(pool, "arq:result:dup2"))
    assert await pool.enqueue_job("add", 1, 2, _job_id="dup2") is not None


async def test_enqueue_many_from_go_runs_on_python(arq_redis):
    pool = arq_redis
    await pool.enqueue_job("add", 0, 0, _job_id="b-3")  # an id the batch also uses
    out = go("enqueue-many", "--function", "add", "--job-id", "b", "--n", 50)
    assert out["enqueued"] == 49  # the existing id is skipped, as enqueue_job returns None
    jobs = {j.job_id: j for j in await pool.queued_jobs()}
    assert len(jobs) == 50 and jobs["b-7"].function == "add" and jobs["b-7"].args == (7, 7)
    assert 86_300_000 < await pool.pttl("arq:job:b-7") <= 86_400_000
    await run_burst(pool)
    assert await Job("b-7", pool).result() == 14
    assert await Job("b-3", pool).result() == 0  # Python's own job, not overwritten


async def test_concurrent_enqueues_from_go_run_on_python(arq_redis):
    """300 goroutines enqueue through one Go client at once, so calls that
    find two enqueues in flight share pipelines: each job lands as a Python
    producer would have written it, runs on the Python worker, and the one id that already existed is
    refused to its own caller only."""
    pool = arq_redis
    await pool.enqueue_job("add", 0, 0, _job_id="c-3")  # an id one caller also uses
    out = go("enqueue-concurrent", "--function", "add", "--job-id", "c", "--n", 300)
    assert out == {"enqueued": 299, "existed": 1}, out
    jobs = {j.job_id: j for j in await pool.queued_jobs()}
    assert len(jobs) == 300 and jobs["c-7"].function == "add" and jobs["c-7"].args == (7, 7)
    assert 86_300_000 < await pool.pttl("arq:job:c-7") <= 86_400_000
    await run_burst(pool)
    assert await Job("c-299", pool).result() == 598
    assert await Job("c-3", pool).result() == 0  # Python's own job, not overwritten


async def test_defer_and_expires_from_go_honoured_by_python(arq_redis):
    pool = arq_redis
    now_ms = int(time.time() * 1000)
    go("enqueue", "--job-id", "by", "--function", "add", "--args", "[1, 1]", "--defer-by", "400ms")
    # the job key's TTL is the deferral plus expires_extra_ms, as arq sets it
    # (read at once: the window is the 100 ms since the enqueue)
    assert 86_400_000 + 300 < await pool.pttl("arq:job:by") <= 86_400_000 + 400
    go("enqueue", "--job-id", "until", "--function", "add", "--args", "[2, 2]", "--defer-until-ms", now_ms + 600)
    go("enqueue", "--job-id", "exp", "--function", "add", "--args", "[3, 3]", "--expires", "50ms")
    assert await Job("by", pool).status() == JobStatus.deferred
    assert await Job("until", pool).status() == JobStatus.deferred
    assert await pool.pttl("arq:job:exp") <= 50
    await wait_for(lambda: _gone(pool, "arq:job:exp"))
    await run_burst(pool)
    by = await Job("by", pool).result_info()
    until = await Job("until", pool).result_info()
    assert by.success and by.result == 2
    assert (by.start_time - by.enqueue_time).total_seconds() >= 0.4
    assert until.success and until.result == 4 and until.start_time.timestamp() * 1000 >= now_ms + 600
    exp = await Job("exp", pool).result_info()
    assert not exp.success and str(exp.result) == "job expired"


async def test_status_transitions_seen_from_go(arq_redis):
    pool = arq_redis
    assert go("status", "--job-id", "nope")["status"] == "not_found"
    await pool.enqueue_job("sleep", 0.5, _job_id="st", _defer_by=0.3)
    assert go("status", "--job-id", "st")["status"] == "deferred"
    await wait_for(lambda: _status_is("st", "queued"))
    async with running_worker(pool):
        await wait_for(lambda: _status_is("st", "in_progress"))
        await wait_for(lambda: _status_is("st", "complete"))


async def _status_is(job_id, status):
    return (await ago("status", "--job-id", job_id))["status"] == status


async def test_abort_from_go_queued_and_running(arq_redis):
    pool = arq_redis
    # queued: the abort is recorded before any worker runs; the worker then
    # cancels the job before start
    await pool.enqueue_job("sleep", 5, _job_id="q")
    abort = asyncio.create_task(ago("abort", "--job-id", "q", "--timeout", "10s"))
    await wait_for(lambda: pool.zscore("arq:abort", "q"))
    async with running_worker(pool, allow_abort_jobs=True):
        assert (await abort)["aborted"] is True
        # running
        await pool.enqueue_job("sleep", 10, _job_id="r")
        await wait_for(lambda: _status_is("r", "in_progress"))
        assert (await ago("abort", "--job-id", "r", "--timeout", "10s"))["aborted"] is True
        r = go("result", "--job-id", "r")
        assert r["kind"] == "failed" and r["aborted"] and r["exception"]["class"] == "CancelledError"


async def test_abort_from_go_ignored_without_allow_abort(arq_redis):
    pool = arq_redis
    async with running_worker(pool, allow_abort_jobs=False):
        await pool.enqueue_job("sleep", 1, _job_id="na")
        await wait_for(lambda: _status_is("na", "in_progress"))
        assert (await ago("abort", "--job-id", "na", "--timeout", "300ms"))["aborted"] is False
        assert await Job("na", pool).result(timeout=5) == 1


async def test_job_try_from_go_seen_in_python_ctx(arq_redis):
    pool = arq_redis
    go("enqueue", "--job-id", "try", "--function", "job_info", "--job-try", "3")
    await run_burst(pool)
    info = await Job("try", pool).result(timeout=5)
    assert info["job_try"] == 3 and info["job_id"] == "try"
    r = await Job("try", pool).result_info()
    assert r.job_try == 3


async def test_listings_both_ways(arq_redis):
    pool = arq_redis
    go("enqueue", "--job-id", "g1", "--function", "add", "--args", "[1, 2]", "--kwargs", '{}')
    go("enqueue", "--job-id", "g2", "--function", "echo", "--args", '["x", 1.0]', "--kwargs", '{"k": [1]}', "--defer-by", "1h")
    await pool.enqueue_job("add", 3, 4, _job_id="p1")
    jobs = {j.job_id: j for j in await pool.queued_jobs()}
    assert set(jobs) == {"g1", "g2", "p1"}
    assert jobs["g2"].function == "echo" and jobs["g2"].args == ("x", 1.0) and jobs["g2"].kwargs == {"k": [1]}
    assert jobs["g2"].score > time.time() * 1000 + 3500_000
    gj = {j["job_id"]: j for j in go("queued")["jobs"]}
    assert set(gj) == {"g1", "g2", "p1"}
    assert gj["p1"]["function"] == "add" and gj["p1"]["args"] == [3, 4]
    assert gj["p1"]["score"] == jobs["p1"].score

    await pool.zrem(default_queue_name, "g2")
    await run_burst(pool)
    py_results = {r.job_id: r for r in await pool.all_job_results()}
    assert py_results["g1"].result == 3 and py_results["p1"].result == 7
    go_results = {r["job_id"]: r for r in go("results")["results"]}
    assert go_results["g1"]["result"] == 3 and go_results["p1"]["result"] == 7
    assert go_results["p1"]["success"] and go_results["p1"]["queue"] == default_queue_name


async def test_result_into_a_typed_go_struct(arq_redis):
    """ResultInto: a Python worker's dict result, with a datetime, read in Go
    into a struct by its arq tags; a field of the wrong type is a clear error."""
    pool = arq_redis
    await pool.enqueue_job("job_info", _job_id="typed")
    await run_burst(pool)
    info = await Job("typed", pool).result(timeout=5)
    got = go("result-into", "--job-id", "typed")
    when = datetime.datetime.fromisoformat(got.pop("enqueue_time"))
    assert got == {"job_id": "typed", "job_try": 1, "score": info["score"]}
    assert when == info["enqueue_time"]
    bad = go("result-into", "--job-id", "typed", "--function", "wrong")
    assert bad["assign_error"] and "job_try" in bad["error"], bad
