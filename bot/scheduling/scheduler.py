"""The one APScheduler of the process, configured so a stall never drops a job."""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler


def create_scheduler() -> AsyncIOScheduler:
    """An in-memory AsyncIOScheduler in UTC.

    ``misfire_grace_time=None``: APScheduler's 1-second default silently skips a one-shot
    job that fires late after any stall (a long GC, a busy loop); we always want it to run.
    ``coalesce`` folds a backlog of missed runs of the same job into one.
    """
    return AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
