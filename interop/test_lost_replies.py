"""Replies lost after Redis ran the command: Go workers reach Redis through
interop/lossyproxy, which lets every third EXEC (the MULTI that records
finished jobs, and carries the claim of their successors) run and then drops
its reply and the connection. The worker, or go-redis on a new connection,
sends the finish again. Short form; scripts/faults.sh runs a longer one
(GOARQ_LOST_REPLY_JOBS)."""
import asyncio
import json
import os
import pickle
import signal
import subprocess

from .conftest import BIN, REDIS_URL, wait_for
from .test_go_worker import GoWorker

N_JOBS = int(os.environ.get("GOARQ_LOST_REPLY_JOBS", "120"))
DEFER = 2.0  # seconds, for the jobs that retry once with a defer


def defer_of(i):
    """Job i runs once (-1), retries once at once (0) or after DEFER."""
    return (-1, 0, DEFER)[i % 3]


class LossyProxy:
    """interop/lossyproxy in front of the test's Redis."""

    def __init__(self, *flags):
        upstream = REDIS_URL.rsplit("/", 1)[0].rsplit("//", 1)[1]
        self.proc = subprocess.Popen([str(BIN / "lossyproxy"), "--upstream", upstream, *flags],
                                     stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.proc.stdout.readline())["port"]
        self.url = f"redis://127.0.0.1:{self.port}/{REDIS_URL.rsplit('/', 1)[1]}"

    def stop(self):
        """Stops the proxy and returns how many replies it dropped."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        return json.loads(out.strip().splitlines()[-1])["dropped"]


async def test_finish_replies_lost_apply_once(arq_redis):
    """Each job ends with exactly one successful result and one successful
    run, no run of a job starts while another run of it is going (a third
    of the jobs retry at once: a finish applied twice would delete the next
    claim's in-progress key), and the defer of a retry is applied once,
    though the replies of a third of the finish transactions were lost
    after they ran."""
    pool, n, key = arq_redis, N_JOBS, "lost"
    for start in range(0, n, 100):
        await asyncio.gather(*[pool.enqueue_job("tracked", key, defer_of(i), 0.05, _job_id=f"lost-{i}")
                               for i in range(start, min(n, start + 100))])
    proxy = LossyProxy("--every", "3")
    # two workers, so that a finish applied twice (the next claim's
    # in-progress key deleted) lets the other one start the job again
    workers = [GoWorker("--max-jobs", "5", "--job-timeout", "3s", "--direct-redis", REDIS_URL, redis_url=proxy.url)
               for _ in range(2)]

    async def all_done():
        return sum(v is not None for v in await pool.mget([f"arq:result:lost-{i}" for i in range(n)])) == n

    try:
        # a claim whose reply was lost leaves its jobs to run once their
        # in-progress keys expire (job timeout + 10 s)
        await wait_for(all_done, timeout=120, interval=0.2)
        dropped = proxy.stop()
    finally:
        for w in workers:
            w.kill()
        proxy.stop()
    assert dropped > 0
    results = [pickle.loads(v) for v in await pool.mget([f"arq:result:lost-{i}" for i in range(n)])]
    assert all(r["s"] for r in results), [r for r in results if not r["s"]][:3]
    oks = [int(v or 0) for v in await pool.mget([f"{key}:ok:lost-{i}" for i in range(n)])]
    assert oks == [1] * n, {f"lost-{i}": c for i, c in enumerate(oks) if c != 1}
    overlaps = int(await pool.get(f"{key}:overlaps") or 0)
    assert overlaps == 0, f"{overlaps} runs started while another run of the same job was going"
    gaps = {}
    for i in range(2, n, 3):
        end, score = await pool.get(f"{key}:end:lost-{i}"), await pool.get(f"{key}:score:lost-{i}")
        gaps[i] = int(score) - int(end)
    # the second run's score is the first run's end plus the defer (once),
    # give or take the finish write's own delay; applied twice it would be
    # at least twice the defer
    assert all(DEFER * 1000 - 5 <= g <= DEFER * 1000 + 1000 for g in gaps.values()), gaps
    logs = "".join(w.output for w in workers)
    print(f"\nlost replies: {n} jobs, {dropped} EXEC replies dropped, 0 overlapping runs, "
          f"retry defer {min(gaps.values())}-{max(gaps.values())} ms for {DEFER * 1000:.0f} ms, "
          f"{logs.count('recorded after')} outcomes recorded after a retry")
