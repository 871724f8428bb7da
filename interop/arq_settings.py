"""A WorkerSettings for `arq --check` against the test Redis."""
import os

from arq.connections import RedisSettings

from .pyfuncs import FUNCTIONS


class WorkerSettings:
    functions = FUNCTIONS
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379"))


class FaultWorkerSettings(WorkerSettings):
    """A Python worker for the kill -9 fleet: short timeouts so that the
    in-progress keys of a killed worker expire within seconds."""

    job_timeout = 1
    max_jobs = 10
    poll_delay = 0.02
