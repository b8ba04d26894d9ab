"""A small co-creation community in the sandbox, with Cocreate running in it.

Shared by the end-to-end tests and ``cocreate demo`` so both meet the same world: a
product team's server with a watched #general, an #ideas channel and forum, a private
#staff channel, #announcements, #shipped, #mod-log and #help, a moderator, staff and
members (one of them with DMs closed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.sandbox.driver import Driver
from bot.sandbox.state import Channel, Guild, Member, P, Role
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.client import CocreateBot

#: Cocreate's commands that only moderators see by default (default_member_permissions).
MODERATOR_COMMANDS = ("config", "setup", "digest", "export")


@dataclass
class Community:
    """Handles to the seeded world."""

    guild: Guild
    general: Channel
    ideas: Channel
    forum: Channel
    staff: Channel
    announcements: Channel
    shipped: Channel
    modlog: Channel
    help: Channel
    moderator_role: Role
    staff_role: Role
    owner: Member
    mod: Member
    staffer: Member
    alice: Member
    bob: Member
    carol: Member
    dave: Member  # DMs closed

    @property
    def configured(self) -> dict[str, object]:
        """The per-guild settings a moderator would choose in /setup for this world."""
        return {
            "watched_channels": [self.general.id],
            "ideas_channel": self.ideas.id,
            "ideas_forum": self.forum.id,
            "staff_channel": self.staff.id,
            "announcements_channel": self.announcements.id,
            "shipped_channel": self.shipped.id,
            "modlog_channel": self.modlog.id,
            "help_channels": [self.help.id],
            "moderator_roles": [self.moderator_role.id],
            "staff_roles": [self.staff_role.id],
        }


def seed_community(driver: Driver, name: str = "Makers of Loom") -> Community:
    """Build the world (before the bot starts, so it arrives in GUILD_CREATE)."""
    guild = driver.add_guild(name)
    general = driver.add_text_channel(guild, "general", topic="Chat about Loom")
    ideas = driver.add_text_channel(guild, "ideas", topic="Idea cards and votes")
    forum = driver.add_forum(guild, "idea-forum", tags=["editor", "sync", "mobile", "billing"])
    staff = driver.add_text_channel(guild, "staff")
    announcements = driver.add_text_channel(guild, "announcements")
    shipped = driver.add_text_channel(guild, "shipped")
    modlog = driver.add_text_channel(guild, "mod-log")
    help_channel = driver.add_text_channel(guild, "help")
    moderator_role = driver.add_role(guild, "Moderator", permissions=P.MANAGE_MESSAGES)
    staff_role = driver.add_role(guild, "Staff")
    for private in (staff, modlog):
        driver.set_overwrite(private, guild.everyone, deny=P.VIEW_CHANNEL)
        driver.set_overwrite(private, staff_role, allow=P.VIEW_CHANNEL)
        driver.set_overwrite(private, moderator_role, allow=P.VIEW_CHANNEL)
        driver.set_overwrite(private, driver.bot_role(guild), allow=P.VIEW_CHANNEL)
    # Moderator-only commands are shown to members with Manage Server; the Moderator role
    # has not got it, so the admins grant it the commands (Server Settings → Integrations),
    # as the README tells servers that use `moderator_roles` to do.
    for command in MODERATOR_COMMANDS:
        driver.set_command_permission(guild, command, moderator_role)
    owner_member = guild.members[guild.owner_id]
    return Community(
        guild=guild,
        general=general,
        ideas=ideas,
        forum=forum,
        staff=staff,
        announcements=announcements,
        shipped=shipped,
        modlog=modlog,
        help=help_channel,
        moderator_role=moderator_role,
        staff_role=staff_role,
        owner=owner_member,
        mod=driver.add_member(guild, "Mona (mod)", roles=[moderator_role]),
        staffer=driver.add_member(guild, "Sam (staff)", roles=[staff_role]),
        alice=driver.add_member(guild, "Alice"),
        bob=driver.add_member(guild, "Bob"),
        carol=driver.add_member(guild, "Carol"),
        dave=driver.add_member(guild, "Dave", dms_closed=True),
    )


def sandbox_settings(base: Settings, driver: Driver, db_path: Path) -> Settings:
    """``base`` pointed at the sandbox, with a private database and fast guild readiness;
    the bot paces its sends under the sandbox's per-channel limit, as under Discord's."""
    limits = driver.sandbox.limiter.config
    settings = base.replace_section(
        "discord",
        api_base=driver.sandbox.api_base,
        gateway_url=driver.sandbox.gateway_url,
        guild_ready_timeout=0.1,
        # The sandbox's own rate limits are what tests meet; a tenth of a second still
        # gathers a burst of votes into one edit.
        card_edit_interval=0.1,
        channel_message_limit=limits.messages.limit if limits.enabled else 0,
        channel_message_window=limits.messages.per,
    )
    settings = settings.replace_section("database", path=str(db_path), backup_before_migrate=False)
    return dataclasses.replace(
        settings.replace_section("bot", sync_commands="auto", webhooks_allow_localhost=True)
    )


async def start_cocreate(
    driver: Driver, settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> CocreateBot:
    """Build the real bot through the one wiring point and connect it to the sandbox
    (``clock``: the bot's "now", which a scene may move forward)."""
    from bot.app import create_bot, create_services

    bot = create_bot(settings, create_services(settings, clock=clock))
    await driver.start_bot(bot)
    return bot


async def configure(bot: CocreateBot, community: Community) -> None:
    """Apply the settings a moderator would pick in /setup (for tests past setup)."""
    await bot.services.guild_settings.set_values(
        community.guild.id, community.configured, community.owner.id
    )
