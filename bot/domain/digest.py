"""Digest rules: schedules, periods, missed runs and the report's metrics. Pure.

**Schedules** are crontab expressions in the guild's timezone; ``daily``, ``weekly`` and
``monthly`` are names for ``0 9 * * *``, ``0 9 * * 1`` and ``0 9 1 * *``. APScheduler 3
numbers weekdays from Monday = 0 while crontab counts from Sunday = 0, so a crontab's
weekday field is converted to weekday *names* (:func:`cron_fields`), which both agree on.

**Periods.** A scheduled digest fired at ``F`` covers ``[previous fire, F)``; the fire
times come from a :class:`FireTimes` (APScheduler's ``CronTrigger`` in the guild's
timezone, ``bot/scheduling/digest_cron.py``), so a weekly period across a DST change is
167 or 169 hours and always starts and ends at 09:00 local time.

**Downtime.** When several fire times passed while the bot was down, the latest period is
posted once, marked late, and the older ones are recorded as skipped
(:func:`missed_runs`).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.digest_model import IdeaTimes, Period
from bot.domain.errors import DomainError

PRESETS: dict[str, str] = {
    "daily": "0 9 * * *",
    "weekly": "0 9 * * 1",
    "monthly": "0 9 1 * *",
}
DEFAULT_SCHEDULE = "weekly"
#: A scheduled digest posted this long after its fire time is marked late.
LATE_AFTER = timedelta(minutes=15)
#: Periods the chart shows.
CHART_PERIODS = 12
#: At most this many skipped periods are recorded after a long downtime.
MAX_SKIPPED = 500
TRAILING = timedelta(days=365)

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}


class ScheduleError(DomainError):
    """A schedule a moderator typed that cannot be used."""

    def __init__(self, message: str) -> None:
        super().__init__("digest_schedule", message)


class FireTimes(Protocol):
    """When a schedule fires: the next fire strictly after ``moment`` (None: never)."""

    def __call__(self, crontab: str, timezone: str, moment: datetime) -> datetime | None: ...


def normalise_schedule(text: str) -> str:
    """``daily``/``weekly``/``monthly`` or a 5-field crontab, checked; returns the stored
    form (a preset's name, or the crontab with single spaces)."""
    value = " ".join(text.strip().lower().split())
    if value in PRESETS:
        return value
    cron_fields(value)  # raises ScheduleError
    return value


def crontab_of(schedule: str) -> str:
    return PRESETS.get(schedule, schedule)


def cron_fields(expression: str) -> dict[str, str]:
    """A crontab expression as APScheduler ``CronTrigger`` keyword arguments.

    ``0 9 * * 1`` → ``{"minute": "0", "hour": "9", "day": "*", "month": "*",
    "day_of_week": "mon"}``. Raises :class:`ScheduleError` on anything else, including a
    day-of-month *and* a weekday both restricted (crontab fires when either matches,
    APScheduler only when both do: refused rather than silently different).
    """
    parts = crontab_of(expression.strip().lower()).split()
    if len(parts) != 5:
        raise ScheduleError(
            "A schedule is daily, weekly, monthly or a crontab of 5 fields "
            "(minute hour day month weekday), e.g. `0 9 * * 1` for Mondays at 09:00."
        )
    out = dict(zip(_FIELDS, parts, strict=True))
    for name, (low, high) in _BOUNDS.items():
        _expand(out[name], low, high, name)  # validates
    out["day_of_week"] = convert_weekdays(out["day_of_week"])
    if out["day"] != "*" and out["day_of_week"] != "*":
        raise ScheduleError(
            "Restrict either the day of the month or the weekday, not both "
            "(crontab would fire on either; that is rarely what a report wants)."
        )
    return out


def convert_weekdays(field: str) -> str:
    """Crontab's weekday field (Sunday = 0 or 7, names allowed) as APScheduler weekday
    names: ``1`` → ``mon``, ``0,6`` → ``sat,sun``, ``1-5`` → ``mon,tue,wed,thu,fri``."""
    if field == "*":
        return "*"
    days = sorted(_expand(field, 0, 7, "weekday", names=_DAY_NAMES), key=lambda d: (d - 1) % 7)
    unique = list(dict.fromkeys(d % 7 for d in days))
    if len(unique) == 7:
        return "*"
    return ",".join(_DAY_NAMES[d] for d in unique)


def _expand(field: str, low: int, high: int, what: str, names: Sequence[str] = ()) -> set[int]:
    def number(token: str) -> int:
        if token in names:
            return names.index(token)
        if not token.isdigit():
            raise ScheduleError(f"`{token}` is not a valid {what} in a crontab.")
        value = int(token)
        if not low <= value <= high:
            raise ScheduleError(f"The {what} `{value}` is outside {low}-{high}.")
        return value

    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"`{part}` has an invalid step.")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = number(a), number(b)
            if first > last:
                raise ScheduleError(f"`{base}` is an empty range.")
        else:
            first = last = number(base)
            if step_text:
                last = high
        values.update(range(first, last + 1, step))
    return values


def schedule_label(schedule: str, timezone: str) -> str:
    names = {
        "daily": "Daily at 09:00",
        "weekly": "Weekly, Mondays at 09:00",
        "monthly": "Monthly, on the 1st at 09:00",
    }
    return f"{names.get(schedule, f'`{schedule}`')} ({timezone})"


