"""`goarq doctor` against real redis-servers set up to show each finding:
an eviction policy, persistence off, a user without client tracking, a
user whose ACL lacks a role's commands, records in another serializer,
a stuck in-progress job with no live worker, an orphan retry counter,
jobs of a function no OnlyOwnFunctions worker has, and an old ready job.
Each is checked with its opposite (the same Redis, fixed), so a check that
always fires, or never does, fails. (The clock-skew check is tested in Go,
doctor/doctor_test.go, with a shifted host clock against Redis's TIME: a
real server cannot be given a wrong clock here.)"""
import json
import subprocess
import time

import redis
from arq.connections import RedisSettings, create_pool

from .conftest import BIN, SERIALIZERS, free_port, wait_for
from .test_faults import RedisServer
from .test_go_worker import GoWorker

QUEUE = "arq:queue"
DURABLE = ("--appendonly", "yes")  # a server doctor finds nothing wrong with


def doctor(url, *args):
    p = subprocess.run([str(BIN / "goarq"), "--redis", url, "doctor", "--json", *args], capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, (p.returncode, p.stdout, p.stderr)
    return p.returncode, json.loads(lines[-1])


def find(report, check, queue=None):
    return [f for f in report["findings"] if f["check"] == check and (queue is None or f.get("queue") == queue)]


def only(report, check, queue=None):
    fs = find(report, check, queue)
    assert len(fs) == 1, (check, report)
    return fs[0]


def problems(report):
    return [f for f in report["findings"] if f["severity"] == "problem"]


async def pool_for(url, serializer="pickle"):
    ser, deser = SERIALIZERS[serializer]
    return await create_pool(RedisSettings.from_dsn(url), job_serializer=ser, job_deserializer=deser)


def test_a_durable_noeviction_redis_has_no_problem():
    srv = RedisServer(*DURABLE)
    try:
        code, rep = doctor(srv.url)
        assert code == 0 and rep["ok"] and rep["problems"] == 0 and rep["warnings"] == 0, rep
        assert only(rep, "version")["message"].startswith("Redis 7.")
        assert only(rep, "push-wakeup")["severity"] == "ok"
        assert "may act as worker, producer, dashboard, dashboard-read-only, exporter" in only(rep, "acl")["message"]
        text = subprocess.run([str(BIN / "goarq"), "--redis", srv.url, "doctor"], capture_output=True, text=True, timeout=60)
        assert text.returncode == 0 and "0 problem(s), 0 warning(s)" in text.stdout, text.stdout
    finally:
        srv.stop()


def test_eviction_policy_is_a_problem():
    for policy in ("allkeys-lru", "volatile-ttl"):
        srv = RedisServer(*DURABLE, "--maxmemory-policy", policy)
        try:
            code, rep = doctor(srv.url)
            f = only(rep, "eviction")
            assert code == 1 and f["severity"] == "problem" and policy in f["message"], rep
            assert "noeviction" in f["fix"]
            text = subprocess.run([str(BIN / "goarq"), "--redis", srv.url, "doctor"], capture_output=True, text=True, timeout=60)
            assert text.returncode == 1 and "PROBLEM  eviction" in text.stdout and "fix: CONFIG SET maxmemory-policy noeviction" in text.stdout, text.stdout
            assert "doctor found 1 problem" in text.stderr
        finally:
            srv.stop()


def test_persistence_off_is_a_problem_and_snapshots_only_a_warning():
    srv = RedisServer()  # save "" and appendonly no
    try:
        code, rep = doctor(srv.url)
        f = only(rep, "persistence")
        assert code == 1 and f["severity"] == "problem" and "lost when Redis restarts" in f["message"], rep
        redis.Redis.from_url(srv.url).config_set("save", "60 1000")
        code, rep = doctor(srv.url)
        f = only(rep, "persistence")
        assert code == 0 and f["severity"] == "warning" and "RDB snapshots only" in f["message"], rep
    finally:
        srv.stop()


def test_push_wakeup_unavailable_to_a_user_says_why():
    srv = RedisServer(*DURABLE)
    try:
        admin = redis.Redis.from_url(srv.url)
        admin.execute_command("ACL", "SETUSER", "noclient", "on", ">pw", "~*", "&*", "+@all", "-client")
        code, rep = doctor(f"redis://noclient:pw@127.0.0.1:{srv.port}/0")
        f = only(rep, "push-wakeup")
        assert f["severity"] == "warning" and "NOPERM" in f["message"] and "client" in f["message"], f
        assert "goarq acl --role worker" in f["fix"]
        # the same user checked against the roles (it may run ACL DRYRUN)
        worker = [f for f in find(rep, "acl") if "may not act as worker" in f["message"]]
        assert len(worker) == 1 and worker[0]["severity"] == "info" and "CLIENT ID (RDB.Watch" in worker[0]["message"], rep
        assert code == 0, rep
        # a user that may not run ACL DRYRUN: said, not failed
        admin.execute_command("ACL", "SETUSER", "nodryrun", "on", ">pw", "~*", "&*", "+@all", "-acl")
        code, rep = doctor(f"redis://nodryrun:pw@127.0.0.1:{srv.port}/0")
        assert "cannot check the ACL" in only(rep, "acl")["message"] and code == 0, rep
    finally:
        srv.stop()


def test_acl_of_another_user_checked_per_role():
    srv = RedisServer(*DURABLE)
    try:
        rule = subprocess.run([str(BIN / "goarq"), "acl", "--role", "producer", "--queue", QUEUE, "--user", "prod", "--password", "pw"],
                              capture_output=True, text=True, timeout=30).stdout.split()
        redis.Redis.from_url(srv.url).execute_command(*rule)
        code, rep = doctor(srv.url, "--acl-user", "prod", "--role", "producer")
        assert code == 0, rep
        assert any(f["severity"] == "ok" and "prod may act as producer" == f["message"] for f in find(rep, "acl")), rep
        worker = [f for f in find(rep, "acl") if "may not act as worker" in f["message"]]
        assert len(worker) == 1 and worker[0]["severity"] == "info", rep
        code, rep = doctor(srv.url, "--acl-user", "prod", "--role", "worker")
        worker = [f for f in find(rep, "acl") if "may not act as worker" in f["message"]]
        assert code == 1 and worker[0]["severity"] == "problem", rep
        # what is refused, and where goarq sends it
        assert "PSETEX arq:queue:health-check" in worker[0]["message"] and "RDB.WriteHealth" in worker[0]["message"], worker
        assert "goarq acl --role worker" in worker[0]["fix"]
        p = subprocess.run([str(BIN / "goarq"), "--redis", srv.url, "doctor", "--role", "admin"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and "unknown role" in p.stderr
    finally:
        srv.stop()


async def test_records_in_another_serializer_are_a_problem():
    srv = RedisServer(*DURABLE)
    try:
        pool = await pool_for(srv.url, "json")
        ids = [(await pool.enqueue_job("add", i, 1)).job_id for i in range(3)]
        await pool.aclose()
        code, rep = doctor(srv.url)  # pickle
        f = only(rep, "serializer", QUEUE)
        assert code == 1 and f["severity"] == "problem", rep
        assert "3 of 3 sampled jobs" in f["message"] and "3 look like json" in f["message"] and sorted(f["job_ids"]) == sorted(ids), f
        code, rep = doctor(srv.url, "--serializer", "json")
        assert only(rep, "serializer", QUEUE)["severity"] == "ok" and not find(rep, "serializer", "") and not problems(rep), rep
    finally:
        srv.stop()


async def test_stuck_in_progress_job_without_a_live_worker():
    """A job marked in progress (as a worker does when it starts one) and
    due 10 minutes ago, with no worker alive: stuck. The same job with a
    live goarq worker (heartbeat) or a fresh health-check line: not."""
    srv = RedisServer(*DURABLE)
    try:
        admin = redis.Redis.from_url(srv.url, decode_responses=True)
        pool = await pool_for(srv.url)
        job = await pool.enqueue_job("sleep", 1)
        await pool.aclose()
        admin.zadd(QUEUE, {job.job_id: int(time.time() * 1000) - 600_000}, xx=True)
        admin.psetex(f"arq:in-progress:{job.job_id}", 310_000, b"1")
        code, rep = doctor(srv.url)
        f = only(rep, "stuck-in-progress", QUEUE)
        assert code == 1 and f["severity"] == "problem" and f["job_ids"] == [job.job_id], rep
        assert "no worker is alive" in f["message"] and "arq#343" in f["message"], f
        # running, not waiting: the oldest-ready check leaves it out
        assert only(rep, "oldest-ready", QUEUE)["severity"] == "ok", rep
        # with a shorter timeout than its age it is stuck, with a longer not
        code, rep = doctor(srv.url, "--job-timeout", "20m")
        assert only(rep, "stuck-in-progress", QUEUE)["severity"] == "ok", rep

        admin.psetex(f"{QUEUE}:health-check", 60_000, "Dec-04 12:00:00 j_complete=0 j_failed=0 j_retried=0 j_ongoing=1 queued=1")
        code, rep = doctor(srv.url)
        assert only(rep, "stuck-in-progress", QUEUE)["severity"] == "ok" and code == 0, rep
        admin.delete(f"{QUEUE}:health-check")

        w = GoWorker("--health-check-interval", "1h", redis_url=srv.url)
        try:
            await wait_for(lambda: admin.keys(f"goarq:worker:{QUEUE}:*"), timeout=15)
            admin.delete(f"{QUEUE}:health-check")  # the heartbeat alone
            code, rep = doctor(srv.url)
            assert only(rep, "stuck-in-progress", QUEUE)["severity"] == "ok", rep
            assert "1 live goarq worker" in only(rep, "workers", QUEUE)["message"]
        finally:
            w.kill()

        admin.persist(f"arq:in-progress:{job.job_id}")
        code, rep = doctor(srv.url)
        f = only(rep, "stuck-in-progress", QUEUE)
        assert f["severity"] == "problem" and "without a TTL" in f["message"], rep
    finally:
        srv.stop()


async def test_orphan_retry_counter_is_a_warning():
    srv = RedisServer(*DURABLE)
    try:
        admin = redis.Redis.from_url(srv.url)
        pool = await pool_for(srv.url)
        job = await pool.enqueue_job("add", 1, 2)
        await pool.aclose()
        admin.setex(f"arq:retry:{job.job_id}", 88400, 1)  # a live job's counter
        code, rep = doctor(srv.url)
        assert only(rep, "orphan-retry-keys")["severity"] == "ok", rep
        admin.setex("arq:retry:gone", 88400, 3)
        code, rep = doctor(srv.url)
        f = only(rep, "orphan-retry-keys")
        assert code == 0 and f["severity"] == "warning" and f["job_ids"] == ["gone"] and "DEL arq:retry:" in f["fix"], rep
    finally:
        srv.stop()


async def test_jobs_no_own_functions_worker_has():
    srv = RedisServer(*DURABLE)
    try:
        admin = redis.Redis.from_url(srv.url)
        w = GoWorker("--only-own-functions", "--functions", "noop", redis_url=srv.url)
        try:
            await wait_for(lambda: admin.keys(f"goarq:worker:{QUEUE}:*"), timeout=15)
            pool = await pool_for(srv.url)
            stranded = await pool.enqueue_job("add", 1, 2)
            served = await pool.enqueue_job("noop")
            await served.result(timeout=10, poll_delay=0.05)
            await pool.aclose()
            code, rep = doctor(srv.url)
            f = only(rep, "unserved-functions", QUEUE)
            assert code == 1 and f["severity"] == "problem" and "add (1)" in f["message"] and f["job_ids"] == [stranded.job_id], rep
        finally:
            w.kill()
        # a worker that claims everything: no such finding
        w = GoWorker("--functions", "noop", redis_url=srv.url)
        try:
            await wait_for(lambda: len(admin.keys(f"goarq:worker:{QUEUE}:*")) >= 1 and "Starting worker" in w.output, timeout=15)
            admin.delete(*admin.keys(f"goarq:worker:{QUEUE}:*"))  # the killed worker's record, left to expire
            await wait_for(lambda: admin.keys(f"goarq:worker:{QUEUE}:*"), timeout=15)
            code, rep = doctor(srv.url)
            assert not find(rep, "unserved-functions"), rep
        finally:
            w.kill()
    finally:
        srv.stop()


async def test_oldest_ready_job_age():
    srv = RedisServer(*DURABLE)
    try:
        admin = redis.Redis.from_url(srv.url)
        code, rep = doctor(srv.url)
        assert "no ready job waits" in only(rep, "oldest-ready", QUEUE)["message"]
        pool = await pool_for(srv.url)
        job = await pool.enqueue_job("add", 1, 2)
        await pool.aclose()
        admin.zadd(QUEUE, {job.job_id: int(time.time() * 1000) - 600_000}, xx=True)
        code, rep = doctor(srv.url)
        f = only(rep, "oldest-ready", QUEUE)
        assert code == 1 and f["severity"] == "problem" and f["job_ids"] == [job.job_id], rep
        assert "has waited 10m" in f["message"] and "none is alive" in f["fix"], f
        code, rep = doctor(srv.url, "--max-ready-age", "1h")
        assert code == 0 and only(rep, "oldest-ready", QUEUE)["severity"] == "ok", rep
    finally:
        srv.stop()


def test_several_queues_and_an_unreachable_redis():
    srv = RedisServer(*DURABLE)
    try:
        code, rep = doctor(srv.url, "--queue", "a", "--queue", "b")
        assert {f["queue"] for f in find(rep, "oldest-ready")} == {"a", "b"}, rep
    finally:
        srv.stop()
    p = subprocess.run([str(BIN / "goarq"), "--redis", f"redis://127.0.0.1:{free_port()}/0", "doctor"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 4 and "cannot connect" in p.stderr, p.stderr
