"""Ideas in Discord: capture (tag, forum, /idea submit, context menu), cards with vote
buttons, status changes told to everyone concerned, merge, moderation and browsing.

Thin by design: each handler parses, calls ``IdeaService``, and renders. The service has
committed before anything is posted or acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot, MessageHandler
from bot.domain.guild_config import Access, GuildConfig
from bot.domain.idea_model import (
    Idea,
    IdeaDraft,
    IdeaPage,
    ListFilters,
    SimilarCandidate,
    StatusChange,
)
from bot.domain.ideas import IdeaStatus
from bot.domain.notify import PendingNotice, plan_dms
from bot.domain.ranking import SortOrder
from bot.domain.text import clean_block
from bot.domain.timeparse import format_duration, parse_duration
from bot.errors import InvalidInput, NotFound, PermissionDenied, UserError
from bot.render import ideas as render
from bot.scheduling.timers import Timer
from cogs._common import access, bot_of, mod_log, moderator_only, require
from cogs._errors import ReportingDynamicItem, ReportingModal, describe, notify_message_problem

log = logging.getLogger(__name__)

DM_TIMER = "ideas.dm"
CARD_REFRESH_DELAY = 1.0  # votes within a second become one card edit
DRAFT_TTL = 15 * 60
CURSOR_FLUSH_SECONDS = 30.0
STATUS_CHOICES = [
    app_commands.Choice(name=render.status_label(s), value=s.value)
    for s in IdeaStatus
    if s not in (IdeaStatus.HIDDEN, IdeaStatus.WITHDRAWN)
]
SORT_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in SortOrder]


def _services(interaction: discord.Interaction) -> Any:
    return bot_of(interaction).services


def _cog(interaction: discord.Interaction) -> Ideas:
    cog = bot_of(interaction).get_cog("Ideas")
    assert isinstance(cog, Ideas)
    return cog


# -- buttons that survive restarts (state in the custom_id) --------------------------------
class VoteButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:vote:(?P<number>\d+):(?P<value>up|down)",
):
    """Support/oppose on a card. Clicking your current vote again takes it back."""

    def __init__(self, number: int, value: str, count: int = 0) -> None:
        up = value == "up"
        super().__init__(
            discord.ui.Button(
                label=f"Support · {count}" if up else f"Oppose · {count}",
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.success if up else discord.ButtonStyle.secondary,
                custom_id=f"idea:vote:{number}:{value}",
            )
        )
        self.number = number
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["number"]), match["value"])

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        ideas = _services(interaction).ideas
        wanted = 1 if self.value == "up" else -1
        current = await ideas.my_vote(interaction.guild_id, self.number, interaction.user.id)
        result = await ideas.vote(
            interaction.guild_id,
            self.number,
            interaction.user.id,
            0 if current == wanted else wanted,
        )
        _cog(interaction).refresh_card(result.idea)
        if result.current == 0:
            text = f"Your vote on #{self.number} is removed."
        elif result.current == 1:
            text = f"👍 You support #{self.number}. You'll see its updates in its thread."
        else:
            text = f"👎 You oppose #{self.number}."
        await interaction.followup.send(text, ephemeral=True)


class FollowButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:follow:(?P<number>\d+)",
):
    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Follow",
                emoji="🔔",
                style=discord.ButtonStyle.secondary,
                custom_id=f"idea:follow:{number}",
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> FollowButton:
        return cls(int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        ideas = _services(interaction).ideas
        idea = await ideas.visible(interaction.guild_id, self.number)
        following = interaction.user.id in await ideas.followers(idea.id)
        await ideas.follow(interaction.guild_id, self.number, interaction.user.id, not following)
        dms, _ = await ideas.dm_state(interaction.guild_id, interaction.user.id)
        if following:
            text = f"You no longer follow #{self.number}."
        else:
            text = f"🔔 You follow #{self.number}."
            if not dms:
                text += (
                    " Changes appear in its thread; `/idea notifications on` sends them by DM too."
                )
        await interaction.followup.send(text, ephemeral=True)


class StatusButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:status:(?P<number>\d+)",
):
    """Moderators: pick a new status (a select), then give the reason (a modal)."""

    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Decide",
                emoji="🧭",
                style=discord.ButtonStyle.primary,
                custom_id=f"idea:status:{number}",
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> StatusButton:
        return cls(int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        idea = await _services(interaction).ideas.get(interaction.guild_id, self.number)
        view = discord.ui.View(timeout=None)
        view.add_item(StatusPick(self.number, idea.status))
        await interaction.followup.send(
            f"#{idea.number} is {render.status_label(idea.status)}. Choose its new status:",
            view=view,
            ephemeral=True,
        )


def _targets(current: IdeaStatus) -> list[IdeaStatus]:
    from bot.domain.ideas import allowed_targets

    return [
        s for s in allowed_targets(current) if s not in (IdeaStatus.HIDDEN, IdeaStatus.WITHDRAWN)
    ]


class StatusPick(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"idea:pick:(?P<number>\d+)",
):
    def __init__(self, number: int, current: IdeaStatus | None = None) -> None:
        options = [
            discord.SelectOption(
                label=render.STATUS_STYLE[s][1], value=s.value, emoji=render.STATUS_STYLE[s][0]
            )
            for s in (_targets(current) if current else list(IdeaStatus))
        ] or [discord.SelectOption(label="No change possible", value="none")]
        super().__init__(discord.ui.Select(custom_id=f"idea:pick:{number}", options=options[:25]))
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> StatusPick:
        return cls(int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await require(interaction, Access.MODERATOR)
        data: Any = interaction.data or {}
        values = data.get("values") or []
        if not values or values[0] == "none":
            raise InvalidInput("Pick a status.")
        await interaction.response.send_modal(ReasonModal(self.number, IdeaStatus(values[0])))


class ReasonModal(ReportingModal, title="Decision"):
    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Reason (the author and followers see it)",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
    )

    def __init__(self, number: int, status: IdeaStatus) -> None:
        super().__init__(title=f"#{number} → {render.STATUS_STYLE[status][1]}"[:45])
        self.number = number
        self.status = status

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await _cog(interaction).change_status(
            interaction, self.number, self.status, str(self.reason.value) or None
        )
        await interaction.followup.send(
            f"#{change.idea.number} is now {render.status_label(change.new)}.", ephemeral=True
        )


class SimilarChoice(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:draft:(?P<token>[0-9a-f]{12}):(?P<action>submit|support):(?P<number>\d+)",
):
    """Before storing an interactive submission: "Submit anyway" or "Support #N instead"."""

    def __init__(self, token: str, action: str, number: int = 0) -> None:
        label = "Submit anyway" if action == "submit" else f"Support #{number} instead"
        style = discord.ButtonStyle.primary if action == "submit" else discord.ButtonStyle.success
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"idea:draft:{token}:{action}:{number}"
            )
        )
        self.token, self.action, self.number = token, action, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SimilarChoice:
        return cls(match["token"], match["action"], int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        cog = _cog(interaction)
        draft = cog.drafts.get(self.token)
        if draft is None or draft.guild_id != interaction.guild_id:
            raise UserError("That draft has expired; please submit it again.", code="draft_expired")
        if interaction.user.id not in (draft.author_id, *draft.contributors):
            raise PermissionDenied("Only the member who submitted this can choose.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        ideas = _services(interaction).ideas
        if self.action == "support":
            result = await ideas.vote(interaction.guild_id, self.number, interaction.user.id, 1)
            cog.drafts.pop(self.token, None)
            cog.refresh_card(result.idea)
            link = f" {result.idea.card_url}" if result.idea.card_url else ""
            await interaction.followup.send(
                f"👍 You support #{self.number} instead.{link}", ephemeral=True
            )
            return
        cog.drafts.pop(self.token, None)
        source = None
        if draft.source == "menu" and draft.source_channel_id and draft.source_message_id:
            channel = cog._channel(draft.source_channel_id)
            if isinstance(channel, discord.TextChannel | discord.Thread):
                source = channel.get_partial_message(draft.source_message_id)
        idea = await cog.store_and_publish(draft, similar=[], reply_to=source)
        await interaction.followup.send(
            f"Thanks! Your idea is #{idea.number}. {idea.card_url or ''}", ephemeral=True
        )


class KeepOrSupport(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:dupe:(?P<mine>\d+):(?P<other>\d+)",
):
    """For an idea captured from a message or forum post that resembles another one: its
    author may withdraw it and support the other instead."""

    def __init__(self, mine: int, other: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Support #{other} instead",
                style=discord.ButtonStyle.secondary,
                custom_id=f"idea:dupe:{mine}:{other}",
            )
        )
        self.mine, self.other = mine, other

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> KeepOrSupport:
        return cls(int(match["mine"]), int(match["other"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        ideas = _services(interaction).ideas
        mine = await ideas.get(interaction.guild_id, self.mine)
        if interaction.user.id != mine.author_id:
            raise PermissionDenied("Only the idea's author can choose this.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        vote = await ideas.vote(interaction.guild_id, self.other, interaction.user.id, 1)
        cog = _cog(interaction)
        change = await cog.change_status(
            interaction,
            self.mine,
            IdeaStatus.WITHDRAWN,
            f"The author supports #{self.other} instead.",
        )
        cog.refresh_card(vote.idea)
        await interaction.followup.send(
            f"#{change.idea.number} is withdrawn and you support #{self.other}.", ephemeral=True
        )


class PageButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:page:(?P<view>list|search|mine):(?P<page>\d+):(?P<state>.*)",
):
    """Pagination for /idea list, search and mine; the query lives in the custom_id."""

    def __init__(self, view: str, page: int, state: str, label: str) -> None:
        custom_id = f"idea:page:{view}:{page}:{state}"[:100]
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=custom_id)
        )
        self.listing, self.page, self.state = view, page, state

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PageButton:
        return cls(match["view"], int(match["page"]), match["state"], "")

    async def handle(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        embed, view = await _cog(interaction).page(interaction, self.listing, self.page, self.state)
        await interaction.edit_original_response(embed=embed, view=view)


def _pager(view: str, page: IdeaPage, state: str) -> discord.ui.View | None:
    if page.pages <= 1:
        return None
    pager = discord.ui.View(timeout=None)
    if page.page > 1:
        pager.add_item(PageButton(view, page.page - 1, state, "◀ Previous"))
    if page.page < page.pages:
        pager.add_item(PageButton(view, page.page + 1, state, "Next ▶"))
    return pager


def card_view(idea: Idea, *, oppose_enabled: bool) -> discord.ui.View | None:
    if idea.status in (IdeaStatus.HIDDEN,):
        return None
    view = discord.ui.View(timeout=None)
    if (
        idea.status
        in (IdeaStatus.NEW, IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS)
        and not idea.merged_into
    ):
        view.add_item(VoteButton(idea.number, "up", idea.support))
        if oppose_enabled:
            view.add_item(VoteButton(idea.number, "down", idea.oppose))
    view.add_item(FollowButton(idea.number))
    view.add_item(StatusButton(idea.number))
    return view


# -- modals for /idea submit and edit -----------------------------------------------------
class SubmitModal(ReportingModal, title="Share an idea"):
    idea_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Title", placeholder="One line that says what you'd like", max_length=100
    )
    description: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Description",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=4000,
        placeholder="The problem it solves, who has it, how you'd know it works",
    )

    def __init__(self, kind: str, tags: tuple[str, ...]) -> None:
        super().__init__()
        self.kind = kind
        self.tags = tags

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None and interaction.channel_id is not None
        draft = IdeaDraft(
            guild_id=interaction.guild_id,
            author_id=interaction.user.id,
            title=str(self.idea_title.value),
            body=str(self.description.value or ""),
            kind=self.kind,
            tags=self.tags,
            source="modal",
            source_channel_id=None,
        )
        await _cog(interaction).submit_interactive(interaction, draft)


class EditModal(ReportingModal, title="Edit idea"):
    def __init__(self, idea: Idea) -> None:
        super().__init__(title=f"Edit #{idea.number}"[:45])
        self.number = idea.number
        self.idea_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Title", default=idea.title, max_length=100
        )
        self.description: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Description",
            style=discord.TextStyle.paragraph,
            default=idea.body[:4000] or None,
            required=False,
            max_length=4000,
        )
        self.add_item(self.idea_title)
        self.add_item(self.description)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        moderator = Access.MODERATOR in await access(interaction)
        idea = await _services(interaction).ideas.edit(
            interaction.guild_id,
            self.number,
            interaction.user.id,
            title=str(self.idea_title.value),
            body=str(self.description.value or ""),
            moderator=moderator,
        )
        _cog(interaction).refresh_card(idea)
        await interaction.followup.send(f"#{idea.number} is updated.", ephemeral=True)


@dataclass
class _Draft:
    draft: IdeaDraft
    expires: float


class Drafts:
    """Interactive submissions waiting for "Submit anyway" (kept 15 minutes, in memory:
    nothing is stored before the member confirms)."""

    def __init__(self) -> None:
        self._items: dict[str, _Draft] = {}

    def put(self, draft: IdeaDraft) -> str:
        self._sweep()
        token = secrets.token_hex(6)
        self._items[token] = _Draft(draft, time.monotonic() + DRAFT_TTL)
        return token

    def get(self, token: str) -> IdeaDraft | None:
        self._sweep()
        item = self._items.get(token)
        return item.draft if item else None

    def pop(self, token: str, default: None = None) -> IdeaDraft | None:
        item = self._items.pop(token, None)
        return item.draft if item else default

    def _sweep(self) -> None:
        now = time.monotonic()
        for token in [t for t, d in self._items.items() if d.expires < now]:
            del self._items[token]


async def _idea_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    if interaction.guild_id is None:
        return []
    ideas = _services(interaction).ideas
    text = current.strip().lstrip("#")
    if text.isdigit():
        try:
            idea = await ideas.visible(interaction.guild_id, int(text))
        except NotFound:
            return []
        return [
            app_commands.Choice(
                name=render.clip(f"#{idea.number} {idea.title}", 100), value=idea.number
            )
        ]
    if text:
        page = await ideas.search(interaction.guild_id, text)
    else:
        page = await ideas.browse(
            interaction.guild_id, ListFilters(include_closed=False), SortOrder.NEW
        )
    return [
        app_commands.Choice(name=render.clip(f"#{i.number} {i.title}", 100), value=i.number)
        for i in page.items
    ]


async def _kind_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    if interaction.guild_id is None:
        return []
    config = await _services(interaction).guild_settings.get(interaction.guild_id)
    kinds = sorted({str(e).partition("=")[2] or str(e) for e in config["ideas_tags"]} | {"idea"})
    return [app_commands.Choice(name=k, value=k) for k in kinds if current.lower() in k][:25]


@dataclass(frozen=True, slots=True)
class _MessageRoutes:
    """What the per-message triage needs from one guild's settings, derived once per
    settings object (a settings change replaces the object, which invalidates this)."""

    config: GuildConfig
    watched: frozenset[int]
    #: Threads under these channels are idea discussions (first comments are recorded).
    idea_parents: frozenset[int]

    @classmethod
    def of(cls, config: GuildConfig) -> _MessageRoutes:
        parents = (config.channel("ideas_channel"), config.channel("ideas_forum"))
        return cls(
            config,
            config.channels("watched_channels"),
            frozenset(p for p in parents if p is not None),
        )


# -- the cog -------------------------------------------------------------------------------
class Ideas(commands.Cog):
    """Everything about ideas."""

    group = app_commands.Group(
        name="idea", description="Share, vote on and decide ideas", guild_only=True
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.drafts = Drafts()
        self._refresh: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._cursors: dict[int, tuple[int, int]] = {}  # channel → (guild, newest message id)
        self._flush_task: asyncio.Task[None] | None = None
        self._catchup_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._routes: dict[int, _MessageRoutes] = {}
        self.capture_menu = app_commands.ContextMenu(
            name="Capture as idea", callback=self.capture_message
        )
        self.capture_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(
            VoteButton,
            FollowButton,
            StatusButton,
            StatusPick,
            SimilarChoice,
            KeepOrSupport,
            PageButton,
        )
        self.bot.tree.add_command(self.capture_menu)
        self.services.timers.register(DM_TIMER, self._send_batched_dm)
        self.bot.add_message_route(self.route_message)
        self._flush_task = asyncio.create_task(
            self._flush_cursors_forever(), name="cocreate:idea-cursors"
        )

    async def cog_unload(self) -> None:
        self.bot.remove_message_route(self.route_message)
        self.bot.tree.remove_command(self.capture_menu.name, type=self.capture_menu.type)
        if self._flush_task:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        await self.flush_cursors()
        for task in list(self._refresh.values()):
            with contextlib.suppress(Exception):
                await task

    # ---------------------------------------------------------------- capture: messages
    def route_message(self, message: discord.Message) -> MessageHandler | None:
        """Decide, without awaiting, what a message needs (see ``CocreateBot.on_message``).

        Runs for every message the bot sees, so the common case (an untagged message, or
        one outside watched channels) does no I/O and allocates nothing beyond the channel
        cursor. Returns the coroutine to run when there is work.
        """
        guild = message.guild
        if guild is None or message.author.bot:
            return None
        config = self.services.guild_settings.cached(guild.id)
        if config is None:  # first message since start or since a settings change
            return self.handle_message
        routes = self._routes.get(guild.id)
        if routes is None or routes.config is not config:
            routes = self._routes[guild.id] = _MessageRoutes.of(config)
        channel = message.channel
        if isinstance(channel, discord.Thread):
            return self._record_comment if channel.parent_id in routes.idea_parents else None
        if channel.id not in routes.watched:
            return None
        self._cursors[channel.id] = (guild.id, message.id)
        content = message.content
        if "[" not in content and "#" not in content:  # no tag possible: the fast path
            return None
        return self._capture_tagged

    async def handle_message(self, message: discord.Message) -> None:
        """Everything this cog does with a message, awaited in place; loads the guild's
        settings first when :meth:`route_message` could not decide without them."""
        if message.guild is not None:
            await self.services.guild_settings.get(message.guild.id)
        handler = self.route_message(message)
        if handler is not None and handler != self.handle_message:
            await handler(message)

    async def _record_comment(self, message: discord.Message) -> None:
        await self.services.ideas.record_comment(message.channel.id, message.author.id)

    async def _capture_tagged(self, message: discord.Message) -> Idea | None:
        assert message.guild is not None
        names = {c.id: c.name for c in message.channel_mentions}
        try:
            parsed = await self.services.ideas.parse_message(
                message.guild.id, message.content, names
            )
            if parsed is None:
                return None
            draft = IdeaDraft(
                guild_id=message.guild.id,
                author_id=message.author.id,
                title=parsed.title,
                body=parsed.body,
                kind=parsed.kind,
                tags=parsed.tags,
                source="message",
                source_channel_id=message.channel.id,
                source_message_id=message.id,
            )
            existing = await self.services.ideas.by_source(message.guild.id, message.id)
            if existing is not None:
                return existing
            await self.services.ideas.check_can_submit(message.guild.id, message.author.id)
            return await self.store_and_publish(draft, reply_to=message)
        except UserError as exc:
            await notify_message_problem(message, str(exc))
            return None

    def _can_read(self, message: discord.Message) -> bool:
        """Whether the bot sees ``message``'s text: without the message content intent,
        Discord sends other members' messages empty (unless they mention the bot), and an
        empty text is not an edit to follow."""
        me = self.bot.user
        return self.bot.intents.message_content or (
            me is not None and any(u.id == me.id for u in message.mentions)
        )

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A captured message changed: its `new` idea follows (the service decides)."""
        if payload.guild_id is None or "content" not in payload.data:
            return
        if not self._can_read(payload.message):
            return
        config = await self.services.guild_settings.get(payload.guild_id)
        content = payload.data["content"]
        ideas = self.services.ideas
        try:
            if payload.message_id == payload.channel_id:
                # A forum post's starter message (its id is the post's): the post's text.
                # The ideas forum is not a watched channel; its posts are ideas anyway.
                thread = await self._forum_post(
                    payload.guild_id, payload.channel_id, config.channel("ideas_forum")
                )
                if thread is None:
                    return
                idea = await ideas.forum_post_edited(
                    payload.guild_id,
                    thread.id,
                    title=thread.name,
                    content=content,
                    tags=[t.name for t in thread.applied_tags],
                )
            elif payload.channel_id in config.channels("watched_channels"):
                # Same reading as at capture: a tag Discord turned into a channel mention
                # counts.
                names = {c.id: c.name for c in payload.message.channel_mentions}
                idea = await ideas.source_edited(
                    payload.guild_id, payload.message_id, content, names
                )
            else:
                return
        except UserError as exc:
            log.info("Ignored an edit of source message %s: %s", payload.message_id, exc)
            return
        if idea is not None:
            self.refresh_card(idea)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        result = await self.services.ideas.source_deleted(payload.guild_id, payload.message_id)
        if isinstance(result, StatusChange):
            await self.announce_status(result)
        elif result is not None:
            self.refresh_card(result)

    # ------------------------------------------------------------- capture: forum posts
    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        guild = thread.guild
        config = await self.services.guild_settings.get(guild.id)
        if thread.parent_id is None or thread.parent_id != config.channel("ideas_forum"):
            return
        starter = thread.starter_message
        if starter is None:
            try:
                starter = await thread.fetch_message(thread.id)
            except discord.HTTPException:
                log.warning("Could not read the starter message of forum post %s", thread.id)
                return
        await self._capture_forum_post(thread, starter)

    @commands.Cog.listener()
    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        """A post in the ideas forum was renamed: its `new` idea takes the new title."""
        name = payload.data.get("name")
        if name is None:
            return
        config = await self.services.guild_settings.get(payload.guild_id)
        forum_id = config.channel("ideas_forum")
        if forum_id is None or payload.parent_id != forum_id:
            return
        ideas = self.services.ideas
        # Most thread updates (archiving, tags, other posts) concern no `new` idea: ask
        # before reading the starter message, which may take a request.
        if await ideas.following_source(payload.guild_id, payload.thread_id) is None:
            return
        starter = await self._starter_message(payload.guild_id, payload.thread_id)
        if starter is None or not self._can_read(starter):
            return
        forum = self.bot.get_channel(forum_id)
        tags = [
            tag.name
            for raw in payload.data.get("applied_tags", [])
            if isinstance(forum, discord.ForumChannel) and (tag := forum.get_tag(int(raw)))
        ]
        try:
            idea = await ideas.forum_post_edited(
                payload.guild_id, payload.thread_id, title=name, content=starter.content, tags=tags
            )
        except UserError as exc:
            log.info("Ignored a rename of forum post %s: %s", payload.thread_id, exc)
            return
        if idea is not None:
            self.refresh_card(idea)

    async def _forum_post(
        self, guild_id: int, thread_id: int, forum_id: int | None
    ) -> discord.Thread | None:
        """The post ``thread_id`` when it is in the forum ``forum_id`` (cached, else fetched)."""
        if forum_id is None:
            return None
        guild = self.bot.get_guild(guild_id)
        thread = guild.get_thread(thread_id) if guild is not None else None
        if thread is None:
            try:
                fetched = await self.bot.fetch_channel(thread_id)
            except discord.HTTPException:
                return None
            thread = fetched if isinstance(fetched, discord.Thread) else None
        return thread if thread is not None and thread.parent_id == forum_id else None

    async def _starter_message(self, guild_id: int, thread_id: int) -> discord.Message | None:
        """A forum post's starter message (its id is the thread's): cached, else fetched."""
        guild = self.bot.get_guild(guild_id)
        thread = guild.get_thread(thread_id) if guild is not None else None
        if thread is not None and thread.starter_message is not None:
            return thread.starter_message
        channel = self.bot.get_partial_messageable(thread_id, guild_id=guild_id)
        try:
            return await channel.fetch_message(thread_id)
        except discord.HTTPException:
            log.warning("Could not read the starter message of forum post %s", thread_id)
            return None

    async def _capture_forum_post(
        self, thread: discord.Thread, starter: discord.Message
    ) -> Idea | None:
        guild_id = thread.guild.id
        if starter.author.bot:
            return None
        try:
            existing = await self.services.ideas.by_source(guild_id, starter.id)
            if existing is not None:
                return existing
            parsed = await self.services.ideas.parse_forum_post(
                guild_id, thread.name, starter.content, [t.name for t in thread.applied_tags]
            )
            await self.services.ideas.check_can_submit(guild_id, starter.author.id)
            draft = IdeaDraft(
                guild_id=guild_id,
                author_id=starter.author.id,
                title=parsed.title,
                body=parsed.body,
                kind=parsed.kind,
                tags=parsed.tags,
                source="forum",
                source_channel_id=thread.id,
                source_message_id=starter.id,
                thread_id=thread.id,
            )
            return await self.store_and_publish(draft, forum_thread=thread)
        except UserError as exc:
            await notify_message_problem(starter, str(exc))
            return None

    # ------------------------------------------------------- capture: interactive paths
    async def capture_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """The "Capture as idea" message menu: credits the message's author."""
        assert interaction.guild_id is not None
        config = await self.services.guild_settings.get(interaction.guild_id)
        if message.channel.id not in config.channels("watched_channels"):
            raise InvalidInput(
                "Ideas are only captured from watched channels (a moderator sets them)."
            )
        if message.author.bot:
            raise InvalidInput("Messages from bots cannot become ideas.")
        existing = await self.services.ideas.by_source(interaction.guild_id, message.id)
        if existing is not None:
            raise InvalidInput(
                f"That message is already idea #{existing.number}. {existing.card_url or ''}"
            )
        # Read as its edits will be (on_raw_message_edit): the same service call.
        names = {c.id: c.name for c in message.channel_mentions}
        parsed = await self.services.ideas.parse_captured(
            interaction.guild_id, message.content, names
        )
        draft = IdeaDraft(
            guild_id=interaction.guild_id,
            author_id=message.author.id,
            title=parsed.title,
            body=parsed.body,
            kind=parsed.kind,
            tags=parsed.tags,
            source="menu",
            source_channel_id=message.channel.id,
            source_message_id=message.id,
            contributors=(interaction.user.id,) if interaction.user.id != message.author.id else (),
        )
        await self.submit_interactive(interaction, draft, reply_to=message)

    async def submit_interactive(
        self,
        interaction: discord.Interaction,
        draft: IdeaDraft,
        *,
        reply_to: discord.Message | None = None,
    ) -> None:
        """Modal and context-menu submissions: show similar ideas before storing anything."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        ideas = self.services.ideas
        # Validate before asking about duplicates: a bad title fails now, with nothing stored.
        from bot.domain.ideas import validate_body, validate_title
        from bot.services._util import domain_errors

        with domain_errors():
            validate_title(draft.title)
            validate_body(draft.body)
        await ideas.check_can_submit(draft.guild_id, interaction.user.id)
        similar = await ideas.similar(draft.guild_id, draft.title, draft.body)
        if similar:
            token = self.drafts.put(draft)
            view = discord.ui.View(timeout=None)
            view.add_item(SimilarChoice(token, "submit"))
            for candidate in similar[:3]:
                view.add_item(SimilarChoice(token, "support", candidate.number))
            await interaction.followup.send(
                "These ideas look similar. Supporting one gives it more weight than a twin:\n"
                + render.similar_lines(similar),
                view=view,
                ephemeral=True,
            )
            return
        idea = await self.store_and_publish(draft, similar=[], reply_to=reply_to)
        await interaction.followup.send(
            f"Thanks! Your idea is #{idea.number}. {idea.card_url or ''}".strip(), ephemeral=True
        )

    # ------------------------------------------------------------------- publishing
    async def store_and_publish(
        self,
        draft: IdeaDraft,
        *,
        similar: list[SimilarCandidate] | None = None,
        reply_to: discord.Message | discord.PartialMessage | None = None,
        forum_thread: discord.Thread | None = None,
    ) -> Idea:
        """Store the idea (committed first), then post its card, thread and source reply."""
        ideas = self.services.ideas
        if similar is None:
            similar = await ideas.similar(draft.guild_id, draft.title, draft.body)
        submission = await ideas.submit(draft, check_rate=False)
        idea = submission.idea
        if not submission.created:
            return idea
        similar = [s for s in similar if s.number != idea.number]
        config = await self.services.guild_settings.get(idea.guild_id)
        oppose = bool(config["ideas_oppose_votes"])
        embed = render.idea_card(idea, oppose_enabled=oppose, similar=similar)
        view = card_view(idea, oppose_enabled=oppose)
        card: discord.Message | None = None
        thread_id: int | None = None
        try:
            if forum_thread is not None:
                card = await forum_thread.send(embed=embed, view=view or discord.utils.MISSING)
                thread_id = forum_thread.id
            else:
                channel = self._channel(config.channel("ideas_channel")) or (
                    reply_to.channel if reply_to is not None else None
                )
                if isinstance(channel, discord.TextChannel):
                    card = await channel.send(embed=embed, view=view or discord.utils.MISSING)
                    thread = await card.create_thread(
                        name=render.clip(f"#{idea.number} {idea.title}", 100)
                    )
                    thread_id = thread.id
                    author = self.bot.get_user(idea.author_id)
                    if author is not None:
                        with contextlib.suppress(discord.HTTPException):
                            await thread.add_user(author)
        except discord.HTTPException as exc:
            log.warning("Could not post the card of idea %s: %s", idea.id, exc)
        if card is not None:
            await ideas.attach_card(idea.id, card.channel.id, card.id, thread_id)
            idea = await ideas.get(idea.guild_id, idea.number)
        # Tagged messages and "Capture as idea" both have a source message: link it.
        if reply_to is not None and draft.source in ("message", "menu"):
            await self._reply_to_source(reply_to, idea, similar)
        return idea

    async def _reply_to_source(
        self,
        message: discord.Message | discord.PartialMessage,
        idea: Idea,
        similar: list[SimilarCandidate],
    ) -> None:
        text = f"💡 Captured as idea **#{idea.number}**."
        if idea.card_url:
            text += f" Vote and discuss: {idea.card_url}"
        view = None
        if similar:
            text += (
                "\nIt looks like "
                + ", ".join(f"#{s.number}" for s in similar)
                + "; its author may support one instead."
            )
            view = discord.ui.View(timeout=None)
            for candidate in similar[:3]:
                view.add_item(KeepOrSupport(idea.number, candidate.number))
        try:
            await message.reply(text, view=view or discord.utils.MISSING, mention_author=False)
        except discord.HTTPException:
            with contextlib.suppress(discord.HTTPException):
                await message.add_reaction("💡")

    def _channel(self, channel_id: int | None) -> discord.abc.GuildChannel | discord.Thread | None:
        if not channel_id:
            return None
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.abc.GuildChannel | discord.Thread) else None

    # ----------------------------------------------------------------- card refreshes
    def refresh_card(self, idea: Idea) -> None:
        """Edit the card soon; changes within a second become one edit (rate limits)."""
        if not idea.card_message_id:
            return
        self._dirty.add(idea.id)
        task = self._refresh.get(idea.id)
        if task is None or task.done():
            self._refresh[idea.id] = asyncio.create_task(
                self._refresh_later(idea.guild_id, idea.number, idea.id),
                name=f"cocreate:card-{idea.id}",
            )

    async def _refresh_later(self, guild_id: int, number: int, idea_id: int) -> None:
        try:
            while idea_id in self._dirty:
                await asyncio.sleep(CARD_REFRESH_DELAY)
                self._dirty.discard(idea_id)
                await self._edit_card(await self.services.ideas.get(guild_id, number))
        except Exception:
            log.exception("Refreshing the card of idea %s failed", idea_id)
        finally:
            self._refresh.pop(idea_id, None)

    async def _edit_card(self, idea: Idea) -> None:
        channel = self._channel(idea.card_channel_id)
        if (
            channel is None
            or not idea.card_message_id
            or not isinstance(channel, discord.abc.Messageable)
        ):
            return
        config = await self.services.guild_settings.get(idea.guild_id)
        oppose = bool(config["ideas_oppose_votes"])
        view = card_view(idea, oppose_enabled=oppose)
        message = channel.get_partial_message(idea.card_message_id)
        try:
            await message.edit(embed=render.idea_card(idea, oppose_enabled=oppose), view=view)
        except discord.NotFound:
            log.info("The card of idea %s is gone", idea.id)

    # ------------------------------------------------------------------ status changes
    async def change_status(
        self, interaction: discord.Interaction, number: int, status: IdeaStatus, reason: str | None
    ) -> StatusChange:
        assert interaction.guild_id is not None
        moderator = Access.MODERATOR in await access(interaction)
        change = await self.services.ideas.change_status(
            interaction.guild_id, number, status, reason, interaction.user.id, moderator=moderator
        )
        await self.announce_status(change)
        if moderator and change.idea.author_id != interaction.user.id:
            await mod_log(
                self.bot,
                interaction.guild_id,
                interaction.user,
                "idea.status",
                f"#{number}: {change.old.value} → {change.new.value}"
                + (f" — {change.reason}" if change.reason else ""),
            )
        return change

    async def announce_status(self, change: StatusChange) -> None:
        """Card, thread message (mentioning only the author), author DM, follower DMs."""
        idea = change.idea
        self.refresh_card(idea)
        if IdeaStatus.HIDDEN in (change.old, change.new):
            return  # moderation: no notifications
        thread = self._channel(idea.thread_id)
        if isinstance(thread, discord.Thread):
            ping = discord.AllowedMentions(
                users=[discord.Object(idea.author_id)], everyone=False, roles=False
            )
            with contextlib.suppress(discord.HTTPException):
                await thread.send(render.thread_status_text(change), allowed_mentions=ping)
        if idea.author_id and idea.author_id != change.actor_id:
            await self._dm(
                idea.author_id, render.author_dm_text(change, self._guild_name(idea.guild_id))
            )
        for member_id in change.queued_for:
            await self._schedule_dm(idea.guild_id, member_id)
        if change.new is IdeaStatus.IMPLEMENTED:
            config = await self.services.guild_settings.get(idea.guild_id)
            shipped = self._channel(config.channel("shipped_channel"))
            if isinstance(shipped, discord.TextChannel):
                with contextlib.suppress(discord.HTTPException):
                    await shipped.send(render.shipped_text(idea))

    def _guild_name(self, guild_id: int) -> str:
        guild = self.bot.get_guild(guild_id)
        return guild.name if guild else "the server"

    async def _dm(self, member_id: int, text: str) -> bool:
        user = self.bot.get_user(member_id)
        if user is None:
            try:
                user = await self.bot.fetch_user(member_id)
            except discord.HTTPException:
                return False
        try:
            await user.send(text)
            return True
        except discord.HTTPException:
            log.info("Could not DM member %s (DMs closed?)", member_id)
            return False

    async def _schedule_dm(self, guild_id: int, member_id: int) -> None:
        _, last = await self.services.ideas.dm_state(guild_id, member_id)
        now = self.services.clock()
        plan = plan_dms(
            [PendingNotice(member_id, 0, IdeaStatus.NEW, IdeaStatus.NEW, None, now)],
            {member_id: last} if last else {},
            now,
        )
        due = now if member_id in plan.send else plan.waiting[member_id]
        await self.services.timers.schedule(
            guild_id, DM_TIMER, f"{guild_id}:{member_id}", due, {"member_id": member_id}
        )

    async def _send_batched_dm(self, timer: Timer) -> None:
        member_id = int(timer.payload["member_id"])
        notices = await self.services.ideas.pending_notices(timer.guild_id, member_id)
        if not notices:
            return
        dms_on, _ = await self.services.ideas.dm_state(timer.guild_id, member_id)
        if dms_on:
            await self._dm(
                member_id, render.batched_dm_text(notices, self._guild_name(timer.guild_id))
            )
        # Marked sent either way: a member who turned DMs off meanwhile reads the threads.
        await self.services.ideas.mark_sent(timer.guild_id, member_id, [n.id for n in notices])

    # ------------------------------------------------------------------ reaction votes
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction_vote(payload, 1)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction_vote(payload, 0)

    async def _reaction_vote(self, payload: discord.RawReactionActionEvent, value: int) -> None:
        if (
            payload.guild_id is None
            or str(payload.emoji) != "👍"
            or (self.bot.user is not None and payload.user_id == self.bot.user.id)
        ):
            return
        config = await self.services.guild_settings.get(payload.guild_id)
        if not config["ideas_reaction_votes"] or payload.channel_id != config.channel(
            "ideas_channel"
        ):
            return
        idea = await self.services.ideas.by_card(payload.message_id)
        if idea is None:
            return
        try:
            result = await self.services.ideas.vote(
                payload.guild_id, idea.number, payload.user_id, value
            )
        except UserError as exc:
            log.debug("Reaction vote refused: %s", exc)
            return
        self.refresh_card(result.idea)

    # ----------------------------------------------------------------------- catch-up
    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild in self.bot.guilds:  # similar-idea lookups are then instant from the start
            self._background.add(
                asyncio.create_task(
                    self.services.ideas.warm_up(guild.id), name="cocreate:warm-index"
                )
            )
            self._background = {t for t in self._background if not t.done()}
        async with self._catchup_lock:
            for guild in list(self.bot.guilds):
                try:
                    await self.catch_up(guild)
                except Exception:
                    log.exception("Catching up on guild %s failed", guild.id)

    async def catch_up(self, guild: discord.Guild) -> int:
        """Capture tagged messages posted in watched channels while the bot was down."""
        config = await self.services.guild_settings.get(guild.id)
        captured = 0
        for channel_id in config.channels("watched_channels"):
            channel = guild.get_channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                continue
            after = await self.services.ideas.cursor(channel_id)
            if after is None:
                # First run in this channel: start from now, never from the whole history.
                if channel.last_message_id:
                    await self.services.ideas.advance_cursor(
                        guild.id, channel_id, channel.last_message_id
                    )
                continue
            newest = after
            try:
                async for message in channel.history(
                    limit=500, after=discord.Object(after), oldest_first=True
                ):
                    newest = max(newest, message.id)
                    if message.author.bot:
                        continue
                    if await self._capture_tagged(message) is not None:
                        captured += 1
            except discord.HTTPException as exc:
                log.warning("Could not read the history of channel %s: %s", channel_id, exc)
            if newest != after:
                await self.services.ideas.advance_cursor(guild.id, channel_id, newest)
        if config["ideas_reaction_votes"]:
            await self._recount_reactions(guild)
        return captured

    async def _recount_reactions(self, guild: discord.Guild) -> None:
        for idea in await self.services.ideas.open_cards(guild.id):
            channel = guild.get_channel(idea.card_channel_id or 0)
            if not isinstance(channel, discord.TextChannel) or not idea.card_message_id:
                continue
            try:
                message = await channel.fetch_message(idea.card_message_id)
            except discord.HTTPException:
                continue
            reaction = discord.utils.get(message.reactions, emoji="👍")
            voters = set()
            if reaction is not None:
                voters = {u.id async for u in reaction.users() if not u.bot}
            for member_id in voters:
                with contextlib.suppress(UserError):
                    await self.services.ideas.vote(guild.id, idea.number, member_id, 1)

    async def flush_cursors(self) -> None:
        pending, self._cursors = self._cursors, {}
        for channel_id, (guild_id, message_id) in pending.items():
            await self.services.ideas.advance_cursor(guild_id, channel_id, message_id)

    async def _flush_cursors_forever(self) -> None:
        while True:
            await asyncio.sleep(CURSOR_FLUSH_SECONDS)
            try:
                await self.flush_cursors()
            except Exception:
                log.exception("Saving channel cursors failed")

    # ---------------------------------------------------------------------- commands
    @group.command(name="submit", description="Share an idea (opens a form)")
    @app_commands.describe(kind="What it is (idea, feedback, bug, story…)", tag="A topic tag")
    @app_commands.autocomplete(kind=_kind_autocomplete)
    async def submit(
        self,
        interaction: discord.Interaction,
        kind: str = "idea",
        tag: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        # A modal cannot follow a defer: only cheap checks here, the rest on submit.
        tags = (tag.strip().lower(),) if tag else ()
        await interaction.response.send_modal(SubmitModal(kind.strip().lower(), tags))

    @group.command(name="show", description="Show one idea")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def show(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        moderator = Access.MODERATOR in await access(interaction)
        idea = await self.services.ideas.visible(interaction.guild_id, number, moderator=moderator)
        config = await self.services.guild_settings.get(interaction.guild_id)
        await interaction.followup.send(
            embed=render.detail_embed(idea, oppose_enabled=bool(config["ideas_oppose_votes"])),
            ephemeral=True,
        )

    @group.command(name="list", description="Browse ideas")
    @app_commands.describe(sort="top, new, trending or wilson", author="Only this member's ideas")
    @app_commands.choices(status=STATUS_CHOICES, sort=SORT_CHOICES)
    async def list_(
        self,
        interaction: discord.Interaction,
        status: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        author: discord.Member | None = None,
        sort: str = "top",
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        state = "|".join(
            [status or "", kind or "", tag or "", str(author.id) if author else "", sort]
        )
        embed, view = await self.page(interaction, "list", 1, state)
        await interaction.followup.send(
            embed=embed, view=view or discord.utils.MISSING, ephemeral=True
        )

    @group.command(name="search", description="Search ideas by words")
    async def search(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        embed, view = await self.page(interaction, "search", 1, query[:60])
        await interaction.followup.send(
            embed=embed, view=view or discord.utils.MISSING, ephemeral=True
        )

    @group.command(name="mine", description="Your ideas and what became of them")
    async def mine(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        embed, view = await self.page(interaction, "mine", 1, "")
        await interaction.followup.send(
            embed=embed, view=view or discord.utils.MISSING, ephemeral=True
        )

    async def page(
        self, interaction: discord.Interaction, view: str, number: int, state: str
    ) -> tuple[discord.Embed, discord.ui.View | None]:
        assert interaction.guild_id is not None
        ideas = self.services.ideas
        if view == "search":
            page = await ideas.search(interaction.guild_id, state, number)
            title = f"Ideas matching “{state}”"
        elif view == "mine":
            page = await ideas.browse(
                interaction.guild_id,
                ListFilters(author_id=interaction.user.id),
                SortOrder.NEW,
                number,
            )
            title = "Your ideas"
        else:
            status, kind, tag, author, sort = (state.split("|") + [""] * 5)[:5]
            filters = ListFilters(
                status=IdeaStatus(status) if status else None,
                kind=kind or None,
                tag=tag or None,
                author_id=int(author) if author else None,
            )
            try:
                order = SortOrder(sort or "top")
            except ValueError:
                raise InvalidInput("Sort by top, new, trending or wilson.") from None
            page = await ideas.browse(interaction.guild_id, filters, order, number)
            title = f"Ideas · {order.value}" + (
                f" · {render.status_label(status)}" if status else ""
            )
        embed = render.page_embed(title, page, empty="No ideas match.")
        return embed, _pager(view, page, state)

    @group.command(name="status", description="Change an idea's status, with a reason")
    @app_commands.autocomplete(number=_idea_autocomplete)
    @app_commands.choices(status=STATUS_CHOICES)
    @app_commands.describe(reason="Why (required for declined and duplicate); the author sees it")
    @moderator_only()
    async def status(
        self,
        interaction: discord.Interaction,
        number: int,
        status: str,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        change = await self.change_status(interaction, number, IdeaStatus(status), reason)
        await interaction.followup.send(
            f"#{number}: {render.status_label(change.old)} → {render.status_label(change.new)}. "
            "The author was told.",
            ephemeral=True,
        )

    @group.command(name="edit", description="Edit an idea (authors while it is new)")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def edit(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        idea = await self.services.ideas.get(interaction.guild_id, number)  # one indexed read
        moderator = Access.MODERATOR in await access(interaction)
        if not moderator and (
            idea.author_id != interaction.user.id or idea.status is not IdeaStatus.NEW
        ):
            raise PermissionDenied(
                "Only the author (while the idea is new) or a moderator can edit it."
            )
        await interaction.response.send_modal(EditModal(idea))

    @group.command(name="withdraw", description="Withdraw your idea")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def withdraw(
        self,
        interaction: discord.Interaction,
        number: int,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        await self.change_status(interaction, number, IdeaStatus.WITHDRAWN, reason)
        await interaction.followup.send(f"#{number} is withdrawn.", ephemeral=True)

    @group.command(name="history", description="Everything that happened to an idea")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def history(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        moderator = Access.MODERATOR in await access(interaction)
        idea, events = await self.services.ideas.history(
            interaction.guild_id, number, moderator=moderator
        )
        await interaction.followup.send(embed=render.history_embed(idea, events), ephemeral=True)

    @group.command(name="hide", description="Hide spam or abuse (reverses its points)")
    @app_commands.autocomplete(number=_idea_autocomplete)
    @moderator_only()
    async def hide(
        self,
        interaction: discord.Interaction,
        number: int,
        reason: app_commands.Range[str, 1, 1000],
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        await self.change_status(interaction, number, IdeaStatus.HIDDEN, reason)
        await interaction.followup.send(f"#{number} is hidden.", ephemeral=True)

    @group.command(name="unhide", description="Show a hidden idea again")
    @app_commands.autocomplete(number=_idea_autocomplete)
    @moderator_only()
    async def unhide(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        idea = await self.services.ideas.get(interaction.guild_id, number)
        if idea.status is not IdeaStatus.HIDDEN or idea.hidden_from is None:
            raise InvalidInput(f"#{number} is not hidden.")
        await self.change_status(interaction, number, idea.hidden_from, None)
        await interaction.followup.send(f"#{number} is visible again.", ephemeral=True)

    @group.command(name="block", description="Stop a member from submitting ideas")
    @app_commands.describe(duration="For how long (e.g. 7d); empty: until unblocked")
    @moderator_only()
    async def block(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 1, 500],
        duration: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        span = None
        if duration:
            from bot.services._util import domain_errors

            with domain_errors():
                span = parse_duration(duration)
        until = await self.services.ideas.block(
            interaction.guild_id, member.id, span, reason, interaction.user.id
        )
        how_long = f"for {format_duration(span)}" if span else "until unblocked"
        await interaction.followup.send(
            f"{member.mention} cannot submit ideas {how_long}.", ephemeral=True
        )
        await mod_log(
            self.bot,
            interaction.guild_id,
            interaction.user,
            "idea.block",
            f"{member.mention} {how_long}: {clean_block(reason)}"
            + (f" (until {render.stamp(until, 'f')})" if until else ""),
        )

    @group.command(name="unblock", description="Let a member submit ideas again")
    @moderator_only()
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        await self.services.ideas.unblock(interaction.guild_id, member.id, interaction.user.id)
        await interaction.followup.send(f"{member.mention} can submit ideas again.", ephemeral=True)
        await mod_log(
            self.bot, interaction.guild_id, interaction.user, "idea.unblock", member.mention
        )

    @group.command(name="merge", description="Merge a duplicate into another idea")
    @app_commands.autocomplete(source=_idea_autocomplete, target=_idea_autocomplete)
    @moderator_only()
    async def merge(
        self,
        interaction: discord.Interaction,
        source: int,
        target: int,
        reason: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        result = await self.services.ideas.merge(
            interaction.guild_id, source, target, interaction.user.id, reason
        )
        self.refresh_card(result.source)
        self.refresh_card(result.target)
        # The service's own record of the change: the real old status, and the followers
        # whose DM notices it queued.
        assert result.change is not None
        await self.announce_status(result.change)
        await interaction.followup.send(
            f"#{source} is merged into #{target}: {result.moved_votes} vote(s) moved.",
            ephemeral=True,
        )
        await mod_log(
            self.bot, interaction.guild_id, interaction.user, "idea.merge", f"#{source} → #{target}"
        )

    @group.command(name="unmerge", description="Undo a merge exactly")
    @app_commands.autocomplete(source=_idea_autocomplete)
    @moderator_only()
    async def unmerge(self, interaction: discord.Interaction, source: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        result = await self.services.ideas.unmerge(
            interaction.guild_id, source, interaction.user.id
        )
        self.refresh_card(result.source)
        self.refresh_card(result.target)
        await interaction.followup.send(
            f"#{source} is separate from #{result.target.number} again, with its own votes.",
            ephemeral=True,
        )
        await mod_log(
            self.bot, interaction.guild_id, interaction.user, "idea.unmerge", f"#{source}"
        )

    @group.command(name="notifications", description="Get status changes of ideas you follow by DM")
    async def notifications(
        self, interaction: discord.Interaction, setting: Literal["on", "off"]
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        await self.services.ideas.set_notifications(
            interaction.guild_id, interaction.user.id, setting == "on"
        )
        text = (
            "You'll get at most one DM an hour listing changes to ideas you follow."
            if setting == "on"
            else "No more follower DMs; your own ideas' changes still reach you."
        )
        await interaction.followup.send(text, ephemeral=True)

    @group.command(name="overdue", description="Ideas still waiting for a first response")
    @moderator_only()
    async def overdue(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        target, ideas = await self.services.ideas.overdue(interaction.guild_id)
        lines = [
            f"{render.idea_line(i)} · waiting since {render.stamp(i.created_at)}"
            for i in ideas[:30]
        ]
        embed = discord.Embed(
            title=f"{len(ideas)} idea(s) without a response after {format_duration(target)}",
            description="\n".join(lines) or "None: every idea got a response in time. 🎉",
        )
        await interaction.followup.send(embed=embed, ephemeral=True)


async def setup(bot: CocreateBot) -> None:
    await bot.add_cog(Ideas(bot))


__all__ = ["Ideas", "describe"]
