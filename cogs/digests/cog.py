"""``/digest preview · now · schedule · history`` and ``/export`` (moderators), and the
timer handlers that post digests. Thin: each command calls ``DigestService`` and renders."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.timeparse import get_zone
from bot.errors import InvalidInput
from bot.render import digests as render
from bot.render.exports import Budget, ExportTooLarge, write_export
from bot.services.digests import AUTO, DRAFT, DUE, PUBLISH
from cogs._common import MODERATOR_PERMISSIONS, moderator_only
from cogs.digests.publisher import DigestPublisher, chart_file
from cogs.digests.ui import DraftButton

log = logging.getLogger(__name__)

#: Discord's upload limit for bots without boosts is 10 MiB; stay clearly below it.
EXPORT_LIMIT = 8 * 1024 * 1024


class Digests(commands.Cog):
    """Scheduled staff summaries (issue 15)."""

    group = app_commands.Group(
        name="digest",
        description="The staff digest: preview, post now, schedule, history",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.publisher = DigestPublisher(bot)
        self.export_limit = EXPORT_LIMIT
        self.attachments_per_message = 10  # Discord's limit

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(DraftButton)
        timers = self.services.timers
        timers.register(DUE, self.publisher.on_due)
        timers.register(PUBLISH, self.publisher.publish)
        timers.register(DRAFT, self.publisher.draft)
        timers.register(AUTO, self.publisher.auto)

    async def cog_unload(self) -> None:
        from bot.render import digest_chart

        # The chart worker process stops with the bot (joined off the loop).
        await asyncio.to_thread(digest_chart.shutdown)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Arm the schedule of guilds that have none yet (missed fire times stay due)."""
        if await self.services.digests.ensure_armed([g.id for g in self.bot.guilds]):
            await self.services.timers.wake()

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        if await self.services.digests.ensure_armed([guild.id]):
            await self.services.timers.wake()

    @group.command(name="preview", description="The digest of the period so far (only you see it)")
    @moderator_only()
    async def preview(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        digest = await self.services.digests.preview(interaction.guild_id)
        messages = render.digest_messages(digest, None)
        file = await chart_file(digest)
        embeds = messages[0][: render.MAX_EMBEDS]
        if file is not None and len(messages) == 1:
            embeds[-1].set_image(url=f"attachment://{render.CHART_NAME}")
            await interaction.followup.send(embeds=embeds, file=file, ephemeral=True)
        else:
            await interaction.followup.send(embeds=embeds, ephemeral=True)
        for extra in messages[1:]:
            await interaction.followup.send(embeds=extra, ephemeral=True)

    @group.command(name="now", description="Post a digest of the period so far (an extra one)")
    @moderator_only()
    async def now(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        run, publication = await self.services.digests.post_now(
            interaction.guild_id, interaction.user.id
        )
        ok = await self.services.timers.run_written(publication)
        where = f"<#{run.channel_id}>" if run.channel_id else "the staff channel"
        text = (
            f"📰 Posted the digest so far in {where}. The scheduled digest still comes as usual."
            if ok
            else f"📰 The digest is recorded; posting in {where} is retried shortly."
        )
        await interaction.followup.send(text, ephemeral=True)

    @group.command(name="schedule", description="When and where the digest is posted")
    @app_commands.describe(
        frequency="daily, weekly (Mondays) or monthly (the 1st), at 09:00; or crontab",
        crontab="With frequency crontab: e.g. `0 9 * * 1` (Mondays 09:00, Sunday = 0)",
        channel="Where digests are published (default: the staff channel)",
        enabled="Post the scheduled digest",
        annotate="Draft to the staff channel first, for a note (publishes itself later)",
    )
    @moderator_only()
    async def schedule(
        self,
        interaction: discord.Interaction,
        frequency: Literal["daily", "weekly", "monthly", "crontab"] | None = None,
        crontab: str | None = None,
        channel: discord.TextChannel | None = None,
        enabled: bool | None = None,
        annotate: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        digests = self.services.digests
        values: dict[str, object] = {}
        if frequency == "crontab":
            if not crontab:
                raise InvalidInput("Give the crontab, e.g. `crontab:0 9 * * 1`.")
            values["digest_schedule"] = digests.parse_schedule(crontab)
        elif frequency is not None:
            values["digest_schedule"] = frequency
        elif crontab:
            values["digest_schedule"] = digests.parse_schedule(crontab)
        if channel is not None:
            values["digest_channel"] = channel.id
        if enabled is not None:
            values["digest_enabled"] = enabled
        if annotate is not None:
            values["digest_annotate"] = annotate
        if values:
            await self.services.guild_settings.set_values(
                interaction.guild_id, values, interaction.user.id
            )
            await self.services.timers.wake()  # the due timer was re-armed with the change
        _, _, on, label = await digests.schedule_of(interaction.guild_id)
        config = await self.services.guild_settings.get(interaction.guild_id)
        target = config.channel("digest_channel") or config.channel("staff_channel")
        await interaction.followup.send(
            f"{'✅' if on else '⏸️'} Digest: {label if on else 'off'} → "
            f"{f'<#{target}>' if target else 'no channel yet (set one)'}"
            f"{' · drafted for a note first' if config['digest_annotate'] else ''}.",
            ephemeral=True,
        )

    @group.command(name="history", description="Digests posted, late and skipped")
    @moderator_only()
    async def history(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        runs = await self.services.digests.history(interaction.guild_id)
        config = await self.services.guild_settings.get(interaction.guild_id)
        text = render.history_text(runs, get_zone(str(config["timezone"])))
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(
        name="export", description="Export ideas, votes, points, polls and policies as files"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def export(
        self, interaction: discord.Interaction, format: Literal["csv", "json"] = "csv"
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        exports = self.services.exports
        budget = Budget(self.export_limit)
        files: list[discord.File] = []
        try:
            for name in exports.names:
                buffer = io.BytesIO()
                await write_export(
                    exports.rows(name, interaction.guild_id),
                    buffer,
                    format,
                    columns=exports.source(name).columns,
                    budget=budget,
                )
                buffer.seek(0)
                files.append(discord.File(buffer, filename=f"{name}.{format}"))
        except ExportTooLarge:
            # Stopped at the limit, not after writing everything: the CLI has no limit.
            await interaction.followup.send(
                "This server's data is larger than Discord allows as attachments. "
                f"Run `cocreate export --guild {interaction.guild_id} --format {format} "
                "--out DIR` on the bot's host instead.",
                ephemeral=True,
            )
            return
        # Discord takes at most 10 files a message: more sources continue in followups.
        per = self.attachments_per_message
        for first in range(0, len(files), per):
            await interaction.followup.send(
                f"📦 Export of {', '.join(exports.names)}." if first == 0 else "📦 (continued)",
                files=files[first : first + per],
                ephemeral=True,
            )
