"""Points in Discord: /points commands, the ✅ helpful-answer listener, role rewards, and
the task that feeds the outbox's events to the points service.

Thin by design: handlers parse, call ``PointsService`` and render. Roles change only after
the awards behind them are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import weakref
from collections.abc import AsyncIterator, Collection, Iterable
from typing import Any, NamedTuple

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.guild_config import Access, GuildConfig, access_of
from bot.domain.points import KIND_FAMILIES, Period
from bot.domain.points_model import HelpfulMarker
from bot.domain.points_model import LeaderboardPage as LeaderboardResult
from bot.domain.text import clean_line
from bot.errors import InvalidInput
from bot.render import points as render
from cogs._common import bot_of, mod_log, moderator_only
from cogs._errors import ReportingDynamicItem

log = logging.getLogger(__name__)

#: Seconds between outbox checks when nobody calls ``PointsService.notify``.
POLL_SECONDS = 2.0
#: How long cog_unload lets a running round of awards finish.
STOP_TIMEOUT = 5.0
HELPFUL_EMOJI = "✅"
PER_PAGE = 10

PERIOD_CHOICES = [
    app_commands.Choice(name="this week (7 days)", value=Period.WEEK.value),
    app_commands.Choice(name="this month (30 days)", value=Period.MONTH.value),
    app_commands.Choice(name="this season", value=Period.SEASON.value),
    app_commands.Choice(name="all time", value=Period.ALL.value),
]
KIND_CHOICES = [app_commands.Choice(name=name, value=name) for name in KIND_FAMILIES]


def _cog(interaction: discord.Interaction) -> Points:
    cog = bot_of(interaction).get_cog("Points")
    assert isinstance(cog, Points)
    return cog


class _Hidden:
    """Members a leaderboard leaves out: those who left and, when the guild says so, staff.

    A container, so the service asks about the few members it actually reads instead of
    receiving every id in the guild.
    """

    def __init__(self, guild: discord.Guild, config: GuildConfig, *, exclude_staff: bool) -> None:
        self.guild = guild
        self.config = config
        self.exclude_staff = exclude_staff
        # Without a complete member list, absence from the cache proves nothing.
        self.membership_known = guild.chunked

    def __contains__(self, member_id: object) -> bool:
        if not isinstance(member_id, int):
            return False
        member = self.guild.get_member(member_id)
        if member is None:
            return self.membership_known
        if not self.exclude_staff:
            return False
        perms = member.guild_permissions
        levels = access_of(
            self.config,
            (r.id for r in member.roles),
            manage_guild=perms.manage_guild or perms.administrator,
        )
        return Access.STAFF in levels


def _marker(member: discord.Member, config: GuildConfig) -> HelpfulMarker:
    """A member whose ✅ is on an answer, as the points service sees them."""
    perms = member.guild_permissions
    levels = access_of(
        config,
        (r.id for r in member.roles),
        manage_guild=perms.manage_guild or perms.administrator,
    )
    return HelpfulMarker(member.id, Access.MODERATOR in levels)


async def _fetch(channel: Any, message_id: int) -> discord.Message | None:
    if not isinstance(channel, discord.abc.Messageable):
        return None
    try:
        return await channel.fetch_message(message_id)
    except discord.HTTPException:
        return None


class _Answer:
    """A message in a help channel, as the ✅ rules need to know it: who asked what it
    answers and whose ✅s are on it. Each Discord lookup is made at most once, and only
    when the points service reads that far."""

    def __init__(
        self,
        config: GuildConfig,
        channel: Any,
        message_id: int,
        message: discord.Message | None = None,
    ) -> None:
        self.config = config
        self.channel = channel
        self.message_id = message_id
        self._message = message
        self._fetched = message is not None
        self._found: list[int | None] = []  # thread asker, then the replied-to author

    async def message(self) -> discord.Message | None:
        if not self._fetched:
            self._message = await _fetch(self.channel, self.message_id)
            self._fetched = True
        return self._message

    async def askers(self) -> AsyncIterator[int]:
        """The author of the thread's starter message (a forum post's creator), then the
        author of the message this one replies to."""
        for index, lookup in enumerate((self._thread_asker, self._replied_to)):
            if len(self._found) == index:
                self._found.append(await lookup())
            asker = self._found[index]
            if asker is not None:
                yield asker

    async def _thread_asker(self) -> int | None:
        thread = self.channel
        if not isinstance(thread, discord.Thread):
            return None
        if isinstance(thread.parent, discord.ForumChannel):
            return thread.owner_id  # a forum post's starter message is its creator's
        starter = thread.starter_message
        if starter is None and isinstance(thread.parent, discord.TextChannel):
            starter = await _fetch(thread.parent, thread.id)
        return starter.author.id if starter else thread.owner_id

    async def _replied_to(self) -> int | None:
        message = await self.message()
        reference = message.reference if message else None
        if reference is None or reference.message_id is None:
            return None
        asked = reference.resolved
        if not isinstance(asked, discord.Message):
            asked = await _fetch(self.channel, reference.message_id)
        return asked.author.id if asked is not None else None

    async def markers(self, skip: Collection[int]) -> AsyncIterator[HelpfulMarker]:
        """The ✅s on the message, in order: bots and the members in ``skip`` left out.
        Stops (with a warning) when Discord cannot say who the others are."""
        message = await self.message()
        if message is None or message.guild is None:
            return
        guild = message.guild
        reaction = discord.utils.find(lambda r: str(r.emoji) == HELPFUL_EMOJI, message.reactions)
        if reaction is None:
            return
        try:
            async for user in reaction.users(limit=100):
                if user.bot or user.id in skip:
                    continue
                member = guild.get_member(user.id)
                if member is None:
                    member = await guild.fetch_member(user.id)
                yield _marker(member, self.config)
        except discord.HTTPException:
            log.warning("Could not read the ✅ reactions of message %s", self.message_id)


class LeaderboardPage(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"points:page:(?P<period>week|month|season|all):(?P<family>[a-z]+|-)"
    r":(?P<dir>prev|next):(?P<page>\d+)(?::(?P<image>img))?",
):
    """Previous/next on a leaderboard; the board's period, kind, page and whether it is
    drawn as a picture live in the id (ids from before pictures end at the page: no picture).
    """

    def __init__(
        self,
        period: str,
        family: str | None,
        direction: str,
        page: int,
        *,
        image: bool = False,
        disabled: bool = False,
    ) -> None:
        label = "◀ Previous" if direction == "prev" else "Next ▶"
        custom_id = f"points:page:{period}:{family or '-'}:{direction}:{page}"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id + (":img" if image else ""),
                disabled=disabled,
            )
        )
        self.period, self.family, self.page, self.image = period, family, page, image

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> LeaderboardPage:
        family = None if match["family"] == "-" else match["family"]
        if family is not None and family not in KIND_FAMILIES:
            raise InvalidInput("That leaderboard is out of date; run `/points leaderboard` again.")
        return cls(
            match["period"], family, match["dir"], int(match["page"]), image=bool(match["image"])
        )

    async def handle(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        board = await _cog(interaction).board(
            interaction, Period(self.period), self.family, self.page, image=self.image
        )
        if not self.image:
            await interaction.edit_original_response(embed=board.embed, view=board.view)
            return
        # Only the files listed stay: the new page's picture replaces the old one, and when
        # drawing failed the old one goes too (it shows another page).
        await interaction.edit_original_response(
            embed=board.embed, view=board.view, attachments=[board.file] if board.file else []
        )


def _pager(
    period: Period, family: str | None, page: int, has_next: bool, *, image: bool = False
) -> discord.ui.View | None:
    if page == 0 and not has_next:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(
        LeaderboardPage(
            period.value, family, "prev", max(0, page - 1), image=image, disabled=page == 0
        )
    )
    view.add_item(
        LeaderboardPage(period.value, family, "next", page + 1, image=image, disabled=not has_next)
    )
    return view


class _Board(NamedTuple):
    """A leaderboard page ready to send: its embed, pager and (when asked for) picture."""

    embed: discord.Embed
    view: discord.ui.View | None
    file: discord.File | None


class Points(commands.Cog):
    """Contribution points: commands, ✅ helpful answers, role rewards, the outbox consumer."""

    group = app_commands.Group(
        name="points", description="Contribution points and leaderboards", guild_only=True
    )
    season_group = app_commands.Group(
        name="season", description="Points seasons", parent=group, guild_only=True
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self._consumer: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = False
        # One ✅ change at a time per message: an add still being checked and the removal
        # that follows it must not overtake each other.
        self._helpful_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(LeaderboardPage)
        self._stopping = False
        self._consumer = asyncio.create_task(self._consume_forever(), name="cocreate:points-outbox")

    async def cog_unload(self) -> None:
        self._stopping = True
        task, self._consumer = self._consumer, None
        if task is None:
            return
        self.services.points.notify()
        if not self._busy:  # waiting for a wake-up or for READY: nothing to finish
            task.cancel()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("The points outbox task failed while stopping")

    # -- the outbox consumer -------------------------------------------------------------
    async def _consume_forever(self) -> None:
        """Apply outbox events as they come (woken by ``notify``, else every 2 s) and give or
        take reward roles for members whose totals changed. Starts by catching up."""
        try:
            await self.bot.wait_until_ready()
        except RuntimeError:  # never logged in (a boot test): nothing to consume
            return
        points = self.services.points
        while not self._stopping:
            # Cleared before consuming: an event committed meanwhile sets it again, so the
            # wait below returns at once and nothing waits for the fallback poll.
            points.wakeup.clear()
            self._busy = True
            try:
                changed = await points.consume_outbox()
                by_guild: dict[int, set[int]] = {}
                for guild_id, member_id in changed:
                    by_guild.setdefault(guild_id, set()).add(member_id)
                for guild_id, members in by_guild.items():
                    await self.apply_role_rewards(guild_id, members)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Applying outbox events to points failed; retrying shortly")
            finally:
                self._busy = False
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(points.wakeup.wait(), POLL_SECONDS)

    # -- role rewards --------------------------------------------------------------------
    async def apply_role_rewards(self, guild_id: int, member_ids: Iterable[int]) -> None:
        """Give and take reward roles so each member's roles match their total: the points
        service decides which, this applies them."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        members: dict[int, discord.Member] = {}

        async def held_roles(member_id: int) -> list[int] | None:
            member = guild.get_member(member_id)
            if member is None:
                try:
                    member = await guild.fetch_member(member_id)
                except discord.NotFound:
                    return None  # left the server: nothing to give or take
                except discord.HTTPException:
                    log.warning("Could not look up member %s of guild %s", member_id, guild_id)
                    return None
            members[member_id] = member
            return [r.id for r in member.roles]

        changes = await self.services.points.reward_role_changes(guild_id, member_ids, held_roles)
        for change in changes:
            await self._change_roles(guild, members[change.member_id], change.add, change.remove)

    async def _change_roles(
        self,
        guild: discord.Guild,
        member: discord.Member,
        add: Iterable[int],
        remove: Iterable[int],
    ) -> None:
        me = guild.me
        for role_id, adding in [(r, True) for r in sorted(add)] + [
            (r, False) for r in sorted(remove)
        ]:
            role = guild.get_role(role_id)
            if role is None:
                await self._role_problem(guild, role_id, "no longer exists")
                continue
            if not me.guild_permissions.manage_roles or not role.is_assignable():
                await self._role_problem(guild, role_id, "is above my highest role")
                continue
            try:
                if adding:
                    await member.add_roles(role, reason="Cocreate points reward")
                else:
                    await member.remove_roles(role, reason="Cocreate points below the threshold")
            except discord.Forbidden:
                await self._role_problem(guild, role_id, "cannot be managed by me")
            except discord.HTTPException:
                log.warning("Could not change role %s of member %s", role_id, member.id)

    async def _role_problem(self, guild: discord.Guild, role_id: int, why: str) -> None:
        """Log an unmanageable reward role and tell moderators, once per role."""
        if not await self.services.points.claim_role_notice(guild.id, role_id):
            log.debug("Reward role %s of guild %s still %s", role_id, guild.id, why)
            return
        log.warning("Reward role %s of guild %s %s; role rewards skip it", role_id, guild.id, why)
        config = await self.services.guild_settings.get(guild.id)
        channel_id = config.channel("modlog_channel") or config.channel("staff_channel")
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, discord.abc.Messageable):
            return
        text = (
            f"⚠️ I can't give or take the points reward role <@&{role_id}>: it {why}. "
            "Move my role above it (Server Settings → Roles) and make sure I have Manage "
            "Roles, or change `points_role_rewards`. I'll only say this once."
        )
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("Could not tell moderators of guild %s about role %s", guild.id, role_id)

    # -- ✅ helpful answers --------------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != HELPFUL_EMOJI or payload.guild_id is None:
            return
        reactor = payload.member
        if reactor is None or reactor.bot:
            return
        found = await self._help_channel(payload.guild_id, payload.channel_id)
        if found is None:
            return
        config, channel = found
        async with self._helpful_lock(payload.message_id):
            answer = _Answer(config, channel, payload.message_id)
            answerer = payload.message_author_id
            if answerer is None:
                message = await answer.message()
                answerer = message.author.id if message else None
            if answerer is None:
                return
            result = await self.services.points.mark_helpful(
                payload.guild_id,
                payload.message_id,
                answerer,
                _marker(reactor, config),
                answer.askers,
            )
        if result.delta:
            await self.apply_role_rewards(payload.guild_id, [answerer])

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """The ✅ that paid is gone: its points go back, unless another qualifying ✅ (the
        asker's or a moderator's) is still on the answer, which then carries the award."""
        if str(payload.emoji) != HELPFUL_EMOJI or payload.guild_id is None:
            return
        await self._helpful_removed(
            payload.guild_id, payload.channel_id, payload.message_id, payload.user_id
        )

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        if payload.guild_id is not None:
            await self._helpful_removed(
                payload.guild_id, payload.channel_id, payload.message_id, None
            )

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(
        self, payload: discord.RawReactionClearEmojiEvent
    ) -> None:
        if str(payload.emoji) == HELPFUL_EMOJI and payload.guild_id is not None:
            await self._helpful_removed(
                payload.guild_id, payload.channel_id, payload.message_id, None
            )

    async def _helpful_removed(
        self, guild_id: int, channel_id: int, message_id: int, remover_id: int | None
    ) -> None:
        """``remover_id`` None: a moderator cleared the reactions, whoever's ✅ paid."""
        found = await self._help_channel(guild_id, channel_id)
        if found is None:
            return
        config, channel = found
        async with self._helpful_lock(message_id):
            answer = _Answer(config, channel, message_id)
            undone = await self.services.points.unmark_helpful(
                guild_id,
                message_id,
                removed_by=remover_id,
                markers=answer.markers,
                askers=answer.askers,
            )
        if undone is not None and undone.member_id:
            await self.apply_role_rewards(guild_id, [undone.member_id])

    def _helpful_lock(self, message_id: int) -> asyncio.Lock:
        lock = self._helpful_locks.get(message_id)
        if lock is None:
            lock = self._helpful_locks[message_id] = asyncio.Lock()
        return lock

    async def _help_channel(self, guild_id: int, channel_id: int) -> tuple[GuildConfig, Any] | None:
        """The guild's settings and the channel, if it is (in) a configured help channel."""
        config = await self.services.guild_settings.get(guild_id)
        help_channels = config.channels("help_channels")
        if not help_channels:
            return None
        channel: Any = self.bot.get_channel(channel_id)
        if channel is None:  # e.g. an older forum post's thread, not in the cache
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                return None
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        if channel_id not in help_channels and parent_id not in help_channels:
            return None
        return config, channel

    # -- commands --------------------------------------------------------------------------
    async def _hidden(self, interaction: discord.Interaction) -> _Hidden:
        """Who leaderboards and ranks leave out in this guild (who left; staff if set)."""
        guild = interaction.guild
        assert guild is not None
        if not guild.chunked and self.bot.intents.members:
            await guild.chunk()  # once per guild and session: "left" needs the member list
        config = await self.services.guild_settings.get(guild.id)
        rules = await self.services.points.rules(guild.id)
        return _Hidden(guild, config, exclude_staff=rules.exclude_staff)

    async def board(
        self,
        interaction: discord.Interaction,
        period: Period,
        family: str | None,
        page: int,
        *,
        image: bool = False,
    ) -> _Board:
        """One leaderboard page, its pager and, with ``image``, the page drawn as a chart
        (the command and the buttons share it)."""
        guild = interaction.guild
        assert guild is not None
        result = await self.services.points.leaderboard(
            guild.id,
            period,
            family,
            page=page,
            per_page=PER_PAGE,
            exclude=await self._hidden(interaction),
        )
        embed = render.leaderboard_embed(result, family)
        view = _pager(period, family, result.page, result.has_next, image=image)
        file = await self._picture(guild, result, family) if image else None
        if file is not None:
            embed.set_image(url=f"attachment://{render.LEADERBOARD_IMAGE}")
        return _Board(embed, view, file)

    async def _picture(
        self, guild: discord.Guild, result: LeaderboardResult, family: str | None
    ) -> discord.File | None:
        """The page as a PNG, drawn in a worker thread (matplotlib would hold the event loop
        for tens of milliseconds). None when drawing fails: the board goes out without it."""
        names = {
            member_id: member.display_name
            for _, member_id, _ in result.rows
            if (member := guild.get_member(member_id)) is not None
        }
        try:
            png = await asyncio.to_thread(render.leaderboard_chart, result, family, names)
        except Exception:
            log.exception("Could not draw a leaderboard of guild %s; sending it without", guild.id)
            return None
        return discord.File(io.BytesIO(png), filename=render.LEADERBOARD_IMAGE)

    @group.command(name="show", description="Your points (or a member's): totals, rank, recent")
    @app_commands.describe(user="Whose points; yours if empty")
    async def show(
        self, interaction: discord.Interaction, user: discord.Member | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        target = user or interaction.user
        result = await self.services.points.show(
            interaction.guild_id,
            target.id,
            exclude=await self._hidden(interaction),
            viewer_id=interaction.user.id,
        )
        await interaction.followup.send(
            embed=render.member_card(result, target.display_name), ephemeral=True
        )

    @group.command(name="leaderboard", description="Who contributed most, by period and kind")
    @app_commands.describe(
        period="Which period (default: all time)",
        kind="Only one kind",
        image="Also draw the page as a picture",
    )
    @app_commands.choices(period=PERIOD_CHOICES, kind=KIND_CHOICES)
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        period: app_commands.Choice[str] | None = None,
        kind: app_commands.Choice[str] | None = None,
        image: bool = False,
    ) -> None:
        await interaction.response.defer()
        chosen = Period(period.value) if period else Period.ALL
        board = await self.board(interaction, chosen, kind.value if kind else None, 0, image=image)
        # discord.py takes a missing view or file, not None.
        extra: dict[str, Any] = {}
        if board.view is not None:
            extra["view"] = board.view
        if board.file is not None:
            extra["file"] = board.file
        await interaction.followup.send(embed=board.embed, **extra)

    @group.command(name="history", description="A member's points entries, newest first")
    @app_commands.describe(user="Whose history")
    @moderator_only()
    async def history(self, interaction: discord.Interaction, user: discord.Member) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        entries = await self.services.points.history(
            interaction.guild_id, user.id, limit=25, viewer_id=interaction.user.id
        )
        await interaction.followup.send(
            embed=render.history_embed(user.display_name, entries), ephemeral=True
        )

    @group.command(name="adjust", description="Add or remove points, with a reason")
    @app_commands.describe(
        user="Whose points",
        delta="Points to add (negative to remove)",
        reason="Why (the member sees it in their history)",
    )
    @moderator_only()
    async def adjust(
        self,
        interaction: discord.Interaction,
        user: discord.Member,
        delta: int,
        reason: app_commands.Range[str, 1, 200],
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        # Someone who is not a member never gets here: Discord resolves no member for them
        # and the option's converter answers with an error before this runs.
        if user.bot:
            raise InvalidInput("Bots don't collect points.")
        result = await self.services.points.adjust(
            interaction.guild_id,
            user.id,
            delta,
            reason,
            interaction.user.id,
            key=str(interaction.id),
        )
        total, _ = await self.services.points.totals(interaction.guild_id, user.id)
        reason = clean_line(reason)  # shown as stored
        await interaction.followup.send(
            f"{render.signed(result.delta)} points for {user.mention}: {reason}. "
            f"Their total is now **{total}**.",
            ephemeral=True,
        )
        await mod_log(
            self.bot,
            interaction.guild_id,
            interaction.user,
            "points.adjust",
            f"{user.mention} {render.signed(delta)}: {reason}",
        )
        await self.apply_role_rewards(interaction.guild_id, [user.id])

    @season_group.command(name="start", description="Archive this season and start the next")
    @moderator_only()
    async def season_start(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer()
        result = await self.services.points.start_season(interaction.guild_id, interaction.user.id)
        text = render.season_text(result)
        await interaction.followup.send(text)
        await mod_log(self.bot, interaction.guild_id, interaction.user, "points.season_start", text)
        guild = interaction.guild
        if result.recheck_roles and guild is not None:
            holders = {
                m.id
                for role_id in result.recheck_roles
                if (role := guild.get_role(role_id)) is not None
                for m in role.members
            }
            await self.apply_role_rewards(interaction.guild_id, holders)

    @group.command(name="innovators", description="Whose ideas most often become real (365 days)")
    async def innovators(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer()
        if not guild.chunked and self.bot.intents.members:
            await guild.chunk()
        config = await self.services.guild_settings.get(guild.id)
        rules = await self.services.points.rules(guild.id)
        hidden = _Hidden(guild, config, exclude_staff=rules.exclude_staff)
        scores = await self.services.points.innovators(guild.id, limit=10, exclude=hidden)
        await interaction.followup.send(embed=render.innovators_embed(scores))


async def setup(bot: CocreateBot) -> None:
    """Load the points cog (discord.py's extension entry point)."""
    await bot.add_cog(Points(bot))
