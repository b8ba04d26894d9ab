"""Server setup and administration: /about, /help, /config, /setup, the join checklist."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.guild_config import (
    GUILD_SETTINGS,
    Access,
    GuildConfig,
    Kind,
    format_value,
)
from bot.domain.permissions import CHANNEL_NEEDS, GUILD_NEEDS, WHY
from bot.errors import InvalidInput
from bot.render import webhooks as render_webhooks
from cogs._common import MODERATOR_PERMISSIONS, access, bot_of, moderator_only, require
from cogs._errors import ReportingDynamicItem, ReportingModal

log = logging.getLogger(__name__)

# -- the /setup guide --------------------------------------------------------------------
_TEXT = [discord.ChannelType.text, discord.ChannelType.news]


@dataclass(frozen=True)
class _Field:
    key: str
    placeholder: str
    channel_types: tuple[discord.ChannelType, ...] = ()


@dataclass(frozen=True)
class _Page:
    title: str
    intro: str
    fields: tuple[_Field, ...]


PAGES: tuple[_Page, ...] = (
    _Page(
        "1/4 · Where ideas come from",
        "Tagged messages (`[idea] ...`) are collected only in **watched channels**, so a "
        "staff-only message is never exposed. Idea cards go to the **ideas channel**; new "
        "posts in the **ideas forum** become ideas too.",
        (
            _Field("watched_channels", "Watched channels", tuple(_TEXT)),
            _Field("ideas_channel", "Ideas channel (cards and votes)", tuple(_TEXT)),
            _Field("ideas_forum", "Ideas forum", (discord.ChannelType.forum,)),
        ),
    ),
    _Page(
        "2/4 · Where Cocreate posts",
        "Staff digests, policy announcements, shipped ideas and the moderator log.",
        (
            _Field("staff_channel", "Staff channel (digests)", tuple(_TEXT)),
            _Field("announcements_channel", "Announcements channel (policy)", tuple(_TEXT)),
            _Field("shipped_channel", "Shipped channel (implemented ideas)", tuple(_TEXT)),
            _Field("modlog_channel", "Mod-log channel", tuple(_TEXT)),
        ),
    ),
    _Page(
        "3/4 · Who is who",
        "Members with Manage Server are always moderators and staff. Add roles here; help "
        "channels are where ✅ marks a helpful answer.",
        (
            _Field("moderator_roles", "Moderator roles"),
            _Field("staff_roles", "Staff roles"),
            _Field("judge_roles", "Challenge judge roles"),
            _Field(
                "help_channels",
                "Help channels or forums",
                (*_TEXT, discord.ChannelType.forum),
            ),
        ),
    ),
    _Page(
        "4/4 · Timezone and check",
        "Dates members type, digests and deadlines use the server's timezone. Then run the "
        "check to see any permission I am missing.",
        (),
    ),
)


def setup_embed(config: GuildConfig, page: int) -> discord.Embed:
    spec = PAGES[page]
    embed = discord.Embed(title=f"Cocreate setup {spec.title}", description=spec.intro)
    keys = [f.key for f in spec.fields] or ["timezone"]
    for key in keys:
        embed.add_field(
            name=key.replace("_", " ").capitalize(),
            value=format_value(GUILD_SETTINGS[key], config[key])[:1024],
            inline=False,
        )
    embed.set_footer(text="Changes are saved as you pick them.")
    return embed


def setup_view(config: GuildConfig, page: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for field in PAGES[page].fields:
        view.add_item(SetupSelect(field.key, config))
    if page > 0:
        view.add_item(SetupPage(page - 1, "Back"))
    if page < len(PAGES) - 1:
        view.add_item(SetupPage(page + 1, "Next"))
    else:
        view.add_item(SetupTimezone())
        view.add_item(SetupCheck())
    return view


def _field(key: str) -> _Field:
    for page in PAGES:
        for field in page.fields:
            if field.key == key:
                return field
    raise KeyError(key)


def _select_for(key: str, config: GuildConfig) -> discord.ui.Item[Any]:
    spec = GUILD_SETTINGS[key]
    field = _field(key)
    multi = spec.is_list
    current = config[key] if multi else ([config[key]] if config[key] else [])
    custom_id = f"setup:set:{key}"
    if spec.kind in (Kind.ROLE, Kind.ROLES):
        return discord.ui.RoleSelect(
            custom_id=custom_id,
            placeholder=field.placeholder,
            min_values=0,
            max_values=25 if multi else 1,
            default_values=[discord.Object(id=v, type=discord.Role) for v in current],
        )
    return discord.ui.ChannelSelect(
        custom_id=custom_id,
        placeholder=field.placeholder,
        min_values=0,
        max_values=25 if multi else 1,
        channel_types=list(field.channel_types),
        default_values=[discord.Object(id=v, type=discord.abc.GuildChannel) for v in current],
    )


class SetupSelect(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Item[Any]],
    template=r"setup:set:(?P<key>[a-z_]+)",
):
    """A channel or role picker of the setup guide; saves on every change."""

    def __init__(self, key: str, config: GuildConfig | None = None) -> None:
        self.key = key
        super().__init__(
            _select_for(key, config) if config else discord.ui.Select(custom_id=f"setup:set:{key}")
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SetupSelect:
        key = match["key"]
        if key not in GUILD_SETTINGS:
            raise InvalidInput("That setup control is out of date; run `/setup start` again.")
        obj = cls.__new__(cls)
        obj.key = key
        discord.ui.DynamicItem.__init__(obj, item)
        return obj

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer()
        data: Any = interaction.data or {}
        ids = [int(v) for v in data.get("values", [])]
        spec = GUILD_SETTINGS[self.key]
        value: Any = ids if spec.is_list else (ids[0] if ids else 0)
        bot = bot_of(interaction)
        await bot.services.guild_settings.set_values(
            interaction.guild_id, {self.key: value}, interaction.user.id
        )
        config = await bot.services.guild_settings.get(interaction.guild_id)
        page = next(i for i, p in enumerate(PAGES) if any(f.key == self.key for f in p.fields))
        await interaction.edit_original_response(
            embed=setup_embed(config, page), view=setup_view(config, page)
        )


class SetupPage(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"setup:page:(?P<page>\d)",
):
    def __init__(self, page: int, label: str = "Open") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"setup:page:{page}"
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SetupPage:
        page = int(match["page"])
        if page >= len(PAGES):
            raise InvalidInput("That setup page does not exist; run `/setup start` again.")
        return cls(page)

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        config = await bot_of(interaction).services.guild_settings.get(interaction.guild_id)
        await interaction.response.edit_message(
            embed=setup_embed(config, self.page), view=setup_view(config, self.page)
        )


class TimezoneModal(ReportingModal, title="Server timezone"):
    zone: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="IANA timezone", placeholder="Europe/Berlin, America/New_York, UTC", max_length=64
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)  # checked again: the modal may be old
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = bot_of(interaction)
        spec, value = await bot.services.guild_settings.set(
            interaction.guild_id, "timezone", str(self.zone.value), interaction.user.id
        )
        await interaction.followup.send(
            f"Timezone set to {format_value(spec, value)}.", ephemeral=True
        )


class SetupTimezone(
    ReportingDynamicItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"setup:tz"
):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Set timezone", style=discord.ButtonStyle.primary, custom_id="setup:tz"
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SetupTimezone:
        return cls()

    async def handle(self, interaction: discord.Interaction) -> None:
        await require(interaction, Access.MODERATOR)
        await interaction.response.send_modal(TimezoneModal())


class SetupCheck(
    ReportingDynamicItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"setup:check"
):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Check permissions",
                style=discord.ButtonStyle.success,
                custom_id="setup:check",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SetupCheck:
        return cls()

    async def handle(self, interaction: discord.Interaction) -> None:
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed = await permission_report(interaction)
        await interaction.followup.send(embed=embed, ephemeral=True)


async def permission_report(interaction: discord.Interaction) -> discord.Embed:
    """Per configured channel, the permissions the bot lacks there."""
    guild = interaction.guild
    assert guild is not None and guild.me is not None
    config = await bot_of(interaction).services.guild_settings.get(guild.id)
    lines: list[str] = []
    problems = 0
    for key, needs in CHANNEL_NEEDS.items():
        spec = GUILD_SETTINGS[key]
        ids = list(config[key]) if spec.is_list else ([config[key]] if config[key] else [])
        for channel_id in ids:
            channel = guild.get_channel(channel_id)
            label = key.replace("_", " ")
            if channel is None:
                lines.append(f"❌ {label}: <#{channel_id}> no longer exists or is hidden from me")
                problems += 1
                continue
            perms = channel.permissions_for(guild.me)
            missing = [n for n in needs if not getattr(perms, n)]
            if missing:
                problems += 1
                why = "; ".join(
                    f"**{n.replace('_', ' ').title()}** ({WHY.get(n, '')})" for n in missing
                )
                lines.append(f"❌ {label} {channel.mention}: missing {why}")
            else:
                lines.append(f"✅ {label} {channel.mention}")
    for name, why in GUILD_NEEDS.items():
        if not getattr(guild.me.guild_permissions, name):
            problems += 1
            lines.append(f"❌ server: missing **{name.replace('_', ' ').title()}** ({why})")
    if not lines:
        lines.append("No channels are configured yet. Run `/setup start`.")
    title = "Everything looks good" if problems == 0 else f"{problems} problem(s) found"
    colour = discord.Colour.green() if problems == 0 else discord.Colour.orange()
    text = "\n".join(lines)
    if len(text) > 4000:
        text = text[:3990] + "\n…"
    return discord.Embed(title=f"Setup check: {title}", description=text, colour=colour)


# -- the cog -----------------------------------------------------------------------------
async def _setting_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    cur = current.lower()
    return [
        app_commands.Choice(name=f"{key} — {spec.description}"[:100], value=key)
        for key, spec in GUILD_SETTINGS.items()
        if cur in key
    ][:25]


def checklist_text(guild_name: str) -> str:
    return (
        f"👋 Thanks for adding **Cocreate** to {guild_name}! Three steps to start collecting "
        "ideas:\n"
        "1. A moderator runs `/setup start` to choose the watched channels, the ideas channel "
        "and forum, the staff channel and the moderator roles.\n"
        "2. `/setup check` lists any permission I am missing in those channels.\n"
        "3. Members tag messages with `[idea]` in watched channels, or use `/idea submit`.\n"
        "Nothing is collected until step 1: no channel is watched by default. `/help` lists "
        "what members can do."
    )


class Admin(commands.Cog):
    """/about, /help, /config, /setup and the join checklist."""

    config_group = app_commands.Group(
        name="config",
        description="Show or change Cocreate's settings for this server",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    webhook_group = app_commands.Group(
        name="webhook",
        description="Send idea events to your tools as signed JSON",
        parent=config_group,
    )
    setup_group = app_commands.Group(
        name="setup",
        description="Set Cocreate up in this server",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SetupSelect, SetupPage, SetupTimezone, SetupCheck)

    # /about
    @app_commands.command(name="about", description="What Cocreate is, its version and health")
    async def about(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        size = await self.bot.services.db.size_bytes()
        latency = self.bot.latency
        embed = discord.Embed(
            title="Cocreate",
            description="Co-create your product with your community: ideas, votes, decisions "
            "with reasons, points, polls, digests and policy discussions.",
        )
        embed.add_field(name="Version", value=self.bot.version)
        embed.add_field(name="Uptime", value=_format_uptime(self.bot.uptime_seconds))
        embed.add_field(
            name="Gateway latency",
            value="n/a"
            if latency != latency or latency == float("inf")
            else f"{latency * 1000:.0f} ms",
        )
        embed.add_field(name="Database", value=f"{size / 1024:.0f} KiB")
        embed.add_field(name="Servers", value=str(len(self.bot.guilds)))
        await interaction.followup.send(embed=embed, ephemeral=True)

    # /help
    @app_commands.command(name="help", description="The commands you can use")
    async def help(self, interaction: discord.Interaction) -> None:
        levels = await access(interaction)
        embed = discord.Embed(title="Cocreate commands")
        for cmd in sorted(
            self.bot.tree.get_commands(type=discord.AppCommandType.chat_input), key=lambda c: c.name
        ):
            lines = _help_lines(cmd, moderator=Access.MODERATOR in levels)
            # A field holds 1,024 characters: a long group continues in the next field.
            chunk: list[str] = []
            for line in lines:
                if chunk and len("\n".join([*chunk, line])) > 1024:
                    embed.add_field(name=f"/{cmd.name}", value="\n".join(chunk), inline=False)
                    chunk = []
                chunk.append(line[:1024])
            if chunk and len(embed.fields) < 25:
                embed.add_field(name=f"/{cmd.name}", value="\n".join(chunk), inline=False)
        menus = [c.name for c in self.bot.tree.get_commands(type=discord.AppCommandType.message)]
        if menus:
            embed.set_footer(text="On a message: Apps → " + ", ".join(menus))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # /config
    @config_group.command(name="show", description="Show this server's Cocreate settings")
    @moderator_only()
    async def config_show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        config = await self.bot.services.guild_settings.get(interaction.guild_id)
        lines = []
        for key, spec in GUILD_SETTINGS.items():
            mark = "" if key in config.overridden else " *(default)*"
            lines.append(f"**{key}**: {format_value(spec, config[key])}{mark}")
        embed = discord.Embed(title="Cocreate settings", description="\n".join(lines)[:4096])
        embed.set_footer(
            text="Change with /config set, undo with /config reset, or walk through /setup start."
        )
        await interaction.followup.send(embed=embed, ephemeral=True)

    @config_group.command(name="set", description="Change one setting")
    @app_commands.describe(
        key="The setting", value="Its new value (mentions or ids for channels and roles)"
    )
    @app_commands.autocomplete(key=_setting_autocomplete)
    @moderator_only()
    async def config_set(
        self,
        interaction: discord.Interaction,
        key: str,
        value: app_commands.Range[str, 1, 1000],
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        spec, stored = await self.bot.services.guild_settings.set(
            interaction.guild_id, key, value, interaction.user.id
        )
        shown = format_value(spec, stored)
        await interaction.followup.send(f"**{key}** is now {shown}.", ephemeral=True)
        await _mod_log_only(self.bot, interaction, "config.set", f"{key} = {shown}")

    @config_group.command(name="reset", description="Return a setting (or all) to the default")
    @app_commands.describe(key="The setting; leave empty to reset everything")
    @app_commands.autocomplete(key=_setting_autocomplete)
    @moderator_only()
    async def config_reset(self, interaction: discord.Interaction, key: str | None = None) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        await self.bot.services.guild_settings.reset(interaction.guild_id, key, interaction.user.id)
        what = (
            f"**{key}** is back to its default"
            if key
            else "All settings are back to their defaults"
        )
        await interaction.followup.send(f"{what}.", ephemeral=True)
        await _mod_log_only(self.bot, interaction, "config.reset", key or "all settings")

    # /config webhook
    @webhook_group.command(name="add", description="POST idea events to an https URL")
    @app_commands.describe(
        url="Your automation's endpoint (https://…)",
        events="created, status, merged (comma-separated) or all",
    )
    @moderator_only()
    async def webhook_add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 500],
        events: app_commands.Range[str, 1, 100] = "all",
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        hook, secret = await self.bot.services.webhooks.add(
            interaction.guild_id, url, events, interaction.user.id
        )
        await interaction.followup.send(render_webhooks.created_text(hook, secret), ephemeral=True)
        await _mod_log_only(
            self.bot,
            interaction,
            "webhook.add",
            f"#{hook.id} {hook.url} ({', '.join(hook.events)})",
        )

    @webhook_group.command(name="list", description="Webhooks and their latest deliveries")
    @moderator_only()
    async def webhook_list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        views = await self.bot.services.webhooks.overview(interaction.guild_id)
        await interaction.followup.send(embed=render_webhooks.list_embed(views), ephemeral=True)

    @webhook_group.command(name="remove", description="Stop sending events to a webhook")
    @app_commands.describe(webhook="The webhook's number, from /config webhook list")
    @moderator_only()
    async def webhook_remove(self, interaction: discord.Interaction, webhook: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        await self.bot.services.webhooks.remove(interaction.guild_id, webhook, interaction.user.id)
        await interaction.followup.send(f"Webhook #{webhook} removed.", ephemeral=True)
        await _mod_log_only(self.bot, interaction, "webhook.remove", f"#{webhook}")

    # /setup
    @setup_group.command(name="start", description="Walk through channels, roles and timezone")
    @moderator_only()
    async def setup_start(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        config = await self.bot.services.guild_settings.get(interaction.guild_id)
        await interaction.followup.send(
            embed=setup_embed(config, 0), view=setup_view(config, 0), ephemeral=True
        )

    @setup_group.command(
        name="check", description="List the permissions I lack in configured channels"
    )
    @moderator_only()
    async def setup_check(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(embed=await permission_report(interaction), ephemeral=True)

    # joining a guild
    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        services = self.bot.services
        await services.guilds.joined(guild.id, guild.name)
        if not await services.guilds.claim_checklist(guild.id):
            return
        text = checklist_text(guild.name)
        if await _post_checklist(guild, text):
            return
        await services.guilds.release_checklist(guild.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.bot.services.guilds.left(guild.id)


async def _post_checklist(guild: discord.Guild, text: str) -> bool:
    me = guild.me
    candidates: list[discord.TextChannel] = []
    if guild.system_channel is not None:
        candidates.append(guild.system_channel)
    candidates += sorted(guild.text_channels, key=lambda c: c.position)
    for channel in candidates:
        perms = channel.permissions_for(me)
        if perms.view_channel and perms.send_messages:
            try:
                await channel.send(text)
                return True
            except discord.HTTPException:
                continue
    owner = guild.owner or (await guild.fetch_member(guild.owner_id) if guild.owner_id else None)
    if owner is not None:
        try:
            await owner.send(text)
            return True
        except discord.HTTPException:
            log.info("Could not send the setup checklist for guild %s", guild.id)
    return False


async def _mod_log_only(
    bot: CocreateBot, interaction: discord.Interaction, action: str, detail: str
) -> None:
    # The settings service already wrote the durable audit row in the same transaction.
    from cogs._common import mod_log

    assert interaction.guild_id is not None
    await mod_log(bot, interaction.guild_id, interaction.user, action, detail)


def _help_lines(
    cmd: app_commands.Command[Any, ..., Any] | app_commands.Group, *, moderator: bool
) -> list[str]:
    subs = cmd.commands if isinstance(cmd, app_commands.Group) else [cmd]
    lines = []
    for sub in subs:
        if isinstance(sub, app_commands.Group):
            lines.extend(_help_lines(sub, moderator=moderator))
            continue
        mod_only = any(getattr(c, "cocreate_moderator", False) for c in sub.checks)
        if mod_only and not moderator:
            continue
        suffix = " *(moderators)*" if mod_only else ""
        lines.append(f"`/{sub.qualified_name}` — {sub.description}{suffix}")
    return lines


def _format_uptime(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {sec}s"


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Admin(bot))
