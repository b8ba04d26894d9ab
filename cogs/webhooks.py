"""Outgoing webhooks' life in the bot: the outbox is read at start (events committed while
the bot was down are delivered), moderators hear of a webhook disabled after repeated
failures, and pending sends stop cleanly at shutdown. The commands are `/config webhook`
(cogs/admin.py); the deliveries are timer rows (bot/services/webhooks.py)."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.client import CocreateBot
from bot.scheduling.timers import Timer
from bot.services.webhooks import DISABLED_NOTE
from cogs._publishing import find_own

log = logging.getLogger(__name__)

#: The mod-log action a disabled webhook's note is filed under (as ``mod_log`` shows it).
DISABLED_ACTION = "webhook.disabled"


class Webhooks(commands.Cog):
    """Starts and stops the webhook deliveries."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.service = bot.services.webhooks
        self._start: asyncio.Task[int] | None = None

    async def cog_load(self) -> None:
        self.bot.services.timers.register(DISABLED_NOTE, self.publish_disabled_note)
        # Events committed before a crash and not yet turned into deliveries.
        self._start = asyncio.create_task(self.service.consume(), name="cocreate:webhooks-start")
        self._start.add_done_callback(_log_start_failure)

    async def cog_unload(self) -> None:
        if self._start is not None and not self._start.done():
            self._start.cancel()
        await self.service.close()

    async def publish_disabled_note(self, timer: Timer) -> None:
        """The :data:`DISABLED_NOTE` publication: the mod-log note, once. A Discord error
        (5xx, rate limit) raises, so the timer retries it; a retry first looks for the note
        an interrupted attempt may have posted. No mod-log channel: nothing to show (the
        durable record is the ``mod_actions`` row)."""
        me = self.bot.user
        config = await self.bot.services.guild_settings.get(timer.guild_id)
        channel_id = config.channel("modlog_channel")
        if me is None or channel_id is None:
            return
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        webhook_id = int(timer.payload["webhook_id"])
        headline = f"Webhook #{webhook_id} ("

        def is_note(message: discord.Message) -> bool:
            return any(
                DISABLED_ACTION in (e.author.name or "")
                and (e.description or "").startswith(headline)
                for e in message.embeds
            )

        if await find_own(self.bot, channel, timer.due_at, is_note):
            return
        embed = discord.Embed(
            description=(
                f"{headline}{timer.payload['url']}) was disabled after repeated failed "
                f"deliveries (last: {timer.payload['error']}). Check the receiver, then add "
                "it again with /config webhook add."
            )[:4000],
            colour=discord.Colour.dark_grey(),
        )
        embed.set_author(name=f"{me} · {DISABLED_ACTION}")
        try:
            await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except (discord.Forbidden, discord.NotFound) as exc:
            # Not something a retry fixes (the channel is gone or closed to the bot).
            log.warning("Could not post the note of disabled webhook %s: %s", webhook_id, exc)


def _log_start_failure(task: asyncio.Task[int]) -> None:
    """The start's outbox read failed (the next event reads it again): say so once, rather
    than leave asyncio to report an exception nobody retrieved."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("Reading the outbox for webhooks at start failed: %r", exc)


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Webhooks(bot))
