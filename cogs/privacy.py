"""/privacy forget-me: a member asks to be forgotten; a moderator confirms."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.guild_config import Access
from bot.errors import InvalidInput
from cogs._common import bot_of, mod_log, require
from cogs._errors import ReportingDynamicItem

log = logging.getLogger(__name__)


def _report_text(report: dict[str, dict[str, int]]) -> str:
    parts = [f"{name}: {n}" for feature in report.values() for name, n in feature.items() if n]
    return "; ".join(parts) or "nothing was stored about this member"


class PrivacyDecision(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"privacy:(?P<action>confirm|reject):(?P<id>\d+)",
):
    """Confirm / Reject buttons on a forget request posted for moderators."""

    def __init__(self, action: str, request_id: int) -> None:
        style = discord.ButtonStyle.danger if action == "confirm" else discord.ButtonStyle.secondary
        label = "Forget this member" if action == "confirm" else "Reject"
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"privacy:{action}:{request_id}")
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PrivacyDecision:
        return cls(match["action"], int(match["id"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer()
        bot = bot_of(interaction)
        privacy = bot.services.privacy
        if self.action == "confirm":
            request, report = await privacy.confirm(
                interaction.guild_id, self.request_id, interaction.user.id
            )
            outcome = f"✅ Forgotten by {interaction.user.mention}: {_report_text(report)}."
            note = (
                "A moderator confirmed your request: "
                "Cocreate has forgotten your data in that server."
            )
        else:
            request = await privacy.reject(
                interaction.guild_id, self.request_id, interaction.user.id
            )
            outcome = f"Rejected by {interaction.user.mention}."
            note = "A moderator rejected your request to be forgotten; ask them for the reason."
        await bot.services.audit.record(
            interaction.guild_id,
            interaction.user.id,
            f"privacy.{self.action}",
            str(request.user_id),
            outcome,
        )
        if interaction.message is not None:
            await interaction.edit_original_response(
                content=f"Privacy request #{request.id} from <@{request.user_id}>\n{outcome}",
                view=None,
            )
        user = bot.get_user(request.user_id)
        if user is not None:
            try:
                await user.send(note)
            except discord.HTTPException:
                log.info(
                    "Could not DM member %s about privacy request %s", request.user_id, request.id
                )


class Privacy(commands.Cog):
    """Members' right to be forgotten."""

    group = app_commands.Group(name="privacy", description="Your data in Cocreate", guild_only=True)

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PrivacyDecision)

    @group.command(
        name="forget-me", description="Ask the moderators to erase what Cocreate stores about you"
    )
    async def forget_me(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        config = await self.bot.services.guild_settings.get(interaction.guild_id)
        channel_id = config.channel("modlog_channel") or config.channel("staff_channel")
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, discord.abc.Messageable):
            raise InvalidInput(
                "This server has no moderator channel set up for requests yet. Please ask a "
                "moderator directly; they can set `modlog_channel` with `/setup start`."
            )
        request = await self.bot.services.privacy.request(interaction.guild_id, interaction.user.id)
        view = discord.ui.View(timeout=None)
        view.add_item(PrivacyDecision("confirm", request.id))
        view.add_item(PrivacyDecision("reject", request.id))
        try:
            await channel.send(
                f"Privacy request #{request.id} from {interaction.user.mention}: they ask Cocreate "
                "to forget them (ideas anonymised, votes and points removed).",
                view=view,
            )
        except discord.HTTPException:
            # Moderators never saw it: close it, so the member can ask again later.
            assert self.bot.user is not None
            await self.bot.services.privacy.reject(
                interaction.guild_id, request.id, self.bot.user.id
            )
            raise InvalidInput(
                "I could not post your request in the moderators' channel. Please ask a "
                "moderator directly, or try again later."
            ) from None
        await interaction.followup.send(
            f"Your request #{request.id} was sent to the moderators. "
            "You will get a DM when it is handled.",
            ephemeral=True,
        )
        await mod_log(
            self.bot,
            interaction.guild_id,
            interaction.user,
            "privacy.request",
            f"request #{request.id}",
        )


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Privacy(bot))
