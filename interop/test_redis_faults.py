"""Redis itself failing under Go workers and a Go producer: redis-server
killed and restarted mid-run (appendonly), connections cut by a proxy the
test controls, and a Sentinel failover. Short forms; scripts/faults.sh runs
the long forms (GOARQ_REDIS_FAULT_JOBS=2000)."""
import asyncio
import json
import os
import pickle
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import redis

from .conftest import BIN, REDIS_URL, free_port, wait_for
from .test_faults import RedisServer
from .test_go_worker import GoWorker

N_JOBS = int(os.environ.get("GOARQ_REDIS_FAULT_JOBS", "400"))


def goroutines(addr):
    """The goroutine count of a Go worker started with --debug-addr."""
    with urllib.request.urlopen(f"http://{addr}/debug/pprof/goroutine?debug=1", timeout=5) as r:
        return int(r.readline().decode().split("total")[1])


def reachable(fn):
    """fn's value, or None while Redis (or the worker) is unreachable."""
    try:
        return fn()
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
        return None


def outcomes(r, prefix, n):
    """(successful results, failed results, ids without a result), read from r."""
    ok, failed, missing = 0, 0, []
    for i, v in enumerate(r.mget([f"arq:result:{prefix}-{i}" for i in range(n)])):
        if v is None:
            missing.append(i)
        elif pickle.loads(v)["s"]:  # results written by the Go fixture worker
            ok += 1
        else:
            failed += 1
    return ok, failed, missing


def results_done(url, prefix, n):
    r = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return sum(v is not None for v in r.mget([f"arq:result:{prefix}-{i}" for i in range(n)]))
    finally:
        r.close()


