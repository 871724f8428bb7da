"""goarq's job history (goarq recorder, goarq history, goarq retry) with real
Python and Go workers, on SQLite and on a real PostgreSQL server
($GOARQ_TEST_POSTGRES, which scripts/test.sh starts with scripts/postgres.sh)."""
import asyncio
import json
import os
import signal
import subprocess
import tempfile

import pytest
from arq.jobs import Job

from .conftest import BIN, REDIS_URL, wait_for
from .pyfuncs import run_burst, running_worker
from .test_go_worker import go_burst, workers  # noqa: F401 (a fixture)

PG_URL = os.environ.get("GOARQ_TEST_POSTGRES")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """The --history value of a fresh, empty store."""
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    if not PG_URL:
        pytest.fail("GOARQ_TEST_POSTGRES is not set: run under scripts/test.sh, or source scripts/postgres.sh && start_postgres")
    subprocess.run(["psql", PG_URL, "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], check=True,
                   capture_output=True)
    return PG_URL


def goarq(*args, timeout=60):
    p = subprocess.run([str(BIN / "goarq"), "--redis", REDIS_URL, *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


async def agoarq(*args):
    return await asyncio.to_thread(goarq, *args)


async def history(store, *args):
    code, out, err = await agoarq("--json", "history", "--history", store, "--limit", "1000", *args)
    assert code == 0, err
    return json.loads(out)["records"]


class Recorder:
    """goarq recorder as a subprocess. --scan-interval 1h: after its first
    pass, it learns of new results only from client tracking (or a re-arm)."""

    def __init__(self, store, *flags):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([str(BIN / "goarq"), "--redis", REDIS_URL, "recorder", "--history", store,
                                      "--scan-interval", "1h", *flags], stdout=self.log, stderr=subprocess.STDOUT, text=True)

    @property
    def output(self):
        self.log.seek(0)
        return self.log.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def recorders():
    started = []

    def start(store, *flags):
        r = Recorder(store, *flags)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


async def recorded(store, n, *args, timeout=30):
    async def enough():
        return len(await history(store, *args)) >= n
    await wait_for(enough, timeout=timeout, interval=0.2)
    return await history(store, *args)


async def test_results_kept_2s_stay_in_history_after_they_expire(arq_redis, store, recorders):
    pool = arq_redis
    rec = recorders(store)
    # Python worker, results kept 2 s
    py_jobs = [await pool.enqueue_job("add", 1, 2), await pool.enqueue_job("fail", "py-bad"),
               await pool.enqueue_job("echo", "x", n=[1, 2])]
    await run_burst(pool, keep_result=2)
    # Go worker, results kept 2 s
    go_jobs = [await pool.enqueue_job("add", 20, 22),
               await pool.enqueue_job("fail_as", "builtins", "ValueError", "go-bad")]
    await go_burst("--keep-result", "2s")
    recs = await recorded(store, 5)
    # the results expire; the history keeps them

    async def expired():
        return not await pool.keys("arq:result:*")
    await wait_for(expired, timeout=10, interval=0.1)
    recs = await history(store)
    assert len(recs) == 5, rec.output
    by_id = {r["job_id"]: r for r in recs}
    assert set(by_id) == {j.job_id for j in py_jobs + go_jobs}
    add_py = by_id[py_jobs[0].job_id]
    assert add_py["function"] == "add" and add_py["args"] == "1, 2" and add_py["success"] and add_py["result"] == "3"
    assert add_py["queue"] == "arq:queue" and add_py["try"] == 1 and add_py["start_ms"] > 0
    assert json.loads(add_py["args_json"]) == {"args": [1, 2], "kwargs": {}}
    for j, msg in ((py_jobs[1], "py-bad"), (go_jobs[1], "go-bad")):
        r = by_id[j.job_id]
        assert not r["success"] and r["exception_class"] == "ValueError" and r["exception_message"] == msg
    assert by_id[py_jobs[2].job_id]["args"] == "'x', n=[1, 2]"
    assert by_id[go_jobs[0].job_id]["result"] == "42"
    # newest first
    assert [r["finish_ms"] for r in recs] == sorted((r["finish_ms"] for r in recs), reverse=True)
    # filters
    failed = await history(store, "--failed", "--exception", "ValueError")
    assert {r["job_id"] for r in failed} == {py_jobs[1].job_id, go_jobs[1].job_id}
    assert [r["job_id"] for r in await history(store, "--text", "20, 22")] == [go_jobs[0].job_id]
    assert [r["job_id"] for r in await history(store, "--job-id", py_jobs[0].job_id)] == [py_jobs[0].job_id]
    assert len(await history(store, "--function", "add", "--succeeded", "--since", "1h")) == 2
    assert await history(store, "--until", "1h") == []


async def count_records(store):
    """Every record, counted by pages of 1,000 (--before cursors)."""
    return len(await all_job_ids(store))


async def all_job_ids(store):
    """The job id of every record."""
    return [r["job_id"] for r in await all_records(store)]


async def all_records(store):
    """Every record, by pages of 1,000 (--before cursors)."""
    recs, cursor = [], ""
    while True:
        code, out, err = await agoarq("--json", "history", "--history", store, "--limit", "1000",
                                      *(["--before", cursor] if cursor else []))
        assert code == 0, err
        page = json.loads(out)
        recs += page["records"]
        cursor = page["next"]
        if not cursor:
            return recs


async def test_text_search_finds_a_fragment_among_more_records_than_the_newest_page(arq_redis, store, recorders):
    """Python enqueues 2,100 jobs, a Go worker runs them and the recorder
    records them. A search for a rare text, a whole word or a fragment
    inside a word, or 1 or 2 characters (at the arguments' end too), finds
    its job among the oldest records, past the newest 2,000 that a search
    reads first (so SQLite's text indexes, with the rows not indexed yet, or
    PostgreSQL's pg_trgm answer it), and only that job."""
    pool = arq_redis
    rec = recorders(store)
    n = 2100
    i = 7  # among the oldest: outside the newest 2,000 records
    jobs = [await pool.enqueue_job("echo", f"user_{k:05d}@example.com", ref=f"order-{k * 7919 % 100000:05d}",
                                   **({"note": "café Ω #~"} if k == i else {}))
            for k in range(n)]
    await go_burst("--max-jobs", "50")

    async def all_recorded():
        return await count_records(store) >= n
    await wait_for(all_recorded, timeout=60, interval=0.5)
    assert await count_records(store) == n, rec.output
    ref = f"{i * 7919 % 100000:05d}"
    for text in (f"user_{i:05d}@", f"ser_{i:05d}", f"{i:05d}@exa", f"order-{ref}", ref, "é", "Ω", "#~", "~'"):
        found = [r["job_id"] for r in await history(store, "--text", text)]
        assert found == [jobs[i].job_id], (text, found)
    # a text in every record pages newest first; one in none finds nothing
    assert len(await history(store, "--text", "@example.com")) == 1000
    assert await history(store, "--text", "user_99999@") == []


async def test_recorder_killed_and_restarted_neither_loses_nor_duplicates(arq_redis, store, recorders, workers):
    pool = arq_redis
    rec = recorders(store)
    go = workers("--max-jobs", "20")
    ids = []
    async with running_worker(pool, max_jobs=20):
        for i in range(150):
            ids.append((await pool.enqueue_job("add", i, 1)).job_id)
        await recorded(store, 50)
        rec.kill9()  # mid-run: jobs are still finishing
        for i in range(150, 300):
            ids.append((await pool.enqueue_job("add", i, 1)).job_id)

        async def all_done():
            return len(await pool.keys("arq:result:*")) == 300
        await wait_for(all_done, timeout=60, interval=0.1)
        rec2 = recorders(store)
        for i in range(300, 400):  # and more while the restarted one runs
            ids.append((await pool.enqueue_job("add", i, 1)).job_id)
        recs = await recorded(store, 400, timeout=60)
    go.kill()
    await asyncio.sleep(0)  # nothing more is written: count once more
    recs = await history(store)
    assert len(recs) == 400, rec2.output
    assert sorted(r["job_id"] for r in recs) == sorted(ids)
    assert {r["result"] for r in recs} == {str(i + 1) for i in range(400)}


@pytest.mark.parametrize("mode", ["stage", "yield", "share"])
async def test_recorder_yields_to_a_burst_and_records_every_result_once(arq_redis, store, recorders, mode):
    """With --yield-above 100, a burst of Python and then Go workers makes
    the recorder stage the results raw (default: it keeps tracking and
    reading, and promotes them into records when the burst is over) or,
    with --stage=false, drop its tracking and read nothing, and when the
    burst is over re-arm and catch up by SCAN; with --max-rate 200 (under
    the burst's rate) it stages those of a share of the job ids (arq's
    uuid4 hex, by their first digit), and when the burst is over tracks
    every result again and reads the rest by SCAN: every result is
    recorded, once."""
    pool = arq_redis
    flags = {"stage": [], "yield": ["--stage=false"], "share": ["--max-rate", "200"]}[mode]
    rec = recorders(store, "--yield-above", "100", *flags)

    async def armed():
        return "recording results into" in rec.output
    await wait_for(armed, timeout=10, interval=0.05)
    await asyncio.sleep(0.3)  # tracking armed (its first SCAN finds nothing)
    # bursts of some seconds: a short one may be over before the rate is
    # measured, and read as a rush
    n = 1500
    ids = [(await pool.enqueue_job("add", i, 1)).job_id for i in range(n)]
    await run_burst(pool, max_jobs=50)
    ids += [(await pool.enqueue_job("add", i, 1)).job_id for i in range(n, 2 * n)]
    await go_burst("--max-jobs", "50")

    async def all_recorded():
        return await count_records(store) >= 2 * n
    await wait_for(all_recorded, timeout=60, interval=0.2)
    out = rec.output
    if mode == "yield":
        assert "yielding to the workers" in out and "catching up" in out, out
    else:
        async def logged():
            return "promoted" in rec.output
        try:
            await wait_for(logged, timeout=10, interval=0.05)
        except AssertionError:
            raise AssertionError(f"{len(await staged(store))} staged; {rec.output}")
        out = rec.output
        assert "staging them raw" in out and "yielding" not in out, out

        async def none_staged():  # the last burst's rows may be promoted after an earlier's
            return await staged(store) == set()
        await wait_for(none_staged, timeout=10, interval=0.05)
        narrowed = "of the job ids raw, the rest after the burst" in out
        assert narrowed == (mode == "share"), out
        if narrowed:
            async def widened():
                return "tracking every result again" in rec.output
            await wait_for(widened, timeout=10, interval=0.05)
    recs = await all_records(store)
    assert len(recs) == 2 * n, out
    assert sorted(r["job_id"] for r in recs) == sorted(ids)
    assert {r["result"] for r in recs} == {str(i + 1) for i in range(2 * n)}


async def staged(store):
    """The job ids of the rows staged in the store (not yet promoted)."""
    def read():
        if store.startswith("postgres"):
            p = subprocess.run(["psql", store, "-qAt", "-c", "SELECT job_id FROM staged"], check=True,
                               capture_output=True, text=True)
            return set(p.stdout.split())
        import sqlite3
        db = sqlite3.connect(store, timeout=10)
        try:
            return {r[0] for r in db.execute("SELECT job_id FROM staged")}
        finally:
            db.close()
    return await asyncio.to_thread(read)


async def test_recorder_killed_while_results_are_staged_loses_none(arq_redis, store, recorders):
    """A recorder killed with kill -9 while a burst's results are staged
    leaves them in the store; the next one promotes them when it starts,
    even once the results are gone from Redis: each is recorded once."""
    pool = arq_redis
    rec = recorders(store, "--yield-above", "100")

    async def armed():
        return "recording results into" in rec.output
    await wait_for(armed, timeout=10, interval=0.05)
    await asyncio.sleep(0.3)
    ids = [(await pool.enqueue_job("add", i, 1)).job_id for i in range(5000)]
    worker = asyncio.create_task(go_burst("--max-jobs", "50"))

    async def some_staged():
        return len(await staged(store)) >= 50
    await wait_for(some_staged, timeout=30, interval=0.02)
    rec.kill9()
    await worker
    held = await staged(store)
    recorded_before = set(await all_job_ids(store))
    assert held
    await pool.delete(*[f"arq:result:{i}" for i in ids])  # only the store holds them now
    rec2 = recorders(store)
    want = held | recorded_before

    async def promoted():
        return not await staged(store) and await count_records(store) >= len(want)
    await wait_for(promoted, timeout=60, interval=0.2)
    got = await all_job_ids(store)
    assert len(got) == len(want), rec2.output  # each once
    assert set(got) == want


async def test_retry_failed_is_a_dry_run_until_yes_and_links_both_ways(arq_redis, store, recorders):
    pool = arq_redis
    recorders(store)
    bad = [await pool.enqueue_job("fail", f"v{i}") for i in range(3)]
    custom = await pool.enqueue_job("fail_custom", "c")
    ok = await pool.enqueue_job("add", 1, 1)
    # a job record no worker can read: arq stores a DeserializationError
    # result for function '<unknown>' without arguments
    await pool.set("arq:job:garbage", b"\x80\x04not a pickle")
    await pool.zadd("arq:queue", {"garbage": 1})
    await run_burst(pool)
    await recorded(store, 6)

    code, out, err = await agoarq("retry", "--history", store, "--failed", "--since", "1h")
    assert code == 0, err
    assert "would enqueue 4 jobs again" in out and "dry run" in out
    assert "garbage: the worker could not deserialize the job" in out
    assert await pool.zcard("arq:queue") == 0

    code, out, err = await agoarq("--json", "retry", "--history", store, "--failed", "--exception", "ValueError", "--yes")
    assert code == 0, err
    res = json.loads(out)
    assert res["count"] == 3 and {j["job_id"] for j in res["jobs"]} == {j.job_id for j in bad}
    new_ids = {j["new_job_id"] for j in res["jobs"]}
    assert set(await pool.zrange("arq:queue", 0, -1)) == {i.encode() for i in new_ids}
    assert all(i != "<unknown>" for i in new_ids)
    await run_burst(pool)
    recs = await recorded(store, 9)
    by_id = {r["job_id"]: r for r in recs}
    for j in res["jobs"]:
        old, new = by_id[j["job_id"]], by_id[j["new_job_id"]]
        assert old["retried_as"] == new["job_id"] and new["origin_job_id"] == old["job_id"]
        assert new["function"] == "fail" and new["args"] == old["args"]
    # a failure already retried is not retried again
    code, out, err = await agoarq("--json", "retry", "--history", store, "--failed", "--exception", "ValueError")
    assert code == 0, err
    assert json.loads(out)["count"] == 3  # the three retries failed again: they are new failures
    assert not {j["job_id"] for j in json.loads(out)["jobs"]} & {j.job_id for j in bad}


async def test_history_page_and_bulk_retry_in_a_browser(arq_redis, store):
    from .test_dashboard import NO_XSS, XSS_IMG, XSS_SCRIPT, Server, abrowse
    pool = arq_redis
    dash = Server("dashboard", "--history", store)
    try:
        await dash.ready()
        for i in range(4):
            await pool.enqueue_job("add", i, 10)
        bad = [await pool.enqueue_job("fail", f"bad input {i}") for i in range(3)]
        await pool.enqueue_job("fail_custom", XSS_SCRIPT)
        await pool.enqueue_job("echo", XSS_IMG)
        await run_burst(pool)
        await go_burst()  # nothing left: the Go worker only proves the page lists what it finds
        await recorded(store, 9)

        page = await abrowse(dash.base + "/history", shot="history.png", js=NO_XSS)
        assert page["eval"] is True and page["scripts"] == 0
        text = page["text"]
        assert "History" in text and "jobs finished per day" in text and "failure rate per day" in text
        assert "add: run time per day, p50 and p95 (ms)" in text
        assert "bad input 2" in text and "ValueError" in text and XSS_SCRIPT in text

        page = await abrowse(dash.base + "/history?success=failed&exception=ValueError",
                             js="document.querySelector('#history tbody').innerText")
        assert page["eval"].count("ValueError('bad input") == 3 and "fail_custom" not in page["eval"]

        # the bulk retry shows what it would do first, and enqueues nothing
        page = await abrowse(dash.base + "/history?success=failed&exception=ValueError", click="#bulk-retry",
                             after="#confirm-retry", shot="history-retry-confirm.png")
        assert "3 failed jobs match" in page["text"] and "Enqueue 3 jobs again" in page["text"]
        assert await pool.zcard("arq:queue") == 0
        # confirmed: three new jobs
        page = await asyncio.to_thread(_browse_two, dash.base + "/history?success=failed&exception=ValueError")
        assert "Enqueued 3 jobs again" in page["text"], page["text"]
        assert await pool.zcard("arq:queue") == 3
        await run_burst(pool)
        recs = await recorded(store, 12)
        retried = {r["job_id"]: r["retried_as"] for r in recs if r.get("retried_as")}
        assert set(retried) == {j.job_id for j in bad}
        page = await abrowse(dash.base + "/history?job_id=" + bad[0].job_id, js=NO_XSS)
        assert "retried as " + retried[bad[0].job_id] in page["text"]

        # without the CSRF token the retry is refused
        import urllib.error
        import urllib.request
        req = urllib.request.Request(dash.base + "/history/retry", data=b"confirm=yes&count=3", method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403
        assert await pool.zcard("arq:queue") == 0
    finally:
        dash.stop()


def _browse_two(url):
    from .test_dashboard import SHOTS
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([str(BIN / "browse"), "--url", url, "--click", "#bulk-retry", "--after", "#confirm-retry",
                        "--click", "#confirm-retry", "--after", "#retried", "--screenshot", str(SHOTS / "history-retried.png")],
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)