# -- periods -------------------------------------------------------------------------------
def previous_fire(
    fires: FireTimes, crontab: str, timezone: str, moment: datetime
) -> datetime | None:
    """The latest fire time strictly before ``moment`` (None: none within ~5 years)."""
    for back in (
        timedelta(hours=1),
        timedelta(days=1, hours=2),
        timedelta(days=8),
        timedelta(days=32),
        timedelta(days=367),
        timedelta(days=5 * 366),
    ):
        found = None
        cursor = fires(crontab, timezone, moment - back)
        while cursor is not None and cursor < moment:
            found = cursor
            cursor = fires(crontab, timezone, cursor)
        if found is not None:
            return found
    return None


def period_ending(fires: FireTimes, crontab: str, timezone: str, fire: datetime) -> Period:
    """The period a digest fired at ``fire`` covers: from the previous fire to ``fire``."""
    start = previous_fire(fires, crontab, timezone, fire) or fire - timedelta(days=7)
    return Period(start, fire)


def current_period(fires: FireTimes, crontab: str, timezone: str, now: datetime) -> Period:
    """The period so far (``/digest preview``, ``/digest now``): last fire → now."""
    start = previous_fire(fires, crontab, timezone, now) or now - timedelta(days=7)
    return Period(start, now)


def previous_periods(
    fires: FireTimes, crontab: str, timezone: str, period: Period, count: int
) -> list[Period]:
    """``count`` periods ending with ``period``, oldest first (the chart's periods).

    Fire times are collected going forward from far enough back: each costs a cron
    computation (≈ 0.4 ms in APScheduler), and stepping back one period at a time with
    :func:`previous_fire` cost three or four of them per period (17 ms a digest)."""
    if count <= 1:
        return [period]
    back = max(period.end - period.start, timedelta(hours=1)) * (count + 1)
    found: list[datetime] = []
    while True:
        found = []
        cursor = fires(crontab, timezone, period.start - back)
        while cursor is not None and cursor < period.start:
            found.append(cursor)
            cursor = fires(crontab, timezone, cursor)
        if len(found) >= count - 1 or back > timedelta(days=5 * 366):
            break
        back *= 2
    starts = [*found[-(count - 1) :], period.start]
    return [Period(a, b) for a, b in itertools.pairwise(starts)] + [period]


@dataclass(frozen=True, slots=True)
class Missed:
    """What a due timer does: post ``post`` (late or not); record ``skipped`` as skipped."""

    post: datetime
    late: bool
    skipped: tuple[datetime, ...]
    next_fire: datetime | None


def missed_runs(
    fires: FireTimes, crontab: str, timezone: str, armed_for: datetime, now: datetime
) -> Missed:
    """Fire times from ``armed_for`` (the one the timer was set for) up to ``now``: the
    latest is posted (late when ``now`` is past it by more than :data:`LATE_AFTER`, or when
    older ones were missed), the older ones are skipped."""
    due = [armed_for]
    cursor = fires(crontab, timezone, armed_for)
    while cursor is not None and cursor <= now:
        due.append(cursor)
        cursor = fires(crontab, timezone, cursor)
    latest = due[-1]
    skipped = tuple(due[:-1][-MAX_SKIPPED:])
    late = bool(skipped) or now - latest > LATE_AFTER
    return Missed(latest, late, skipped, cursor)


# -- metrics -------------------------------------------------------------------------------
def change(current: int, previous: int) -> str:
    """``12 (+3)``, ``4 (−2)``, ``5 (=)``."""
    delta = current - previous
    if delta == 0:
        return f"{current:,} (=)"
    sign = "+" if delta > 0 else "−"
    return f"{current:,} ({sign}{abs(delta):,})"


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` (None when there is nothing to divide)."""
    return None if whole <= 0 else part / whole


def implementation_rate(implemented: int, submitted: int) -> float | None:
    """Ideas implemented ÷ ideas submitted (IdeaStorm's 2.9% is this number)."""
    return rate(implemented, submitted)


def response_rate(times: Iterable[IdeaTimes], target: timedelta) -> float | None:
    """Share of ideas answered within ``target``, among those whose target has passed or
    that were answered (an idea still inside its target is not counted yet)."""
    limit = target.total_seconds()
    answered = counted = 0
    for t in times:
        if t.to_response is not None and t.to_response <= limit:
            answered += 1
            counted += 1
        elif t.to_response is not None or t.age >= limit:
            counted += 1
    return rate(answered, counted)


def median_seconds(values: Iterable[float | None]) -> float | None:
    """Median of the known values (None when there are none)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def format_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def format_span(seconds: float | None) -> str:
    """``3d 4h``, ``5h 12m``, ``40m``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def movers(gains: Iterable[tuple[int, int]], limit: int = 5) -> list[tuple[int, int]]:
    """Ideas by votes gained in the period, most first (ties: lower idea number first);
    ideas that gained nothing are left out. ``gains`` is (idea number, votes gained)."""
    ranked = sorted((g for g in gains if g[1] > 0), key=lambda g: (-g[1], g[0]))
    return ranked[:limit]


def bucket(moments: Iterable[datetime], periods: Sequence[Period]) -> list[int]:
    """How many of ``moments`` fall in each period."""
    counts = [0] * len(periods)
    for moment in moments:
        for i, p in enumerate(periods):
            if p.start <= moment < p.end:
                counts[i] += 1
                break
    return counts


def period_label(period: Period, zone: Callable[[datetime], datetime]) -> str:
    """``3 Mar – 10 Mar 2025`` in the guild's timezone (``zone`` converts)."""
    start, end = zone(period.start), zone(period.end)
    if start.year == end.year:
        return f"{start:%-d %b} – {end:%-d %b %Y}"
    return f"{start:%-d %b %Y} – {end:%-d %b %Y}"
