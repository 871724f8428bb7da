"""Aborting a deferred job under a Go worker with push wake-up on (its
default): arq's Job.abort re-scores the job to 1, which wakes the worker at
once, and adds it to arq:abort in a second round trip. The job must end
aborted, never run, whoever aborts it: Python's Job.abort(), goarq's
Job.Abort (goclient abort) or the CLI (goarq abort), and whether the job was
deferred by _defer_by or by a Retry. Each case repeats REPS times, CONCURRENT
aborts at a time."""
import asyncio
import os
import pickle
import time

import pytest
from arq.jobs import Job

from .conftest import ago, wait_for
from .test_cli import agoarq
from .test_go_worker import GoWorker

REPS = int(os.environ.get("GOARQ_ABORT_REPS", "50"))
CONCURRENT = 10


async def abort_python(pool, job_id):
    return await Job(job_id, pool).abort(timeout=15, poll_delay=0.05)


async def abort_go(pool, job_id):
    return (await ago("abort", "--job-id", job_id, "--timeout", "15s"))["aborted"]


async def abort_cli(pool, job_id):
    code, out, err = await agoarq("abort", "--timeout", "15s", job_id)
    assert code in (0, 1), err
    return code == 0 and out == "aborted\n"


@pytest.mark.parametrize("aborter", [abort_python, abort_go, abort_cli], ids=["python", "goclient", "goarq-cli"])
@pytest.mark.parametrize("deferral", ["defer_by", "retry"])
async def test_aborting_a_deferred_job_ends_it_aborted(arq_redis, aborter, deferral):
    pool = arq_redis
    worker = GoWorker("--allow-abort", "--max-jobs", "20", poll_delay=None)  # push wake-up, 0.5 s safety poll
    try:
        ids = [f"ab-{deferral}-{i}" for i in range(REPS)]
        if deferral == "defer_by":
            for i in ids:
                await pool.enqueue_job("count", f"ran:{i}", _job_id=i, _defer_by=60)
        else:
            # the job runs once and retries in 60 s
            for i in ids:
                await pool.enqueue_job("retry", 1, 60, _job_id=i)

            async def all_deferred():
                now = time.time() * 1000
                scores = [await pool.zscore("arq:queue", i) for i in ids]
                return all(s and s > now + 30_000 for s in scores)
            await wait_for(all_deferred, timeout=30)
        outcomes = {}
        for start in range(0, REPS, CONCURRENT):
            batch = ids[start:start + CONCURRENT]
            for i, ok in zip(batch, await asyncio.gather(*[aborter(pool, i) for i in batch])):
                outcomes[i] = ok
        assert all(outcomes.values()), {i: ok for i, ok in outcomes.items() if not ok}
        for i in ids:
            result = pickle.loads(await pool.get(f"arq:result:{i}"))
            assert not result["s"] and type(result["r"]).__name__ == "CancelledError", (i, result)
            assert await pool.get(f"ran:{i}") is None, f"{i} ran"
            assert await pool.zscore("arq:queue", i) is None
    finally:
        worker.kill()
    assert "aborted before start" in worker.output
