"""Least privilege: for each role, `goarq acl --role R` prints a rule; a
Redis user is made with exactly that rule, and the role runs end to end as
that user: a Go worker with push wake-up running jobs Python arq enqueued,
enqueue/result/abort from Go, the dashboard's pages and actions, the
read-only dashboard, the exporter. Nothing may fail and Redis's ACL LOG
must stay empty for the user (go-redis ignores some refusals, such as a
refused HELLO; the log still shows them). A rule with one permission taken
away must fail the same run, so the run is a real test of the rule."""
import asyncio
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job, JobStatus

from .conftest import BIN, free_port, wait_for
from .test_faults import RedisServer
from .test_go_worker import GoWorker

QUEUE = "arq:queue"
PASSWORD = "role-pw"


def acl_rule(role, user, *extra):
    p = subprocess.run([str(BIN / "goarq"), "acl", "--role", role, "--queue", QUEUE, "--user", user, "--password", PASSWORD, *extra],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def make_user(admin, rule, drop=()):
    """Run the printed ACL SETUSER, less the tokens in drop."""
    words = shlex.split(rule)
    assert words[:2] == ["ACL", "SETUSER"]
    for d in drop:
        assert d in words, (d, rule)
    admin.execute_command(*[w for w in words if w not in drop])


def acl_log(admin, user):
    return [e for e in admin.acl_log(count=1000) if e.get("username") == user]


def user_url(srv, user):
    return f"redis://{user}:{PASSWORD}@127.0.0.1:{srv.port}/0"


def goarq(url, *args, timeout=30):
    return subprocess.run([str(BIN / "goarq"), "--redis", url, *args], capture_output=True, text=True, timeout=timeout)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


class Web:
    """`goarq dashboard` or `goarq exporter` on a free port."""

    def __init__(self, url, command, *flags):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([str(BIN / "goarq"), "--redis", url, command, "--addr", f"127.0.0.1:{self.port}",
                                      "--cache-ttl", "0", *flags], stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    async def ready(self):
        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                assert self.proc.poll() is None, self.output()
                return False
        await wait_for(up, timeout=10)

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            assert r.status == 200, (path, r.status)
            return r.read().decode()

    def post(self, path, csrf):
        """POST an action; the page its 303 leads to (an action answers 303
        only when it succeeded)."""
        data = urllib.parse.urlencode({"csrf": csrf, "queue": QUEUE}).encode()
        req = urllib.request.Request(self.base + path, data=data, method="POST")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(req, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 303, (path, e.code, e.read().decode())
            return self.get(e.headers["Location"].removeprefix(self.base))
        raise AssertionError(f"{path}: no redirect")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def run_worker(srv, admin, url):
    """A Go worker with push wake-up only (an hour's poll delay) runs jobs
    Python arq enqueues after it started: a plain job, a failing one, one
    retried once, and a deferred one aborted before it is due; it writes
    its heartbeat and health check and stops cleanly on SIGINT."""
    w = GoWorker("--poll-delay", "3600s", "--allow-abort", "--health-check-interval", "1s", redis_url=url, poll_delay=None)
    pool = await create_pool(RedisSettings.from_dsn(srv.url))
    try:
        await wait_for(lambda: "Starting worker" in w.output, timeout=20)
        await wait_for(lambda: admin.exists(f"{QUEUE}:health-check") and admin.keys(f"goarq:worker:{QUEUE}:*"), timeout=15)
        ok = await pool.enqueue_job("add", 1, 2)
        failing = await pool.enqueue_job("fail", "boom")
        retried = await pool.enqueue_job("retry", 1, 0.3)  # (Retry(0) under push-only waits for the poll: reported)
        try:
            assert await ok.result(timeout=10, poll_delay=0.05) == 3
            with pytest.raises(Exception, match="boom"):
                await failing.result(timeout=10, poll_delay=0.05)
            assert await retried.result(timeout=10, poll_delay=0.05) == 2
        except BaseException as e:
            raise AssertionError(w.output + repr(admin.zrange(QUEUE, 0, -1, withscores=True)) + repr(admin.keys("*"))) from e
        # an abort request for a deferred job, then the job made due (arq's
        # Job.abort does both, the other way round, which races a worker
        # woken at once by the re-score)
        deferred = await pool.enqueue_job("noop", _defer_by=600)
        admin.zadd("arq:abort", {deferred.job_id: int(time.time() * 1000)})
        admin.zadd(QUEUE, {deferred.job_id: 1}, xx=True)
        try:
            with pytest.raises(asyncio.CancelledError):
                await deferred.result(timeout=10, poll_delay=0.05)
        except BaseException as e:
            raise AssertionError(w.output) from e
        assert "push wake-up unavailable" not in w.output, w.output
        w.signal(signal.SIGINT)
        assert await w.wait() == 0, w.output
        assert not admin.exists(f"{QUEUE}:health-check") and not admin.keys(f"goarq:worker:{QUEUE}:*"), w.output
    finally:
        w.kill()
        await pool.aclose()


async def run_producer(srv, admin, url):
    """Go enqueues (the script, and arq's WATCH/MULTI is not needed), waits
    for results with push wake-up, reads status and info, and aborts a
    deferred job, against a worker of the admin's."""
    w = GoWorker("--allow-abort", redis_url=srv.url)
    try:
        await wait_for(lambda: "Starting worker" in w.output, timeout=20)
        p = await asyncio.to_thread(goarq, url, "--json", "enqueue", "add", "2", "3", "--job-id", "p1", "--wait", "10s")
        assert p.returncode == 0 and '"result":5' in p.stdout.replace(" ", ""), (p.stdout, p.stderr)
        for args in (("status", "p1"), ("info", "p1"), ("result", "p1", "--timeout", "5s")):
            p = await asyncio.to_thread(goarq, url, *args)
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        p = await asyncio.to_thread(goarq, url, "enqueue", "sleep", "30", "--job-id", "p2")
        assert p.returncode == 0, p.stderr
        await wait_for(lambda: admin.exists("arq:in-progress:p2"), timeout=10)
        p = await asyncio.to_thread(goarq, url, "abort", "p2", "--timeout", "10s")
        assert p.returncode == 0, (p.stdout, p.stderr)
    finally:
        w.kill()


async def finished_jobs(srv):
    """A failed and a successful job, with results, run by an admin worker."""
    pool = await create_pool(RedisSettings.from_dsn(srv.url))
    try:
        failed = await pool.enqueue_job("fail", "first")
        done = await pool.enqueue_job("add", 1, 1)
        w = GoWorker("--burst", redis_url=srv.url)
        assert await w.wait() == 0, w.output
        deferred = await pool.enqueue_job("noop", _defer_by=600)
        return failed.job_id, done.job_id, deferred.job_id
    finally:
        await pool.aclose()


async def run_dashboard(srv, admin, url):
    """Every page, then the three actions: abort a deferred job, re-enqueue
    a failed one, delete a result."""
    failed, done, deferred = await finished_jobs(srv)
    live = GoWorker(redis_url=srv.url, poll_delay="3600s")  # a worker row on the overview
    web = Web(url, "dashboard")
    try:
        await web.ready()
        await wait_for(lambda: admin.keys(f"goarq:worker:{QUEUE}:*"), timeout=15)
        for path in ("/", "/jobs", "/results", f"/job/{done}", f"/job/{failed}", "/metrics"):
            await asyncio.to_thread(web.get, path)
        page = await asyncio.to_thread(web.get, f"/job/{deferred}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert "Abort requested" in await asyncio.to_thread(web.post, f"/job/{deferred}/abort", csrf)
        # the live worker may have taken the abort request already
        await wait_for(lambda: admin.zscore("arq:abort", deferred) is not None or admin.exists(f"arq:result:{deferred}"))
        assert "Enqueued again" in await asyncio.to_thread(web.post, f"/job/{failed}/reenqueue", csrf)
        with pytest.raises(urllib.error.HTTPError, match="404"):  # the job is gone with its result
            await asyncio.to_thread(web.post, f"/job/{done}/delete-result", csrf)
        assert not admin.exists(f"arq:result:{done}")
    finally:
        web.stop()
        live.kill()


async def run_read_only(srv, admin, url):
    failed, done, _ = await finished_jobs(srv)
    web = Web(url, "dashboard", "--read-only")
    try:
        await web.ready()
        for path in ("/", "/jobs", "/results", f"/job/{done}", f"/job/{failed}", "/metrics"):
            body = await asyncio.to_thread(web.get, path)
            assert "Internal Server Error" not in body
    finally:
        web.stop()


async def run_exporter(srv, admin, url):
    await finished_jobs(srv)
    web = Web(url, "exporter")
    try:
        await web.ready()
        text = await asyncio.to_thread(web.get, "/metrics")
        assert re.search(r'^arq_queue_jobs\{.*state="deferred".*\} 1$', text, re.M), text
        assert re.search(r'^arq_queue_results\{function="add",.*success="true"\} 1$', text, re.M), text
        assert re.search(r'^arq_queue_results\{function="fail",.*success="false"\} 1$', text, re.M), text
        assert 'arq_redis_evicts_keys{policy="noeviction"} 0' in text, text
    finally:
        web.stop()


ROLES = {
    "worker": run_worker,
    "producer": run_producer,
    "dashboard": run_dashboard,
    "dashboard-read-only": run_read_only,
    "exporter": run_exporter,
}

# one permission each role needs, taken away to show the run notices
NARROWER = {
    "worker": ["+client|tracking"],
    "producer": ["+zadd"],
    "dashboard": ["+del"],
    "dashboard-read-only": ["%R~arq:job:*"],
    "exporter": ["+zcount"],
}


async def exercise(role, drop=()):
    """Run role as a user with its rule (less drop); return the run's
    error (None when it passed) and the user's ACL LOG entries."""
    srv = RedisServer()
    admin = redis.Redis.from_url(srv.url, decode_responses=True)
    user = f"goarq-{role}"
    try:
        make_user(admin, acl_rule(role, user), drop)
        admin.acl_log_reset()
        err = None
        try:
            await ROLES[role](srv, admin, user_url(srv, user))
        except Exception:  # noqa: BLE001 - a refused command surfaces in many forms
            err = traceback.format_exc()
        return err, acl_log(admin, user)
    finally:
        admin.close()
        srv.stop()


@pytest.mark.parametrize("role", list(ROLES))
async def test_role_runs_end_to_end_with_exactly_its_rule(role):
    err, log = await exercise(role)
    assert err is None, err
    assert log == [], log


@pytest.mark.parametrize("role", list(ROLES))
async def test_a_narrower_rule_fails_the_run(role):
    err, log = await exercise(role, drop=NARROWER[role])
    assert err is not None or log, f"{role} without {NARROWER[role]} passed: the run does not test the rule"


def test_rule_is_read_only_for_read_roles_and_names_the_queue():
    for role in ("dashboard-read-only", "exporter"):
        rule = acl_rule(role, "u")
        assert " ~" not in rule and "+del" not in rule and "+zadd" not in rule, rule
        assert f"%R~{QUEUE}" in rule.split(), rule
    rule = shlex.split(acl_rule("worker", "u", "--queue", "jobs*"))  # as redis-cli splits it
    assert "~jobs\\*" in rule and "~jobs\\*:health-check" in rule, rule
    p = subprocess.run([str(BIN / "goarq"), "acl", "--role", "admin"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "unknown role" in p.stderr, p.stderr


def test_printed_rule_pipes_into_redis_cli_with_an_awkward_password():
    srv = RedisServer()
    try:
        pw = 'p w"x\\y'
        rule = subprocess.run([str(BIN / "goarq"), "acl", "--role", "worker", "--queue", "jobs*", "--password", pw],
                              capture_output=True, text=True, timeout=30).stdout
        p = subprocess.run(["redis-cli", "-p", str(srv.port)], input=rule, capture_output=True, text=True, timeout=30)
        assert p.stdout.strip() == "OK", (rule, p.stdout, p.stderr)
        r = redis.Redis(port=srv.port, username="goarq-worker", password=pw)
        assert r.zcard("jobs*") == 0  # the pattern matches the queue itself
        with pytest.raises(redis.exceptions.NoPermissionError):
            r.zcard("jobsX")  # and not what its glob would
        r.close()
    finally:
        srv.stop()
