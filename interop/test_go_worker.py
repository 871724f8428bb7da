"""Python enqueues, the Go fixture worker (interop/goworker) runs, Python reads."""
import asyncio
import datetime
import decimal
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from arq.jobs import Job, JobStatus
from arq.worker import JobExecutionFailed, check_health

from .conftest import BIN, REDIS_URL, SERIALIZERS, wait_for
from .pyfuncs import Color, Point, make_worker, run_burst
from .samples import as_received, assert_same, for_serializer


class GoWorker:
    """The Go fixture worker as a subprocess."""

    def __init__(self, *flags, serializer="pickle", redis_url=None):
        self.cmd = [str(BIN / "goworker"), "--redis", redis_url or REDIS_URL, "--serializer", serializer, "--poll-delay", "20ms",
                    *map(str, flags)]
        # a file, not a pipe: nobody reads a pipe while the worker runs, and a
        # full pipe would block the worker's logging
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    @property
    def output(self):
        self.log.seek(0)
        return self.log.read()

    async def wait(self, timeout=20):
        return await asyncio.to_thread(self.proc.wait, timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def workers():
    started = []

    def start(*flags, serializer="pickle"):
        w = GoWorker(*flags, serializer=serializer)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


async def go_burst(*flags, serializer="pickle"):
    w = GoWorker("--burst", *flags, serializer=serializer)
    code = await w.wait()
    assert code == 0, w.output
    return w.output


async def test_python_enqueues_every_type_go_worker_echoes(pool, serializer):
    rows = for_serializer(serializer)
    args = [v for _, v in rows]
    kwargs = {n: v for n, v in rows}
    job = await pool.enqueue_job("echo", *args, **kwargs)
    await go_burst(serializer=serializer)
    got_args, got_kwargs = await job.result(timeout=5)
    want_args = tuple(as_received(v, serializer) for v in args)
    if serializer != "pickle":
        want_args = list(want_args)
    assert_same(got_args, want_args, "args")
    assert_same(got_kwargs, {n: as_received(v, serializer) for n, v in rows}, "kwargs")
    info = await job.result_info()
    assert info.success and info.function == "echo" and info.job_try == 1 and info.queue_name == "arq:queue"
    assert info.enqueue_time <= info.start_time <= info.finish_time


@pytest.mark.parametrize("serializer", ["pickle"])
async def test_go_worker_returns_python_objects_it_does_not_understand(pool, serializer):
    job = await pool.enqueue_job("echo", Color.GREEN, Point(5, 6), p=Point(7, 8))
    await go_burst()
    args, kwargs = await job.result(timeout=5)
    assert args == (Color.GREEN, Point(5, 6)) and args[0] is Color.GREEN
    assert kwargs == {"p": Point(7, 8)}


async def test_retry_counts_and_keys(arq_redis):
    pool = arq_redis
    job = await pool.enqueue_job("retry", 2, 0.1, _job_id="r")
    out = await go_burst()
    assert await job.result(timeout=5) == 3
    assert not await pool.exists("arq:retry:r", "arq:job:r", "arq:in-progress:r")
    assert "↻ r:retry retrying job in 0.10s" in out and "retry(2, 0.1) try=3" in out
    info = await job.result_info()
    assert info.job_try == 3
    # the defer pushed the score: tries 2 and 3 started at least 0.1 s apart
    assert (info.start_time - info.enqueue_time).total_seconds() >= 0.2

    # job_try in ctx matches what Python sees, including an enqueuer's _job_try
    job = await pool.enqueue_job("job_info", _job_id="ji", _job_try=2)
    await go_burst()
    r = await job.result(timeout=5)
    assert r["job_id"] == "ji" and r["job_try"] == 2 and r["score"] > 0
    assert r["enqueue_time"] == (await job.result_info()).enqueue_time

    # more retries than max tries: arq's JobExecutionFailed
    job = await pool.enqueue_job("retry", 10, 0, _job_id="mt")
    await go_burst("--max-tries", 3)
    with pytest.raises(JobExecutionFailed, match="max 3 retries exceeded"):
        await job.result(timeout=5)


async def test_failures_as_python_sees_them(arq_redis):
    pool = arq_redis
    fail = await pool.enqueue_job("fail", "plain go error")
    fail_as = await pool.enqueue_job("fail_as", "builtins", "ValueError", "bad input")
    fail_key = await pool.enqueue_job("fail_as", "builtins", "KeyError", "k")
    unknown = await pool.enqueue_job("no_such_function")
    timeout = await pool.enqueue_job("sleep", 5)
    expired = await pool.enqueue_job("noop", _expires=0.001)
    typed = await pool.enqueue_job("typed", "not an int", "s")
    typed_kw = await pool.enqueue_job("typed", 1, s="x", bogus=2)
    typed_ok = await pool.enqueue_job("typed", s="x", n=7)
    panics = await pool.enqueue_job("panic", "boom")
    # too many positional arguments, to a function without parameters (noop,
    # called without reflect) and to one with one parameter (fail)
    noop_arg = await pool.enqueue_job("noop", 1)
    fail_args = await pool.enqueue_job("fail", "a", "b")
    await wait_for(lambda: _gone(pool, f"arq:job:{expired.job_id}"))
    out = await go_burst("--job-timeout", "200ms")

    with pytest.raises(Exception) as e:
        await fail.result()
    assert type(e.value) is Exception and str(e.value) == "plain go error"
    with pytest.raises(ValueError, match="^bad input$"):
        await fail_as.result()
    with pytest.raises(KeyError):
        await fail_key.result()
    with pytest.raises(JobExecutionFailed, match="function 'no_such_function' not found"):
        await unknown.result()
    with pytest.raises(TimeoutError):
        await timeout.result()
    with pytest.raises(JobExecutionFailed, match="job expired"):
        await expired.result()
    with pytest.raises(TypeError, match=r"typed\(\) argument 'n' \(position 1\) must be int, not str"):
        await typed.result()
    with pytest.raises(TypeError, match="typed\\(\\) got an unexpected keyword argument 'bogus'"):
        await typed_kw.result()
    assert await typed_ok.result() == [7, "x"]
    with pytest.raises(Exception, match="panic: boom"):
        await panics.result()
    # the Python twins take ctx first, as every arq function does: arq
    # calls coroutine(ctx, *args), so CPython counts ctx in its message
    def noop(ctx):
        pass

    def fail(ctx, message):
        pass

    for job, python_twin, args in ((noop_arg, noop, (1,)), (fail_args, fail, ("a", "b"))):
        with pytest.raises(TypeError) as got:
            await job.result()
        with pytest.raises(TypeError) as want:
            python_twin({}, *args)
        # CPython's own wording: "noop() takes 1 positional argument but 2 were given"
        assert str(got.value) == str(want.value).split(".")[-1]
        assert "takes 1 positional argument but 2 were given" in str(got.value) or "takes 2 positional arguments but 3 were given" in str(got.value)
    assert "! " + timeout.job_id + ":sleep failed, TimeoutError: " in out


async def _gone(pool, key):
    return not await pool.exists(key)


async def test_datetimes_through_time_time_keep_their_kind(arq_redis):
    """A naive datetime a Go handler takes as time.Time comes back naive, an
    aware one aware, both with the wall clock Python expects."""
    pool = arq_redis
    naive = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    aware = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    naive_job = await pool.enqueue_job("later", naive, 3600)
    aware_job = await pool.enqueue_job("later", when=aware, seconds=1.5)
    await go_burst()
    got = await naive_job.result(timeout=5)
    assert got.tzinfo is None and got == naive + datetime.timedelta(hours=1)
    got = await aware_job.result(timeout=5)
    assert got.tzinfo is not None and got == aware + datetime.timedelta(seconds=1.5)
    assert got.utcoffset() == datetime.timedelta(hours=2)


async def test_type_errors_name_python_types_and_keywords(arq_redis):
    pool = arq_redis
    not_a_date = await pool.enqueue_job("later", "2024-05-06", 1)
    bad_age = await pool.enqueue_job("person", name="ann", age="ten")
    ok = await pool.enqueue_job("person", name="ann", age=3)
    await go_burst()
    # CPython's wording for an argument of the wrong type, as a builtin says
    # it: "".encode(encoding=1) raises "encode() argument 'encoding' must be
    # str, not int"
    with pytest.raises(TypeError) as cpython:
        "".encode(encoding=1)
    assert str(cpython.value) == "encode() argument 'encoding' must be str, not int"
    with pytest.raises(TypeError) as got:
        await not_a_date.result(timeout=5)
    assert str(got.value) == "later() argument 'when' (position 1) must be datetime, not str"
    with pytest.raises(TypeError) as got:
        await bad_age.result(timeout=5)
    assert str(got.value) == "person() argument 'age' must be int, not str"
    assert await ok.result(timeout=5) == ["ann", 3]


async def test_unreadable_job_fails_with_deserialization_error(arq_redis):
    pool = arq_redis
    await pool.set("arq:job:garbage", b"\x80\x04not a pickle")
    await pool.zadd("arq:queue", {"garbage": 1})
    await go_burst()
    info = await Job("garbage", pool).result_info()
    assert not info.success and type(info.result).__name__ == "DeserializationError"
    assert str(info.result) == "unable to deserialize job"


async def test_abort_queued_and_running_go_jobs(arq_redis, workers):
    pool = arq_redis
    workers("--allow-abort")
    # queued (deferred): abort re-scores it to run now; the worker cancels it before start
    queued = await pool.enqueue_job("sleep", 5, _defer_by=30)
    assert await queued.abort(timeout=5, poll_delay=0.05) is True
    # running
    running = await pool.enqueue_job("sleep", 10)
    await wait_for(lambda: _status(running, JobStatus.in_progress))
    assert await running.abort(timeout=5, poll_delay=0.05) is True
    with pytest.raises(asyncio.CancelledError):
        await running.result(timeout=1)
    assert await running.status() == JobStatus.complete


async def test_abort_ignored_without_allow_abort(arq_redis, workers):
    pool = arq_redis
    workers()
    job = await pool.enqueue_job("sleep", 0.5)
    await wait_for(lambda: _status(job, JobStatus.in_progress))
    # arq's abort waits for the result: the job ran to completion, so False
    assert await job.abort(poll_delay=0.05) is False
    assert await job.result() == 0.5


async def test_dedup_while_go_worker_holds_job(arq_redis, workers):
    pool = arq_redis
    w = workers()
    job = await pool.enqueue_job("sleep", 0.5, _job_id="held")
    await wait_for(lambda: _status(job, JobStatus.in_progress))
    assert await pool.enqueue_job("sleep", 0.5, _job_id="held") is None
    assert await job.result(timeout=5) == 0.5
    assert await pool.enqueue_job("sleep", 0.5, _job_id="held") is None  # the result is kept


async def _status(job, status):
    return await job.status() == status


async def test_sigint_requeues_running_job_for_python(arq_redis, workers):
    pool = arq_redis
    w = workers()
    job = await pool.enqueue_job("sleep", 1.5, _job_id="s1")
    await wait_for(lambda: _status(job, JobStatus.in_progress))
    start = time.monotonic()
    w.signal(signal.SIGINT)
    assert await w.wait() == 0
    assert time.monotonic() - start < 2
    assert "shutdown on SIGINT ◆ 0 jobs complete ◆ 0 failed ◆ 0 retries ◆ 1 ongoing to cancel" in w.output
    assert "↻ s1:sleep cancelled, will be run again" in w.output
    assert await job.status() == JobStatus.queued
    assert not await pool.exists("arq:result:s1")
    await run_burst(pool)
    info = await job.result_info()
    assert info.success and info.job_try == 2


async def test_sigterm_requeues_running_job_for_restarted_go_worker(arq_redis, workers):
    pool = arq_redis
    w = workers()
    job = await pool.enqueue_job("sleep", 1, _job_id="s2")
    await wait_for(lambda: _status(job, JobStatus.in_progress))
    w.signal(signal.SIGTERM)
    assert await w.wait() == 0
    assert "shutdown on SIGTERM" in w.output
    await go_burst()
    info = await job.result_info()
    assert info.success and info.job_try == 2


async def test_job_completion_wait_lets_jobs_finish(arq_redis, workers):
    pool = arq_redis
    w = workers("--job-completion-wait", "5s")
    job = await pool.enqueue_job("sleep", 0.5)
    await wait_for(lambda: _status(job, JobStatus.in_progress))
    w.signal(signal.SIGTERM)
    assert await w.wait() == 0
    assert "1 to be completed" in w.output and "wait complete ◆ 1 jobs complete" in w.output
    info = await job.result_info()
    assert info.success and info.job_try == 1


def arq_check():
    env = dict(os.environ, REDIS_URL=REDIS_URL)
    return subprocess.run([sys.executable, "-m", "arq", "--check", "interop.arq_settings.WorkerSettings"], env=env, capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.dirname(__file__))).returncode