def produce(url, prefix, n, *flags):
    """The Go producer (goclient produce): n work jobs, one at a time, each
    retried with its own id while Redis is away."""
    return subprocess.Popen([str(BIN / "goclient"), "produce", "--redis", url, "--n", str(n), "--job-id", prefix,
                             "--seconds", "0.02", "--interval", "5ms", "--timeout", "120s", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def finished(proc, timeout=150):
    out, _ = await asyncio.to_thread(proc.communicate, timeout=timeout)
    assert proc.returncode == 0, out
    return json.loads(out.splitlines()[-1])


def stop(producer, workers):
    if producer and producer.poll() is None:
        producer.kill()
    for w in workers:
        w.kill()


def reruns(r, prefix, n):
    counts = [int(c or 0) for c in r.mget([f"{prefix}-count-{i}" for i in range(n)])]
    assert all(c >= 1 for c in counts)
    return sum(counts) - n


async def test_redis_killed_and_restarted_mid_run_loses_nothing():
    """redis-server (appendonly, fsync always) is killed with SIGKILL twice
    and restarted 1.5 s later while a Go producer enqueues and two Go workers run jobs: both reconnect
    with backoff, every job gets one successful result, and each worker's
    goroutine count returns to its idle figure from before the faults."""
    srv = RedisServer("--appendonly", "yes", "--appendfsync", "always")
    debug = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    workers = [GoWorker("--max-jobs", "10", "--job-timeout", "5s", "--max-tries", "50", "--debug-addr", a, redis_url=srv.url)
               for a in debug]
    producer = None
    try:
        await wait_for(lambda: all(reachable(lambda: goroutines(a)) for a in debug), timeout=20)
        idle = [goroutines(a) for a in debug]
        producer = produce(srv.url, "rs", N_JOBS)
        restarts = 0
        for fraction in (0.25, 0.6):
            await wait_for(lambda: (reachable(lambda: results_done(srv.url, "rs", N_JOBS)) or 0) >= N_JOBS * fraction, timeout=60)
            srv.kill()
            await asyncio.sleep(1.5)  # Redis stays down this long: longer than go-redis's own retries
            srv.start()
            restarts += 1
        produced = await finished(producer)
        await wait_for(lambda: reachable(lambda: results_done(srv.url, "rs", N_JOBS)) == N_JOBS, timeout=120, interval=0.2)
        r = redis.Redis.from_url(srv.url)
        ok, failed, missing = outcomes(r, "rs", N_JOBS)
        assert (ok, failed, missing) == (N_JOBS, 0, [])
        assert r.zcard("arq:queue") == 0
        rerun = reruns(r, "rs", N_JOBS)
        r.close()
        assert all(w.proc.poll() is None for w in workers), [w.output for w in workers]
        logs = "".join(w.output for w in workers)
        # no goroutine leak: idle again, each worker is back to its count from before
        for addr, before in zip(debug, idle):
            await wait_for(lambda: goroutines(addr) <= before, timeout=10, interval=0.1)
        after = [goroutines(a) for a in debug]
        print(f"\nredis restart: {N_JOBS} jobs, {restarts} SIGKILL restarts of redis-server, {rerun} re-runs, 0 lost, "
              f"{produced['failed_attempts']} enqueue attempts retried, {logs.count('redis error while polling')} polls "
              f"and {logs.count('retrying until the connection returns')} outcome writes retried by the workers, "
              f"goroutines idle {idle} -> {after}")
    finally:
        stop(producer, workers)
        srv.stop()


class Proxy:
    """A TCP proxy in front of Redis: cut() resets every open connection and
    refuses new ones until restore()."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.down = False
        self.conns = set()
        self.cut_conns = 0

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer):
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self.conns.add(pair)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.conns.discard(pair)

    def cut(self):
        self.down = True
        for a, b in list(self.conns):
            a.transport.abort()
            b.transport.abort()
            self.cut_conns += 1

    def restore(self):
        self.down = False

    async def close(self):
        self.cut()
        self.server.close()
        await self.server.wait_closed()


async def test_connection_cut_while_jobs_run_and_write(arq_redis):
    """Two Go workers reach Redis through a proxy that resets every
    connection three times for a second while jobs run and finish: each job
    ends with one successful result, written once the connection returned
    or after a re-run, and the workers' logs say which."""
    pool, n = arq_redis, N_JOBS
    for start in range(0, n, 200):
        await asyncio.gather(*[pool.enqueue_job("work", f"pc-count-{i}", 0.2, _job_id=f"pc-{i}")
                               for i in range(start, min(n, start + 200))])
    proxy = Proxy(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    url = f"redis://127.0.0.1:{proxy.port}/{REDIS_URL.rsplit('/', 1)[1]}"
    workers = [GoWorker("--max-jobs", "10", "--job-timeout", "2s", "--max-tries", "50", redis_url=url) for _ in range(2)]

    async def done():
        return len([k async for k in pool.scan_iter("arq:result:pc-*", count=1000)])

    try:
        cuts = 0
        for k in range(1, 4):
            # cut while jobs are running: after some results, well before the last
            await wait_for(lambda: _at_least(done, n * k // 5), timeout=60)
            proxy.cut()
            cuts += 1
            await asyncio.sleep(1.0)  # the outage itself
            proxy.restore()
        await wait_for(lambda: _at_least(done, n), timeout=120, interval=0.2)
    finally:
        for w in workers:
            w.kill()
        await proxy.close()
    results = [await pool.get(f"arq:result:pc-{i}") for i in range(n)]
    assert all(v is not None and pickle.loads(v)["s"] for v in results)
    counts = [int(c) for c in await pool.mget([f"pc-count-{i}" for i in range(n)])]
    assert all(c >= 1 for c in counts)
    logs = "".join(w.output for w in workers)
    recorded = logs.count("recorded after")
    given_up = logs.count("will run again after its in-progress key expires")
    # jobs were running during each outage, so some outcomes waited for the connection
    assert recorded > 0, logs[-3000:]
    print(f"\nconnection cuts: {n} jobs, {cuts} cuts ({proxy.cut_conns} connections reset), "
          f"{recorded} outcomes recorded once the connection returned, {given_up} left to run again, "
          f"{sum(counts) - n} re-runs, 0 lost")


async def _at_least(count, n):
    return await count() >= n


class Sentinel:
    """A master, a replica and one sentinel (quorum 1) on loopback."""

    def __init__(self):
        self.master = RedisServer()
        self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.master.port))
        self.port = free_port()
        self.dir = tempfile.mkdtemp()
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {self.master.port} 1\n"
                    "sentinel down-after-milliseconds mymaster 500\nsentinel failover-timeout mymaster 5000\n")
        # Debian's redis-sentinel is the redis-server program in sentinel mode
        cmd = ["redis-sentinel", conf] if shutil.which("redis-sentinel") else ["redis-server", conf, "--sentinel"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port, decode_responses=True)

    def master_port(self):
        host, port = self.client.sentinel_get_master_addr_by_name("mymaster")
        return int(port)

    def ready(self):
        repl = redis.Redis(port=self.replica.port, decode_responses=True).info("replication")
        return repl.get("master_link_status") == "up" and len(self.client.sentinel_slaves("mymaster")) == 1

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.master.stop()
        self.replica.stop()


async def test_sentinel_failover_mid_run():
    """The master is killed mid-run; the sentinel promotes the replica and
    the Go workers and the Go producer, which found the master through
    Sentinel, follow it. Every job Redis still holds after the failover
    ends with a successful result; jobs whose enqueue never reached the
    replica are what replication lost, measured and reported."""
    s = Sentinel()
    workers, producer = [], None
    try:
        await wait_for(lambda: reachable(s.ready), timeout=30, interval=0.1)
        flags = ("--sentinel", f"127.0.0.1:{s.port}")
        workers = [GoWorker("--max-jobs", "10", "--job-timeout", "5s", "--max-tries", "50", *flags, redis_url="redis://localhost/0")
                   for _ in range(2)]
        producer = produce("redis://localhost/0", "sf", N_JOBS, *flags)
        master_url = lambda: f"redis://127.0.0.1:{s.master_port()}/0"  # noqa: E731
        await wait_for(lambda: (reachable(lambda: results_done(master_url(), "sf", N_JOBS)) or 0) >= N_JOBS // 3, timeout=60)
        killed = time.monotonic()
        s.master.kill()
        await wait_for(lambda: reachable(s.master_port) == s.replica.port, timeout=30, interval=0.05)
        failover = time.monotonic() - killed
        produced = await finished(producer)
        r = redis.Redis(port=s.replica.port)

        def settled():
            # nothing left to run: no job queued, in progress or with a job key
            return not r.zcard("arq:queue") and not r.keys("arq:in-progress:*") and not r.keys("arq:job:*")

        await wait_for(lambda: reachable(settled), timeout=120, interval=0.2)
        ok, failed, missing = outcomes(r, "sf", N_JOBS)
        assert failed == 0 and ok + len(missing) == N_JOBS
        rerun = sum(int(c or 0) for c in r.mget([f"sf-count-{i}" for i in range(N_JOBS)])) - ok
        assert all(w.proc.poll() is None for w in workers)
        # the CLI finds the new master through Sentinel as well
        done_id = f"sf-{next(i for i in range(N_JOBS) if i not in missing)}"
        cli = subprocess.run([str(BIN / "goarq"), "--sentinel", f"127.0.0.1:{s.port}", "status", done_id],
                             capture_output=True, text=True, timeout=30)
        assert (cli.returncode, cli.stdout) == (0, "complete\n"), cli.stderr
        # replication is asynchronous: what the old master acknowledged in its
        # last moments may never have reached the replica; that is the bound
        print(f"\nsentinel failover: {N_JOBS} jobs, master killed, new master after {failover:.1f}s, "
              f"{ok} results, {len(missing)} enqueues lost to replication, {rerun} re-runs "
              f"(counters are replicated too), {produced['failed_attempts']} enqueue attempts retried")
        assert len(missing) <= N_JOBS // 20, missing[:20]
    finally:
        stop(producer, workers)
        s.stop()
