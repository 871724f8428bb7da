"""The app's arq WorkerSettings. Importing it connects to nothing."""
from __future__ import annotations

import os

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from . import jobs


class WorkerSettings:
    functions = [jobs.send_welcome_email, func(jobs.place_order, timeout=60, max_tries=3), jobs.ship_to, jobs.tag_items]
    cron_jobs = [cron(jobs.nightly_report, hour=3, minute=0)]
    queue_name = "contract:queue"
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://localhost:6379"))
    burst = True
    poll_delay = 0.02
