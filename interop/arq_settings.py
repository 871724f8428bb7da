"""A WorkerSettings for `arq --check` against the test Redis."""
import os

from arq.connections import RedisSettings

from . import pyfuncs as _py
from .pyfuncs import FUNCTIONS


class WorkerSettings:
    functions = FUNCTIONS
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379"))


class FaultWorkerSettings:
    """A Python worker for the kill -9 fleet: short timeouts so that the
    in-progress keys of a killed worker expire within seconds. (arq reads
    only the class's own attributes: a subclass of WorkerSettings would
    start with no functions.)"""

    functions = FUNCTIONS
    redis_settings = WorkerSettings.redis_settings
    job_timeout = 1
    max_jobs = 10
    poll_delay = 0.02


class MigrateWorkerSettings:
    """A Python worker of the migration fleet: the six functions of
    interop/test_migrate.py, a health-check line every second. (arq reads
    only the class's own attributes, not inherited ones.)"""

    functions = [_py.count, _py.add, _py.echo, _py.work, _py.job_info, _py.sleep]
    redis_settings = WorkerSettings.redis_settings
    max_jobs = 10
    poll_delay = 0.02
    health_check_interval = 1


class MigrateWithoutCountSettings:
    """The same worker once `count` was removed from the Python code."""

    functions = [_py.add, _py.echo, _py.work, _py.job_info, _py.sleep]
    redis_settings = WorkerSettings.redis_settings
    max_jobs = 10
    poll_delay = 0.02
    health_check_interval = 1
