"""A WorkerSettings for `arq --check` against the test Redis."""
import os

from arq.connections import RedisSettings

from .pyfuncs import FUNCTIONS


class WorkerSettings:
    functions = FUNCTIONS
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379"))
