"""The dashboard in headless Chromium and the metrics at /metrics, against
jobs Python arq enqueued and Python and Go workers ran."""
import asyncio
import json
import os
import re
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest
from arq.jobs import Job

from .conftest import BIN, REDIS_URL, free_port, wait_for
from .pyfuncs import run_burst, running_worker
from .test_go_worker import GoWorker

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).parent / "screenshots"))

XSS_SCRIPT = "<script>window.__xss=1;document.title='pwned'</script>"
XSS_IMG = "<img src=x onerror=\"window.__xss=2\">"
NO_XSS = "window.__xss === undefined && document.title.indexOf('pwned') < 0 && document.querySelectorAll('img[src=x]').length === 0"



class Server:
    """`goarq dashboard` or `goarq exporter` as a subprocess."""

    def __init__(self, command, *flags):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([str(BIN / "goarq"), "--redis", REDIS_URL, command, "--addr", f"127.0.0.1:{self.port}",
                                      "--cache-ttl", "0", *flags], stdout=self.log, stderr=subprocess.STDOUT, text=True)

    async def ready(self):
        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                assert self.proc.poll() is None, self.output()
                return False
        await wait_for(up, timeout=10)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
async def dashboard():
    s = Server("dashboard")
    await s.ready()
    yield s
    s.stop()


def browse(url, *, shot=None, click=None, after=None, js=None):
    """Load url in headless Chromium (interop/browse, chromedp)."""
    cmd = [str(BIN / "browse"), "--url", url]
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        cmd += ["--screenshot", str(SHOTS / shot)]
    if click:
        cmd += ["--click", click, "--after", after or "body"]
    if js:
        cmd += ["--eval", js]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


async def abrowse(url, **kw):
    return await asyncio.to_thread(browse, url, **kw)


