"""Discord snowflakes and time: an id's upper bits are the milliseconds since 2015.

Pure (no discord import): the services compare when messages were *posted* (the cooldown),
and start a channel's catch-up cursor at the moment it became watched.
"""

from __future__ import annotations

from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time(snowflake: int) -> datetime:
    """When the object with id ``snowflake`` was created (UTC)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def time_snowflake(moment: datetime) -> int:
    """The smallest snowflake of ``moment``: every message posted later has a larger id."""
    ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
    return max(ms, 0) << 22
