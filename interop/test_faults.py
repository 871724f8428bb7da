"""Faults, hostile input and security, with real redis-servers (short
forms; scripts/faults.sh runs the long forms)."""
import asyncio
import os
import pickle
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from arq.jobs import Job

from .conftest import BIN, REDIS_URL, free_port, wait_for
from .test_go_worker import GoWorker, go_burst

N_JOBS = int(os.environ.get("GOARQ_FAULT_JOBS", "400"))
KILL_EVERY = float(os.environ.get("GOARQ_FAULT_KILL_EVERY", "0.3"))
JOB_SECONDS = float(os.environ.get("GOARQ_FAULT_JOB_SECONDS", "0.05"))
MAX_KILLS = int(os.environ.get("GOARQ_FAULT_MAX_KILLS", "10"))


async def _results_done(pool, n):
    return len([k async for k in pool.scan_iter("arq:result:*", count=1000)]) >= n


class PyWorker(GoWorker):
    """A Python arq worker process (python -m arq), killable like GoWorker."""

    def __init__(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, REDIS_URL=REDIS_URL)
        self.proc = subprocess.Popen([sys.executable, "-m", "arq", "interop.arq_settings.FaultWorkerSettings"], env=env,
                                     cwd=os.path.dirname(os.path.dirname(__file__)), stdout=self.log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("fleet", ["go", "go+python"])
async def test_kill_9_workers_mid_run_loses_nothing(arq_redis, fleet):
    """3 workers (in "go+python" one is a Python arq worker), one killed with
    SIGKILL every KILL_EVERY s and restarted: every job ends with exactly one
    successful result; re-runs are counted and reported."""
    pool = arq_redis
    for start in range(0, N_JOBS, 200):
        await asyncio.gather(*[pool.enqueue_job("work", f"w{i}", JOB_SECONDS, _job_id=f"j{i}")
                               for i in range(start, min(N_JOBS, start + 200))])
    flags = ("--job-timeout", "1s", "--max-jobs", "10")
    kinds = ["go", "go", "python" if fleet == "go+python" else "go"]
    started = []

    def start_worker(kind):
        w = PyWorker() if kind == "python" else GoWorker(*flags)
        started.append((kind, w))
        return w

    workers = [start_worker(k) for k in kinds]
    kills = 0
    try:
        deadline = time.monotonic() + 120
        while not await _results_done(pool, N_JOBS):
            assert time.monotonic() < deadline, "jobs still missing after 120 s"
            await asyncio.sleep(KILL_EVERY)
            victim = random.randrange(3)
            workers[victim].proc.send_signal(signal.SIGKILL)
            workers[victim].proc.wait()
            kills += 1
            workers[victim] = start_worker(kinds[victim])
            if kills >= MAX_KILLS:  # then let the fleet finish, including jobs whose in-progress key must expire
                await wait_for(lambda: _results_done(pool, N_JOBS), timeout=60, interval=0.2)
                break
    finally:
        for w in workers:
            w.kill()
    results = [await Job(f"j{i}", pool).result_info() for i in range(N_JOBS)]
    assert all(r is not None and r.success for r in results), [i for i, r in enumerate(results) if not (r and r.success)][:10]
    counts = [int(c) for c in await pool.mget([f"w{i}" for i in range(N_JOBS)])]
    assert all(c >= 1 for c in counts)
    reruns = sum(counts) - N_JOBS
    assert await pool.zcard("arq:queue") == 0
    python_starts = sum(w.output.count(":work(") for kind, w in started if kind == "python")
    if fleet == "go+python":
        assert python_starts > 0, "the Python worker ran no job"
    print(f"\nkill -9 ({fleet}): {N_JOBS} jobs, {kills} workers killed, {reruns} re-runs, 0 lost; Python started {python_starts} jobs")


async def test_hostile_payloads_fail_in_arqs_form_and_the_worker_goes_on(arq_redis):
    pool = arq_redis
    marker = tempfile.mktemp(prefix="goarq-pwned-")

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    cases = {
        "truncated": pickle.dumps({"t": None, "f": "echo", "a": (), "k": {}, "et": 1})[:-5],
        "unknown-opcode": b"\x80\x04\xff\xfe.",
        "huge-length": b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\x00\x00.",
        "deep": b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b".",
        "not-utf8": b"\x80\x04\x8c\x02\xff\xfe.",
        "missing-fields": pickle.dumps({"f": "echo"}),
        "wrong-types": pickle.dumps({"t": None, "f": 5, "a": "x", "k": [], "et": "now"}),
        "not-a-dict": pickle.dumps([1, 2, 3]),
        "oversized": b"\x80\x04\x8e" + (70 << 20).to_bytes(8, "little") + b"\x00" * (70 << 20) + b".",
    }
    for name, payload in cases.items():
        await pool.set(f"arq:job:{name}", payload)
        await pool.zadd("arq:queue", {name: 1})
    # a well-formed job that carries a pickled os.system call as an argument
    await pool.enqueue_job("echo", _job_id="evil-arg", x=Evil())
    await pool.enqueue_job("add", 1, 2, _job_id="after")
    out = await go_burst()
    for name in cases:
        info = await Job(name, pool).result_info()
        assert info is not None and not info.success, name
        assert type(info.result).__name__ == "DeserializationError" and str(info.result) == "unable to deserialize job", name
        assert f"deserializing job {name} failed" in out
    # the Go worker decoded the os.system call as an inert object and ran nothing
    assert not os.path.exists(marker)
    # (CPython's pickle.loads of that result would run it, so read it with goarq)
    r = goarq(REDIS_URL, "--json", "result", "evil-arg")
    assert r.returncode == 0 and '"class":"posix.system"' in r.stdout.replace(" ", ""), r.stdout
    assert not os.path.exists(marker)
    assert await Job("after", pool).result() == 3



class RedisServer:
    """A throwaway redis-server on a free loopback port, in its own directory."""

    def __init__(self, *args):
        self.port = free_port()
        self.dir = tempfile.mkdtemp()
        self.args = args
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        """Start (or start again, on the same port and directory)."""
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--dir", self.dir, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def goarq(url, *args):
    return subprocess.run([str(BIN / "goarq"), "--redis", url, *args], capture_output=True, text=True, timeout=30)


def test_auth_password_and_acl_user():
    srv = RedisServer("--requirepass", "s3cret-pw", "--user", "app", "on", ">app-pw", "~*", "&*", "+@all")
    try:
        base = f"127.0.0.1:{srv.port}"
        ok = goarq(f"redis://:s3cret-pw@{base}/0", "enqueue", "add", "1", "2", "--job-id", "a1")
        assert ok.returncode == 0 and ok.stdout == "a1\n", ok.stderr
        acl = goarq(f"redis://app:app-pw@{base}/0", "status", "a1")
        assert acl.returncode == 0 and acl.stdout == "queued\n", acl.stderr
        start = time.monotonic()
        bad = goarq(f"redis://app:wrong-pw@{base}/0", "status", "a1")
        assert bad.returncode == 4 and time.monotonic() - start < 5
        assert "WRONGPASS" in bad.stderr or "invalid username-password" in bad.stderr
        assert "wrong-pw" not in bad.stderr and "wrong-pw" not in bad.stdout
        noauth = goarq(f"redis://{base}/0", "status", "a1")
        assert noauth.returncode == 4 and "NOAUTH" in noauth.stderr
    finally:
        srv.stop()


def test_worker_with_unreachable_redis_names_the_address():
    port = free_port()
    p = subprocess.run([str(BIN / "goworker"), "--redis", f"redis://user:pw-hidden@127.0.0.1:{port}/0", "--burst"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert f"127.0.0.1:{port}" in p.stderr and "pw-hidden" not in p.stderr
    assert "retries remaining" in p.stderr  # create_pool's retries, then the error


@pytest.fixture(scope="module")
def certs():
    """A CA, a server certificate for 'localhost' only, and a client certificate."""
    d = tempfile.mkdtemp()

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=goarq test CA")
    for name, ext in (("server", "subjectAltName=DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")):
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.crt",
             "-days", "2", "-extfile", f"{name}.ext")
    yield d
    shutil.rmtree(d, ignore_errors=True)


class TLSRedis(RedisServer):
    def __init__(self, certs, *args):
        self.tls_port = free_port()
        super().__init__("--tls-port", str(self.tls_port), "--tls-cert-file", os.path.join(certs, "server.crt"),
                         "--tls-key-file", os.path.join(certs, "server.key"), "--tls-ca-cert-file", os.path.join(certs, "ca.crt"), *args)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.02)


async def test_tls_verifies_the_server_and_reads_what_python_wrote(certs):
    from arq.connections import RedisSettings, create_pool

    srv = TLSRedis(certs, "--tls-auth-clients", "no")
    try:
        ca = os.path.join(certs, "ca.crt")
        pool = await create_pool(RedisSettings(host="127.0.0.1", port=srv.tls_port, ssl=True, ssl_ca_certs=ca))
        await pool.enqueue_job("add", 1, 2, _job_id="tls-job")
        await pool.aclose()
        url = f"rediss://127.0.0.1:{srv.tls_port}/0"
        # verification is on by default: without the CA the server is refused
        p = goarq(url, "status", "tls-job")
        assert p.returncode == 4 and "certificate" in p.stderr, p.stderr
        # with the CA: arq's default checks the chain, not the name (ssl_check_hostname=False)
        p = goarq(url, "--tls-ca", ca, "status", "tls-job")
        assert (p.returncode, p.stdout) == (0, "queued\n"), p.stderr
        # asking for the name check: the certificate is for 'localhost', not 127.0.0.1
        p = goarq(url, "--tls-ca", ca, "--tls-check-hostname", "status", "tls-job")
        assert p.returncode == 4 and "127.0.0.1" in p.stderr
        p = goarq(f"rediss://localhost:{srv.tls_port}/0", "--tls-ca", ca, "--tls-check-hostname", "status", "tls-job")
        assert (p.returncode, p.stdout) == (0, "queued\n"), p.stderr
    finally:
        srv.stop()


def test_tls_client_certificate(certs):
    srv = TLSRedis(certs, "--tls-auth-clients", "yes")
    try:
        url, ca = f"rediss://127.0.0.1:{srv.tls_port}/0", os.path.join(certs, "ca.crt")
        p = goarq(url, "--tls-ca", ca, "status", "x")
        assert p.returncode == 4, p.stdout
        p = goarq(url, "--tls-ca", ca, "--tls-cert", os.path.join(certs, "client.crt"), "--tls-key", os.path.join(certs, "client.key"),
                  "status", "x")
        # connected: an unknown job's status is not_found, exit 1 (a TLS failure is exit 4)
        assert (p.returncode, p.stdout) == (1, "not_found\n"), p.stderr
    finally:
        srv.stop()
