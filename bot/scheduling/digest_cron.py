"""Fire times of digest schedules: APScheduler's ``CronTrigger`` in the guild's timezone.

The crontab is converted by :func:`bot.domain.digest.cron_fields` (weekday numbers differ
between crontab and APScheduler). Triggers are cached per (crontab, timezone), fire times
per (crontab, timezone, moment).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot.domain.digest import cron_fields
from bot.domain.timeparse import get_zone


@functools.lru_cache(maxsize=256)
def trigger(crontab: str, timezone: str) -> CronTrigger:
    return CronTrigger(timezone=get_zone(timezone), **cron_fields(crontab))


@functools.lru_cache(maxsize=4096)
def next_fire(crontab: str, timezone: str, moment: datetime) -> datetime | None:
    """The first fire time strictly after ``moment``, in UTC (None: never). Pure, and
    ≈ 0.4 ms of APScheduler each: cached, since every digest build of a period (preview,
    post, a publish retry) asks for the same dozen fire times."""
    # Cron has whole seconds: the first candidate is the next whole second.
    probe = moment.replace(microsecond=0) + timedelta(seconds=1)
    fire = trigger(crontab, timezone).get_next_fire_time(None, probe)
    return None if fire is None else fire.astimezone(UTC)
