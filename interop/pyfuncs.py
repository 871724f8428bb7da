"""Job functions the Python arq workers of the interop suite run."""
import asyncio
import importlib
import contextlib
import dataclasses
import enum

from arq import Retry
from arq.worker import Worker, func

from .conftest import SERIALIZERS


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class CustomError(Exception):
    pass


async def echo(ctx, *args, **kwargs):
    return args, kwargs


async def add(ctx, a, b):
    return a + b


async def fail(ctx, message="boom"):
    raise ValueError(message)


async def fail_custom(ctx, *args):
    raise CustomError(*args)


async def fail_as(ctx, module, name, message):
    raise getattr(importlib.import_module(module), name)(message)


async def sleep(ctx, seconds):
    await asyncio.sleep(seconds)
    return seconds


async def job_info(ctx):
    return {"job_id": ctx["job_id"], "job_try": ctx["job_try"], "enqueue_time": ctx["enqueue_time"], "score": ctx["score"]}


async def retry(ctx, times, defer_seconds):
    if ctx["job_try"] <= times:
        raise Retry(defer=defer_seconds)
    return ctx["job_try"]


async def count(ctx, key):
    return await ctx["redis"].incr(key)


async def work(ctx, key, seconds):
    n = await ctx["redis"].incr(key)
    await asyncio.sleep(seconds)
    return n


FUNCTIONS = [echo, add, fail, fail_as, fail_custom, sleep, job_info, retry, count, work, func(sleep, name="short_sleep", timeout=0.2)]


def make_worker(pool, serializer="pickle", **kw):
    ser, deser = SERIALIZERS[serializer]
    opts = dict(functions=FUNCTIONS, redis_pool=pool, burst=True, poll_delay=0.02, handle_signals=False,
                job_serializer=ser, job_deserializer=deser)
    opts.update(kw)
    return Worker(**opts)


@contextlib.asynccontextmanager
async def running_worker(pool, serializer="pickle", **kw):
    """A non-burst Python worker running in the background for the block."""
    worker = make_worker(pool, serializer, burst=False, **kw)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


async def run_burst(pool, serializer="pickle", **kw):
    """Run a Python burst worker on its own connection pool (arq's Worker.close
    closes the pool it was given, so workers must not share one)."""
    from .conftest import make_pool

    w = make_worker(await make_pool(serializer), serializer, **kw)
    try:
        await w.async_run()
    finally:
        await w.close()
    return w
