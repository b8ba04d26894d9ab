"""Helpers every cog uses: access checks and the moderator log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.domain.guild_config import Access, access_of
from bot.errors import PermissionDenied

if TYPE_CHECKING:
    from bot.client import CocreateBot

log = logging.getLogger(__name__)
T = TypeVar("T", bound=Any)


def bot_of(interaction: discord.Interaction) -> CocreateBot:
    from bot.client import CocreateBot

    client = interaction.client
    assert isinstance(client, CocreateBot)
    return client


async def access(interaction: discord.Interaction) -> frozenset[Access]:
    """The invoking member's Cocreate access levels in this guild."""
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        return frozenset()
    config = await bot_of(interaction).services.guild_settings.get(interaction.guild_id)
    perms = member.guild_permissions
    return access_of(
        config, (r.id for r in member.roles), manage_guild=perms.manage_guild or perms.administrator
    )


#: Why a member without the level is refused, and how one gets it.
_DENIED = {
    Access.MODERATOR: "Only moderators can do that. Moderators are members with Manage Server "
    "or a role set with `/config set moderator_roles`.",
    Access.STAFF: "Only staff can do that. Staff are members with Manage Server or a role set "
    "with `/config set staff_roles`.",
    Access.JUDGE: "Only judges can do that. Judges are members with a role set with "
    "`/config set judge_roles`.",
}


async def require(interaction: discord.Interaction, level: Access) -> None:
    """Raise PermissionDenied unless the member has ``level``."""
    if level not in await access(interaction):
        raise PermissionDenied(_DENIED[level])


#: The default permission of command groups that are moderator-only as a whole (Discord's
#: ``default_member_permissions``): members without Manage Server don't see them in the
#: command picker, unless a server's admins grant them to a role in Server Settings →
#: Integrations. It is only what Discord shows: ``moderator_only`` still decides on every
#: subcommand. Groups mixing member and moderator subcommands (/idea, /points) cannot use
#: it (it applies to a top-level command as a whole) and rely on the check alone.
MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)


def access_only(level: Access) -> Callable[[T], T]:
    """A command check: the member needs ``level`` (decided on the server at each call)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        # discord.py only routes CheckFailure from a check to the tree's error handler.
        try:
            await require(interaction, level)
        except PermissionDenied as exc:
            raise app_commands.CheckFailure(exc.message) from None
        return True

    if level is Access.MODERATOR:
        predicate.cocreate_moderator = True  # type: ignore[attr-defined]  # /help reads it
    return app_commands.check(predicate)


def moderator_only() -> Callable[[T], T]:
    """Check for moderator commands (Manage Server or a configured moderator role)."""
    return access_only(Access.MODERATOR)


async def mod_log(
    bot: CocreateBot, guild_id: int, actor: discord.abc.User, action: str, detail: str
) -> None:
    """Post a moderator action to the guild's mod-log channel, when one is set.

    The durable record is the ``mod_actions`` row the service wrote; this is the view.
    """
    config = await bot.services.guild_settings.get(guild_id)
    channel_id = config.channel("modlog_channel")
    if channel_id is None:
        return
    channel = bot.get_channel(channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        return
    embed = discord.Embed(description=detail[:4000], colour=discord.Colour.dark_grey())
    embed.set_author(name=f"{actor} · {action}")
    try:
        await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException:
        log.warning("Could not write to the mod-log channel %s of guild %s", channel_id, guild_id)


async def record_and_log(
    bot: CocreateBot, guild_id: int, actor: discord.abc.User, action: str, target: str, detail: str
) -> None:
    """Record a moderator action durably, then show it in the mod-log channel."""
    await bot.services.audit.record(guild_id, actor.id, action, target, detail)
    await mod_log(bot, guild_id, actor, action, detail)
