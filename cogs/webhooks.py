"""Outgoing webhooks' life in the bot: the outbox is read at start (events committed while
the bot was down are delivered), moderators hear of a webhook disabled after repeated
failures, and pending sends stop cleanly at shutdown. The commands are `/config webhook`
(cogs/admin.py); the deliveries are timer rows (bot/services/webhooks.py)."""

from __future__ import annotations

import asyncio
import logging

from discord.ext import commands

from bot.client import CocreateBot
from bot.storage.webhooks import Webhook
from cogs._common import mod_log

log = logging.getLogger(__name__)


class Webhooks(commands.Cog):
    """Starts and stops the webhook deliveries."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.service = bot.services.webhooks
        self._start: asyncio.Task[int] | None = None

    async def cog_load(self) -> None:
        self.service.on_disabled.append(self._disabled)
        # Events committed before a crash and not yet turned into deliveries.
        self._start = asyncio.create_task(self.service.consume(), name="cocreate:webhooks-start")

    async def cog_unload(self) -> None:
        if self._disabled in self.service.on_disabled:
            self.service.on_disabled.remove(self._disabled)
        if self._start is not None and not self._start.done():
            self._start.cancel()
        await self.service.close()

    async def _disabled(self, hook: Webhook, error: str) -> None:
        me = self.bot.user
        if me is None:
            return
        await mod_log(
            self.bot,
            hook.guild_id,
            me,
            "webhook.disabled",
            f"Webhook #{hook.id} ({hook.url}) was disabled after repeated failed deliveries "
            f"(last: {error}). Check the receiver, then add it again with /config webhook add.",
        )


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Webhooks(bot))
