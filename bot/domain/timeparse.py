"""Durations and dates as members type them, read in the guild's timezone.

Pure functions: every feature (cooldowns, blocks, poll closes, comment periods) parses
through here so that ``2d``, ``6h30m`` and ``2026-12-01 18:00`` mean the same everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.errors import DomainError

_UNITS = {
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}
_UNIT_ALIASES = {
    "week": "w",
    "weeks": "w",
    "wk": "w",
    "day": "d",
    "days": "d",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "hrs": "h",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
}
_PART = re.compile(r"(\d+)\s*([a-z]+)")
#: The longest duration any feature accepts; longer values are almost always typos.
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """Parse ``2d``, ``6h30m``, ``1w 2d``, ``90m`` or ``3 days`` into a timedelta.

    Raises DomainError (code ``bad_duration``) naming the accepted forms.
    """
    raw = text.strip().lower()
    if not raw:
        raise DomainError("bad_duration", "Give a duration such as `2d`, `6h30m` or `90m`.")
    pos = 0
    total = 0
    seen: set[str] = set()
    for match in _PART.finditer(raw):
        if raw[pos : match.start()].strip(" ,"):
            break
        unit = _UNIT_ALIASES.get(match.group(2), match.group(2))
        if unit not in _UNITS or unit in seen:
            break
        seen.add(unit)
        total += int(match.group(1)) * _UNITS[unit]
        pos = match.end()
    else:
        if pos and not raw[pos:].strip():
            if total <= 0:
                raise DomainError("bad_duration", "A duration must be longer than zero.")
            value = timedelta(seconds=total)
            if value > maximum:
                raise DomainError(
                    "bad_duration",
                    f"`{text.strip()}` is longer than the maximum of {format_duration(maximum)}.",
                )
            return value
    raise DomainError(
        "bad_duration",
        f"`{text.strip()}` is not a duration. Use forms like `2d`, `6h30m`, `1w 2d` or `90m`.",
    )


def format_duration(value: timedelta) -> str:
    """Format a timedelta compactly (``1w 2d``, ``6h30m``); the inverse of parse_duration."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return " ".join(parts)


def get_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise DomainError (code ``bad_timezone``)."""
    try:
        if not name or name.strip() != name or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    # OSError: a folder name such as `America`, or a name too long for the filesystem.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise DomainError(
            "bad_timezone",
            f"`{name}` is not a timezone. Use an IANA name such as `Europe/Berlin` or `UTC`.",
        ) from None


_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_when(text: str, tz: tzinfo, *, now: datetime) -> datetime:
    """Parse a moment a member typed, read in the guild's timezone ``tz``.

    Accepts a duration from now (``2d``, ``in 6h``), a date (``2026-12-01``: midnight at the
    start of that day in ``tz``), a date and time (``2026-12-01 18:00``), or a time today
    (``18:00``; tomorrow when that time has passed). Returns an aware UTC datetime, which
    must lie in the future.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw = " ".join(text.strip().split())
    lowered = raw.lower()
    result: datetime | None = None
    if lowered.startswith("in "):
        result = now + parse_duration(lowered[3:])
    elif re.fullmatch(r"\d{1,2}:\d{2}", raw):
        hour, minute = (int(p) for p in raw.split(":"))
        if hour > 23 or minute > 59:
            raise DomainError("bad_date", f"`{raw}` is not a time of day.")
        local_now = now.astimezone(tz)
        candidate = datetime.combine(local_now.date(), time(hour, minute), tzinfo=tz)
        if candidate <= local_now:
            candidate = datetime.combine(
                local_now.date() + timedelta(days=1), time(hour, minute), tzinfo=tz
            )
        result = candidate
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise DomainError("bad_date", f"`{raw}` is not a date.") from None
        result = datetime.combine(day, time(0, 0), tzinfo=tz)
    elif re.match(r"\d{4}-\d{2}-\d{2}[ T]", raw):
        for fmt in _DATE_FORMATS:
            try:
                result = datetime.strptime(raw, fmt).replace(tzinfo=tz)
                break
            except ValueError:
                continue
        if result is None:
            raise DomainError("bad_date", f"`{raw}` is not a date and time (`YYYY-MM-DD HH:MM`).")
    elif raw and raw[0].isdigit():
        result = now + parse_duration(raw)
    if result is None:
        raise DomainError(
            "bad_date",
            f"`{raw}` is not a moment. Use `2026-12-01 18:00`, `2026-12-01`, `18:00` or `2d`.",
        )
    result = result.astimezone(UTC)
    if result <= now:
        raise DomainError("bad_date", f"`{raw}` is in the past.")
    return result