def scrape(url):
    """The samples of a Prometheus text page: {(name, ((label, value), ...)): value}."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def sample(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_every_page_in_a_browser_escapes_and_shows_python_jobs(arq_redis, dashboard):
    pool = arq_redis
    for i in range(6):
        await pool.enqueue_job("add", i, 1)
    for i in range(2):
        await pool.enqueue_job("fail", f"boom {i}")
    await pool.enqueue_job("echo", XSS_SCRIPT, x=XSS_IMG, _job_id="xss-done")
    await run_burst(pool)
    await pool.enqueue_job("echo", XSS_SCRIPT, XSS_IMG, _job_id="xss-queued")
    await pool.enqueue_job("add", 1, 2, _defer_by=3600, _job_id="later")
    await pool.set("arq:job:garbage", b"\x80\x05not a pickle")
    await pool.zadd("arq:queue", {"garbage": 1})

    page = await abrowse(dashboard.base + "/", shot="overview.png", js=NO_XSS)
    assert page["title"].startswith("Overview") and page["eval"] is True, page
    assert "arq:queue" in page["text"] and "fail" in page["text"] and "50.0%" not in page["text"]
    # queued: xss-queued and garbage (score 1, aborted-style); deferred: later
    assert re.search(r"queued\s+2\s+deferred\s+1\s+in progress\s+0", page["text"]), page["text"]

    page = await abrowse(dashboard.base + "/jobs", shot="jobs.png", js=NO_XSS)
    assert page["eval"] is True and page["scripts"] == 0 and page["images"] == 0, page
    assert XSS_SCRIPT in page["text"] and XSS_IMG in page["text"]  # shown as text
    assert "unreadable" in page["text"] and "later" in page["text"]

    page = await abrowse(dashboard.base + "/results", shot="results.png", js=NO_XSS)
    assert page["eval"] is True and page["scripts"] == 0 and page["images"] == 0, page
    assert "ValueError: boom 1" in page["text"] and "9 matching of 9 kept results" in page["text"], page["text"]

    page = await abrowse(dashboard.base + "/results?success=failed&exception=ValueError", js=NO_XSS)
    assert "2 matching of 9" in page["text"]

    page = await abrowse(dashboard.base + "/job/xss-done", shot="job.png", js=NO_XSS)
    assert page["eval"] is True and page["scripts"] == 0 and page["images"] == 0, page
    assert XSS_SCRIPT in page["text"] and "complete" in page["text"]


async def test_abort_a_running_python_job_from_the_browser(arq_redis, dashboard):
    pool = arq_redis
    async with running_worker(pool, allow_abort_jobs=True):
        job = await pool.enqueue_job("sleep", 30)
        await wait_for(lambda: pool.exists(f"arq:in-progress:{job.job_id}"))
        page = await abrowse(f"{dashboard.base}/job/{job.job_id}", shot="job-abort.png", click="#abort", after="#notice")
        assert "Abort requested" in page["text"], page["text"]
        with pytest.raises(asyncio.CancelledError):
            await job.result(timeout=10, poll_delay=0.05)


async def test_reenqueue_a_failed_job_from_the_browser(arq_redis, dashboard):
    pool = arq_redis
    job = await pool.enqueue_job("fail", "first")
    await run_burst(pool)
    assert (await job.result_info()).success is False
    page = await abrowse(f"{dashboard.base}/job/{job.job_id}", click="#reenqueue", after="#notice")
    new_id = re.search(r"/job/([0-9a-f]{32})\?", page["url"]).group(1)
    assert new_id != job.job_id and "Enqueued again" in page["text"]
    await run_burst(pool)
    info = await Job(new_id, pool).result_info()
    assert info.function == "fail" and info.args == ("first",) and info.success is False
    assert str(info.result) == "first" and info.enqueue_time > (await job.result_info()).finish_time


async def test_metrics_of_python_and_go_runs(arq_redis):
    pool = arq_redis
    # the Go worker runs these
    for i in range(3):
        await pool.enqueue_job("add", i, 1)
    await pool.enqueue_job("fail", "go boom")
    await pool.enqueue_job("nope")
    wport = free_port()
    w = GoWorker("--metrics-addr", f"127.0.0.1:{wport}", "--health-check-interval", "50ms")
    exporter = Server("exporter")
    try:
        await exporter.ready()
        wurl = f"http://127.0.0.1:{wport}/metrics"
        q = "arq:queue"

        def go_done():
            try:
                s = scrape(wurl)
            except OSError:
                return False
            return sample(s, "arq_worker_jobs_total", queue=q, function="add", outcome="complete") == 3 and s
        s = await wait_for(go_done, timeout=15)
        assert sample(s, "arq_worker_jobs_total", queue=q, function="fail", outcome="failed") == 1
        assert sample(s, "arq_worker_jobs_total", queue=q, function="nope", outcome="unknown_function") == 1
        assert sample(s, "arq_worker_job_duration_seconds_count", queue=q, function="add") == 3
        assert sample(s, "arq_worker_job_wait_seconds_count", queue=q, function="add") == 3
        assert sample(s, "arq_worker_jobs_running", queue=q) == 0
        # the Go worker's health line, read by the exporter: the line is
        # rewritten every 50 ms, so one written between the jobs' ends can
        # show the adds done and not yet both failures; wait for a line that
        # counts all five
        e = await wait_for(lambda: (x := scrape(exporter.base + "/metrics")) and
                           sample(x, "arq_health_jobs", queue=q, kind="complete") == 3 and
                           sample(x, "arq_health_jobs", queue=q, kind="failed") == 2 and x, timeout=10)
        assert sample(e, "arq_health_jobs", queue=q, kind="failed") == 2
        assert 0 <= sample(e, "arq_health_age_seconds", queue=q) < 5
        w.signal()
        await w.wait()

        # then Python's worker runs more
        for i in range(2):
            await pool.enqueue_job("add", i, 10)
        await pool.enqueue_job("fail", "py boom")
        await run_burst(pool)
        # and some wait
        await pool.enqueue_job("add", 1, 1, _defer_by=3600)
        await pool.enqueue_job("add", 2, 2)
        await pool.enqueue_job("add", 3, 3)
        e = scrape(exporter.base + "/metrics")
        assert sample(e, "arq_queue_results", queue=q, function="add", success="true") == 5
        assert sample(e, "arq_queue_results", queue=q, function="fail", success="false") == 2
        assert sample(e, "arq_queue_results", queue=q, function="nope", success="false") == 1
        assert sample(e, "arq_queue_jobs", queue=q, state="queued") == 2
        assert sample(e, "arq_queue_jobs", queue=q, state="deferred") == 1
        assert sample(e, "arq_queue_jobs", queue=q, state="in_progress") == 0
        assert 0 <= sample(e, "arq_queue_oldest_ready_seconds", queue=q) < 10
    finally:
        w.kill()
        exporter.stop()


async def test_dashboard_refuses_a_public_address_without_auth():
    p = await asyncio.to_thread(subprocess.run, [str(BIN / "goarq"), "--redis", REDIS_URL, "dashboard", "--addr", "0.0.0.0:0"],
                                capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and "not a loopback address" in p.stderr, p.stderr


async def test_results_page_keeps_long_values_within_the_window(arq_redis, dashboard):
    """A long result, arguments or exception message wraps inside its cell:
    the results and jobs pages stay as wide as the 1280 px window, with no
    sideways scrolling to reach the actions."""
    pool = arq_redis
    long_word = "x" * 3000
    await pool.enqueue_job("echo", long_word, k="y" * 2000, _job_id="long-ok")
    await pool.enqueue_job("fail", "z" * 3000, _job_id="long-failed")
    await run_burst(pool)
    await pool.enqueue_job("echo", long_word, _job_id="long-queued")
    fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    page = await abrowse(dashboard.base + "/results", shot="results-long.png", js=fits)
    assert "2 matching of 2" in page["text"], page["text"]
    assert page["eval"] is True, "the results page is wider than the window"
    page = await abrowse(dashboard.base + "/jobs", shot="jobs-long.png", js=fits)
    assert "long-queued" in page["text"], page["text"]
    assert page["eval"] is True, "the jobs page is wider than the window"


async def test_overview_with_go_workers_fits_and_refreshes(arq_redis):
    """The overview with two goarq workers (14 functions each) and a
    result arq wrote for an expired job (function '<unknown>', enqueue time
    0): the workers table stays inside its card, no function name breaks
    mid-word, no state badge wraps, the '<unknown>' row shows no wait, and
    the page refreshes itself with <meta http-equiv="refresh"> (off with
    ?refresh=0)."""
    pool = arq_redis
    gone = await pool.enqueue_job("add", 1, 2, _job_id="expired")
    await pool.delete(f"arq:job:{gone.job_id}")
    await pool.enqueue_job("add", 1, 2)
    await run_burst(pool)
    assert (await Job("expired", pool).result_info()).function == "<unknown>"
    await pool.enqueue_job("sleep", 30, _job_id="running")
    await pool.enqueue_job("add", 1, 2, _defer_by=3600, _job_id="deferred-one")
    w1 = GoWorker("--health-check-interval", "50ms")
    w2 = GoWorker("--health-check-interval", "50ms", "--only-own-functions")
    # two queues: two cards side by side, each half the window
    s = Server("dashboard", "--queues", "arq:queue,emails")
    try:
        await s.ready()
        await wait_for(lambda: pool.exists("arq:in-progress:running"), timeout=15)

        def two_workers():
            p = browse(s.base + "/")
            return p["text"].count("only its own functions") == 1 and p["text"].count("ago") >= 3
        await wait_for(lambda: asyncio.to_thread(two_workers), timeout=20, interval=0.2)
        fits = """(() => {
          const bad = [];
          for (const c of document.querySelectorAll('.card')) {
            if (c.scrollWidth > c.clientWidth) bad.push('card overflows: ' + c.scrollWidth + ' > ' + c.clientWidth);
            for (const t of c.querySelectorAll('table')) {
              const tr = t.getBoundingClientRect(), cr = c.getBoundingClientRect();
              if (tr.right > cr.right + 0.5) bad.push('table leaves its card: ' + tr.right + ' > ' + cr.right);
            }
          }
          for (const f of document.querySelectorAll('table.workers .fn')) {
            if (f.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(f).lineHeight)) bad.push('function name breaks: ' + f.textContent);
          }
          for (const b of document.querySelectorAll('.badge')) {
            if (b.getClientRects().length !== 1 || b.getBoundingClientRect().height > 24) bad.push('badge wraps: ' + b.textContent);
          }
          const m = document.querySelector('meta[http-equiv=refresh]');
          return JSON.stringify({bad, fns: document.querySelectorAll('table.workers .fn').length,
                                 refresh: m ? m.getAttribute('content') : null});
        })()"""
        page = await abrowse(s.base + "/", shot="overview-workers.png", js=fits)
        r = json.loads(page["eval"])
        assert r["bad"] == [] and r["fns"] >= 28, r
        assert r["refresh"] and int(r["refresh"].split(";")[0]) > 0, r
        row = re.search(r"<unknown>\s+1\s+0\.0%\s+(\S+)\s+(\S+)\s+(\S+)", page["text"])
        assert row and row.group(3) == "—", page["text"]

        page = await abrowse(s.base + "/jobs", shot="jobs-states.png", js=fits)
        r = json.loads(page["eval"])
        assert r["bad"] == [], r
        # the try column shows what arq's queued_jobs() gives (and `goarq jobs` prints)
        tries = {j.job_id: j.job_try for j in await pool.queued_jobs()}
        assert tries == {"running": None, "deferred-one": None}, tries
        assert re.search(r"deferred-one\s+add\s+1, 2\s+None\s", page["text"]), page["text"]
        assert re.search(r"running\s+sleep\s+30\s+None\s", page["text"]), page["text"]

        page = await abrowse(s.base + "/?refresh=0", js=fits)
        assert json.loads(page["eval"])["refresh"] is None
        page = await abrowse(s.base + "/jobs?refresh=0", js=fits)
        assert json.loads(page["eval"])["refresh"] is None
    finally:
        s.stop()
        w1.kill()
        w2.kill()
