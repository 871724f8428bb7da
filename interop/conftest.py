import asyncio
import json
import os
import socket
import subprocess
from pathlib import Path

import msgpack
import pytest
from arq.connections import RedisSettings, create_pool

BIN = Path(os.environ.get("GOARQ_BIN", Path(__file__).parent / "bin"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

SERIALIZERS = {
    "pickle": (None, None),
    "json": (lambda d: json.dumps(d).encode(), json.loads),
    "msgpack": (msgpack.packb, lambda b: msgpack.unpackb(b, raw=False)),
}


@pytest.fixture
def redis_url():
    return REDIS_URL


@pytest.fixture
def redis_settings():
    return RedisSettings.from_dsn(REDIS_URL)


@pytest.fixture(params=list(SERIALIZERS))
def serializer(request):
    return request.param


async def make_pool(serializer="pickle", **kw):
    ser, deser = SERIALIZERS[serializer]
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), job_serializer=ser, job_deserializer=deser, **kw)
    return pool


@pytest.fixture
async def pool(serializer):
    """A flushed pool using the test's serializer."""
    p = await make_pool(serializer)
    await p.flushdb()
    yield p
    await p.aclose()


@pytest.fixture
async def arq_redis():
    pool = await make_pool()
    await pool.flushdb()
    yield pool
    await pool.aclose()


def go(command, *args, serializer="pickle", check=True, timeout=60, binary="goclient"):
    """Run a Go fixture subcommand and return its JSON output."""
    cmd = [str(BIN / binary), command, "--redis", REDIS_URL, "--serializer", serializer, *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"returncode": p.returncode, "stderr": p.stderr}


async def ago(command, *args, **kw):
    """go() without blocking the event loop (a Python worker may be running)."""
    return await asyncio.to_thread(go, command, *args, **kw)


async def wait_for(predicate, timeout=10.0, interval=0.02):
    """Await a condition instead of sleeping for a guessed time."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        r = predicate()
        if asyncio.iscoroutine(r):
            r = await r
        if r:
            return r
        if loop.time() > end:
            raise AssertionError("condition not met within %.1fs" % timeout)
        await asyncio.sleep(interval)


def free_port():
    """A TCP port on the loopback address that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
