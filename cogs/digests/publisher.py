"""Digests in Discord, published from the store: a run's parts (embeds and the chart),
its draft for annotation, and the draft's auto-publish. Each is a timer row written with
the run; a retry first looks for the parts a crashed attempt posted (by their footer)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot import faults
from bot.client import CocreateBot
from bot.domain.digest_model import Digest, DigestRun, RunStatus
from bot.render import digests as render
from bot.scheduling.timers import FinishUnit, Timer
from cogs._publishing import find_own

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


async def chart_file(digest: Digest) -> discord.File | None:
    """The activity chart, drawn in the chart worker process (the loop never waits)."""
    if not digest.chart:
        return None
    from bot.render import digest_chart

    png = await digest_chart.render(digest.chart, "Activity and ideas by status")
    import io

    return discord.File(io.BytesIO(png), filename=render.CHART_NAME)


class DigestPublisher:
    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def on_due(self, timer: Timer) -> FinishUnit | None:
        finish = await self.services.digests.run_due(timer.guild_id, timer.payload)
        # The publication rows this writes are due now: the timer service runs them next.
        return finish

    async def publish(self, timer: Timer) -> FinishUnit | None:
        """Post a run's parts in its channel; each part recorded as posted in the payload,
        so a retry repeats none; the run is recorded published with the last commit."""
        digests = self.services.digests
        run = await digests.get_run(int(timer.payload["run_id"]))
        if run is None or run.status in (RunStatus.PUBLISHED, RunStatus.SKIPPED):
            return None
        channel = self._channel(run.channel_id)
        if channel is None:
            log.warning("Digest run %s has no channel to post in", run.id)
            return None
        # The run and this publication are committed; nothing is in Discord yet.
        await faults.reached("digests.after-run-commit")
        digest = await digests.build_run(run)
        ids: list[int] = timer.payload.setdefault("ids", [])
        await self._post(channel, run, digest, ids, timer, look_first=not timer.first_try)
        return digests.published_recorder(run.id, channel.id, ids)

    async def _post(
        self,
        channel: discord.TextChannel,
        run: DigestRun,
        digest: Digest,
        ids: list[int],
        timer: Timer,
        *,
        look_first: bool,
    ) -> None:
        messages = render.digest_messages(digest, run.id)
        for index, embeds in enumerate(messages):
            if index < len(ids):
                continue  # posted and recorded by an earlier attempt
            footer = embeds[-1].footer.text or ""
            found = await self._find_own(channel, run, footer) if look_first else None
            if found is None:
                last = index == len(messages) - 1
                file = await chart_file(digest) if last else None
                if file is not None:
                    embeds[-1].set_image(url=f"attachment://{render.CHART_NAME}")
                    found = await channel.send(
                        embeds=embeds, file=file, allowed_mentions=NO_MENTIONS
                    )
                else:
                    found = await channel.send(embeds=embeds, allowed_mentions=NO_MENTIONS)
                # Posted, not yet recorded: a retry must find it, not post it again.
                await faults.reached("digests.after-part-post")
            ids.append(found.id)
            await self.services.timers.save_progress(timer)

    async def _find_own(
        self, channel: discord.TextChannel, run: DigestRun, footer: str
    ) -> discord.Message | None:
        return await find_own(
            self.bot,
            channel,
            run.created_at,
            lambda m: any((e.footer.text or "") == footer for e in m.embeds),
        )

    async def draft(self, timer: Timer) -> FinishUnit | None:
        """Annotate before publish: the draft in the staff channel with its buttons."""
        from cogs.digests.ui import draft_view

        digests = self.services.digests
        run = await digests.get_run(int(timer.payload["run_id"]))
        if run is None or run.status is not RunStatus.DRAFT or run.draft_message_id:
            return None
        config = await self.services.guild_settings.get(run.guild_id)
        channel = self._channel(config.channel("staff_channel") or run.channel_id)
        if channel is None:
            return None
        digest = await digests.build_run(run)
        embeds = render.digest_messages(digest, None)[0]
        footer = f"Cocreate digest draft {run.id}"
        embeds[-1].set_footer(text=footer)
        found = None if timer.first_try else await self._find_own(channel, run, footer)
        delay = config.duration("digest_publish_delay")
        text = (
            f"📝 **Draft digest** — add a note, then publish. It publishes itself "
            f"{discord.utils.format_dt(run.created_at + delay, 'R')} unless held."
        )
        if found is None:
            found = await channel.send(
                text, embeds=embeds, view=draft_view(run.id), allowed_mentions=NO_MENTIONS
            )
        return digests.draft_recorder(run.id, found.id)

    async def auto(self, timer: Timer) -> None:
        publication = await self.services.digests.auto_publish(int(timer.payload["run_id"]))
        if publication is not None:
            await self.services.timers.run_written(publication)

    def _channel(self, channel_id: int | None) -> discord.TextChannel | None:
        if not channel_id:
            return None
        channel: Any = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.TextChannel) else None