async def test_health_check_seen_by_arq_check(arq_redis, workers):
    pool = arq_redis
    assert await asyncio.to_thread(arq_check) == 1
    w = workers("--health-check-interval", "1s")
    await wait_for(lambda: pool.exists("arq:queue:health-check"))
    value = (await pool.get("arq:queue:health-check")).decode()
    assert "j_complete=0 j_failed=0 j_retried=0 j_ongoing=0 queued=0" in value
    assert 0 < await pool.pttl("arq:queue:health-check") <= 2000
    assert await asyncio.to_thread(arq_check) == 0
    w.signal(signal.SIGINT)
    assert await w.wait() == 0
    assert await asyncio.to_thread(arq_check) == 1


async def test_cron_in_mixed_fleet_runs_each_tick_once(arq_redis, workers):
    from arq.cron import cron

    pool = arq_redis

    async def count_tick(ctx):
        await ctx["redis"].incr("tick:" + ctx["job_id"])

    workers("--cron-count", "tick")
    py = make_worker(pool, burst=False, functions=[], cron_jobs=[cron(count_tick, name="cron:count", second=None)])
    task = asyncio.create_task(py.async_run())
    try:
        await wait_for(lambda: _count_keys(pool, "tick:*", 4), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await py.close()
    keys = [k async for k in pool.scan_iter("tick:*")]
    assert len(keys) >= 4
    for k in keys:
        assert k.decode().startswith("tick:cron:count:") and k.decode().endswith("123")
        assert await pool.get(k) == b"1", k


async def _count_keys(pool, pattern, n):
    return len([k async for k in pool.scan_iter(pattern)]) >= n


async def test_mixed_fleet_drains_every_job_once(arq_redis, workers):
    pool = arq_redis
    n = 2000
    for start in range(0, n, 200):
        await asyncio.gather(*[pool.enqueue_job("count", f"k{i}", _job_id=f"c{i}") for i in range(start, start + 200)])
    go1 = GoWorker("--burst", "--max-jobs", 20)
    go2 = GoWorker("--burst", "--max-jobs", 20)
    await asyncio.gather(run_burst(pool, max_jobs=20), run_burst(pool, max_jobs=20))
    assert await go1.wait(60) == 0 and await go2.wait(60) == 0
    counts = await pool.mget([f"k{i}" for i in range(n)])
    assert counts == [b"1"] * n, [i for i, c in enumerate(counts) if c != b"1"][:10]
    results = await pool.all_job_results()
    assert len(results) == n and all(r.success and r.result == 1 and r.job_try == 1 for r in results)
    assert await pool.zcard("arq:queue") == 0
    ran_go = go1.output.count("← c") + go2.output.count("← c")
    assert ran_go > 0, "the Go workers ran none of the jobs"


async def test_max_burst_jobs_stops_after_that_many(arq_redis):
    """max_burst_jobs: a Go burst worker runs that many jobs, leaves the rest
    queued for Python, and exits 0."""
    pool = arq_redis
    for i in range(10):
        await pool.enqueue_job("add", i, i, _job_id=f"mb{i}")
    await go_burst("--max-burst-jobs", "3", "--max-jobs", "2")
    done = [i for i in range(10) if await pool.exists(f"arq:result:mb{i}")]
    assert len(done) == 3
    assert await pool.zcard("arq:queue") == 7
    await run_burst(pool)
    assert [await Job(f"mb{i}", pool).result() for i in range(10)] == [2 * i for i in range(10)]


LOGGED_CALLS = [
    ((1, "two", 3.5, None, True), {"k": [1, 2], "s": "it's", "a": {"x": (1,)}}),
    (("x" * 120,), {}),
    ((b"\x00\xff", -0.0, 10**30), {"when": datetime.datetime(2024, 1, 2, 3, 4, 5)}),
    ((), {"z": 1, "b": "\u00e9\n"}),
    ((datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.timezone.utc), datetime.date(2024, 1, 2),
      datetime.time(3, 4, 5, 6), datetime.timedelta(days=-1, seconds=5)),
     {"tz": datetime.datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))}),
    ((decimal.Decimal("1.50"), uuid.UUID(int=7), {3, 1, 2}, frozenset()), {}),
]


async def test_log_lines_read_as_arqs(arq_redis, caplog):
    """A Go worker's start and finish lines for a job read as arq's own: the
    same repr of the arguments (sorted kwargs, truncation) and of the result."""
    import logging
    import re

    pool = arq_redis
    for i, (args, kwargs) in enumerate(LOGGED_CALLS):
        await pool.enqueue_job("echo", *args, _job_id=f"py{i}", **kwargs)
    with caplog.at_level(logging.INFO, logger="arq.worker"):
        await run_burst(pool)
    strip = lambda line, prefix: re.sub(r"^.*?\d+\.\d\ds ([→←]) " + prefix + r"\d+:", r"\1 ", line)  # noqa: E731
    py = [strip(r.getMessage(), "py") for r in caplog.records if re.search(r"[→←] py\d", r.getMessage())]
    for i, (args, kwargs) in enumerate(LOGGED_CALLS):
        await pool.enqueue_job("echo", *args, _job_id=f"go{i}", **kwargs)
    out = await go_burst("--max-jobs", "1")
    go = [strip(line, "go") for line in out.splitlines() if re.search(r"[→←] go\d", line)]
    assert len(py) == len(go) == 2 * len(LOGGED_CALLS)
    assert sorted(go) == sorted(py)
