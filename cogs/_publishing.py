"""What every feature's publisher shares: finding a post a crashed attempt already made.

A publication is a timer row that runs again after a crash or an outage (see
``bot.scheduling.timers``); before posting again, a retry reads the channel's recent
messages for one this bot posted that answers the same record, so each post appears once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import discord

from bot.domain.snowflake import time_snowflake

log = logging.getLogger(__name__)

#: Messages a retried publication reads to find what a crashed attempt posted.
LOOK_BACK = 100


async def find_own(
    bot: discord.Client,
    channel: discord.abc.Messageable,
    since: datetime,
    matches: Callable[[discord.Message], bool],
    *,
    after_id: int | None = None,
    look_back: int = LOOK_BACK,
) -> discord.Message | None:
    """A recent message of ``bot`` in ``channel`` posted since ``since`` (or after message
    ``after_id``, when what is looked for answers that message) that ``matches``."""
    me = bot.user
    if me is None:
        return None
    after = discord.Object(after_id or time_snowflake(since - timedelta(seconds=5)))
    try:
        async for message in channel.history(limit=look_back, after=after):
            if message.author.id == me.id and matches(message):
                return message
    except discord.HTTPException as exc:
        log.info("Could not look for an earlier post in %s: %s", channel, exc)
    return None
