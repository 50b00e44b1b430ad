"""APScheduler wiring around one function, `run_due(now)`.

What is due lives in rows (`due_at`, `status`, leases); the scheduler only says "look now".
Each domain module lists its due jobs in `DUE_JOBS`; one failing job never stops the others.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable

from bot import clock
from bot.notify import Notifier
from bot.runtime import Runtime

log = logging.getLogger(__name__)

DueJob = Callable[[Runtime, Notifier, dt.datetime], int]
JOB_MODULES: tuple[str, ...] = (
    "bot.digest.scheduled",
    "bot.followup.scheduled",
    "bot.lifecycle.scheduled",
    "bot.cases.scheduled",
    "bot.recorders.scheduled",  # before capture: a transcript downloaded now is read this tick
    "bot.capture.scheduled",
    "bot.crm.scheduled",
    "bot.signals.scheduled",
    "bot.inbox.scheduled",  # clicks no wake-up carried out; what they queue goes out below
    "bot.outbox.scheduled",  # last: what the jobs above queued goes out in the same tick
)


def due_jobs() -> list[tuple[str, DueJob]]:
    jobs: list[tuple[str, DueJob]] = []
    for name in JOB_MODULES:
        jobs.extend(importlib.import_module(name).DUE_JOBS)
    return jobs


def run_due(rt: Runtime, notifier: Notifier, now: dt.datetime | None = None) -> dict[str, int]:
    """Do everything that is due at `now`; returns how many items each job handled."""
    now = clock.as_utc(now) if now else clock.now()
    done: dict[str, int] = {}
    for name, job in due_jobs():
        try:
            done[name] = job(rt, notifier, now)
        except Exception as exc:  # noqa: BLE001 — one job's failure never stops the others
            log.error(
                "due job %s failed (%s); it will run again on the next tick",
                name,
                type(exc).__name__,
            )
            log.debug("due job failure", exc_info=True)
            done[name] = -1
    return done


def start_scheduler(rt: Runtime, notifier: Notifier, *, blocking: bool):
    """Run `run_due` every SCHEDULER_INTERVAL_SECONDS; one run at a time per process."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone="UTC")
    scheduler.add_job(
        lambda: run_due(rt, notifier),
        "interval",
        seconds=rt.settings.scheduler_interval_seconds,
        id="run_due",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(dt.UTC),
    )
    scheduler.start()
    return scheduler
