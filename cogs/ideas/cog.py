"""Ideas in Discord: capture (tagged messages, forum posts, /idea submit, the "Capture as
idea" menu), votes by reaction, catching up after downtime, and the /idea commands.

Thin by design: each handler parses, calls ``IdeaService``, and renders. The service has
committed before anything is posted or acknowledged; what must appear in Discord is
published by :class:`~cogs.ideas.publisher.IdeaPublisher` from the store. The UI (buttons,
selects, modals) lives in :mod:`cogs.ideas.ui`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import faults
from bot.client import CocreateBot, MessageHandler
from bot.domain.guild_config import Access, GuildConfig
from bot.domain.idea_model import (
    Idea,
    IdeaDraft,
    ListFilters,
    StatusChange,
)
from bot.domain.ideas import IdeaStatus
from bot.domain.images import IdeaImage
from bot.domain.ranking import SortOrder
from bot.domain.text import clean_block
from bot.domain.timeparse import format_duration, parse_duration
from bot.errors import InvalidInput, PermissionDenied, RateLimited, UserError
from bot.render import ideas as render
from bot.services.ideas import (
    DM_TIMER,
    PUBLISH_CARD,
    PUBLISH_STATUS,
    THREAD_TIMER,
)
from cogs._challenges import check_challenge_open, open_challenge_autocomplete
from cogs._common import access, mod_log, moderator_only
from cogs._errors import notify_message_problem
from cogs.ideas.publisher import IdeaPublisher
from cogs.ideas.ui import (
    SORT_CHOICES,
    STATUS_CHOICES,
    Drafts,
    EditModal,
    FollowButton,
    KeepOrSupport,
    PageButton,
    ReviewButton,
    SimilarChoice,
    StatusButton,
    StatusPick,
    SubmitModal,
    VoteButton,
    _idea_autocomplete,
    _kind_autocomplete,
    _pager,
    queue_view,
)

log = logging.getLogger(__name__)

CURSOR_FLUSH_SECONDS = 30.0
#: Held ideas /idea queue shows with buttons: a row each (Discord: 5 rows a message).
QUEUE_SHOWN = 5


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
        self.publisher = IdeaPublisher(bot)
        self._cursors: dict[int, tuple[int, int]] = {}  # channel → (guild, newest message id)
        self._flush_task: asyncio.Task[None] | None = None
        self._catchup_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._routes: dict[int, _MessageRoutes] = {}
        #: Tagged messages being captured, per channel: no cursor may pass them.
        self._inflight: dict[int, set[int]] = {}
        #: (guild, member) → monotonic time until which a refused capture gets no second DM.
        self._limit_noticed: dict[tuple[int, int], float] = {}
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
            ReviewButton,
        )
        self.bot.tree.add_command(self.capture_menu)
        self.services.timers.register(DM_TIMER, self.publisher.send_batched_dm)
        self.services.timers.register(PUBLISH_CARD, self.publisher.publish_card)
        self.services.timers.register(PUBLISH_STATUS, self.publisher.publish_status)
        self.services.timers.register(THREAD_TIMER, self.publisher.close_or_reopen_thread)
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
        await self.publisher.close()

    # ---------------------------------------------------------------- capture: messages
    def route_message(self, message: discord.Message) -> MessageHandler | None:
        """Decide, without awaiting, what a message needs (see ``CocreateBot._on_message``).

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
        # Until it is handled, the channel's cursor must not pass this message.
        self._inflight.setdefault(channel.id, set()).add(message.id)
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
            image = None
            if message.attachments and (source := self.first_image(message)) is not None:
                # A replay or catch-up of a captured message: no download.
                existing = await self.services.ideas.by_source(message.guild.id, message.id)
                if existing is not None:
                    return existing
                image = await self.read_image(message.guild, source)
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
                posted_at=message.created_at,
                image=image,
                joined_at=getattr(message.author, "joined_at", None),
            )
            # A replay or catch-up of a captured message: submit returns the stored idea.
            return await self.publisher.submit_and_publish(
                draft, cursor_to=self._cursor_bound(message.channel.id, message.id)
            )
        except RateLimited as exc:
            await self._notify_limited(message, exc)
            return None
        except UserError as exc:
            await notify_message_problem(message, str(exc))
            return None
        finally:
            inflight = self._inflight.get(message.channel.id)
            if inflight is not None:
                inflight.discard(message.id)
                if not inflight:
                    del self._inflight[message.channel.id]

    def first_image(self, message: discord.Message) -> discord.Attachment | None:
        """The message's first picture attachment (other files are not an idea's image)."""
        return next(
            (
                a
                for a in message.attachments
                if self.services.ideas.is_image(a.filename, a.content_type)
            ),
            None,
        )

    async def read_image(
        self, guild: discord.Guild | None, attachment: discord.Attachment
    ) -> IdeaImage:
        """Download a member's attachment and make it an idea's image: within the guild's
        upload limit (scaled down if larger); InvalidInput when it is not a picture. The
        bytes are kept: Discord's attachment links expire, the card uploads them again."""
        ideas = self.services.ideas
        ideas.check_attachment(attachment.filename, attachment.content_type, attachment.size)
        try:
            data = await attachment.read()
        except discord.HTTPException:
            raise InvalidInput("Your image could not be read; please attach it again.") from None
        limit = (
            guild.filesize_limit
            if guild is not None
            else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
        )
        return await ideas.prepare_image(attachment.filename, attachment.content_type, data, limit)

    def _cursor_bound(self, channel_id: int, message_id: int) -> int:
        """How far ``channel_id``'s cursor may move on handling ``message_id``: not past a
        tagged message still being captured (a crash then would skip it at catch-up)."""
        others = [m for m in self._inflight.get(channel_id, ()) if m != message_id]
        return min(message_id, min(others) - 1) if others else message_id

    async def _notify_limited(self, message: discord.Message, exc: RateLimited) -> None:
        """⚠️ on every refused message, but the reason by DM at most once per cooldown: a
        burst of 100 messages must not become 100 DMs."""
        assert message.guild is not None
        key = (message.guild.id, message.author.id)
        now = time.monotonic()
        if self._limit_noticed.get(key, 0.0) > now:
            await notify_message_problem(message, str(exc), explain=False)
            return
        config = await self.services.guild_settings.get(message.guild.id)
        self._limit_noticed[key] = now + max(config.duration("ideas_cooldown").total_seconds(), 60)
        if len(self._limit_noticed) > 10_000:  # forget expired entries now and then
            self._limit_noticed = {k: t for k, t in self._limit_noticed.items() if t > now}
        await notify_message_problem(message, str(exc))

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
            self.publisher.refresh_card(idea)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        result = await self.services.ideas.source_deleted(payload.guild_id, payload.message_id)
        if isinstance(result, StatusChange):
            await self.publisher.announce_status(result)
        elif result is not None:
            self.publisher.refresh_card(result)

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
            self.publisher.refresh_card(idea)

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
            # The post's first picture is the card's, as a tagged message's is.
            source = self.first_image(starter) if starter.attachments else None
            image = None if source is None else await self.read_image(thread.guild, source)
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
                posted_at=starter.created_at,
                image=image,
                joined_at=getattr(starter.author, "joined_at", None),
            )
            return await self.publisher.submit_and_publish(draft)
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
            moderator = Access.MODERATOR in await access(interaction)
            raise InvalidInput(
                render.already_captured_text(existing, interaction.user.id, moderator=moderator)
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
            submitted_by=interaction.user.id,
            joined_at=getattr(message.author, "joined_at", None),
        )
        await self.submit_interactive(interaction, draft, image=self.first_image(message))

    async def submit_interactive(
        self,
        interaction: discord.Interaction,
        draft: IdeaDraft,
        *,
        image: discord.Attachment | None = None,
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
        if draft.anonymous:
            await ideas.check_anonymous(draft.guild_id, draft.source)
        await ideas.check_can_submit(draft.guild_id, interaction.user.id)
        if image is not None:
            draft = replace(draft, image=await self.read_image(interaction.guild, image))
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
        idea = await self.publisher.submit_and_publish(draft, similar=[])
        await interaction.followup.send(render.submitted_note(idea), ephemeral=True)

    # ------------------------------------------------------------------- review queue
    async def approve(self, interaction: discord.Interaction, number: int) -> Idea:
        """Approve a held idea: committed with its card's publication, then published."""
        assert interaction.guild_id is not None
        submission = await self.services.ideas.approve(
            interaction.guild_id, number, interaction.user.id
        )
        await faults.reached("ideas.after-approve-commit")
        idea = await self.publisher.publish_submission(submission)
        await mod_log(
            self.bot, interaction.guild_id, interaction.user, "idea.approve", f"#{number}"
        )
        return idea

    async def reject(
        self, interaction: discord.Interaction, number: int, reason: str
    ) -> StatusChange:
        """Reject a held idea; the author gets the reason by DM (a stored publication)."""
        assert interaction.guild_id is not None
        change = await self.services.ideas.reject(
            interaction.guild_id, number, interaction.user.id, reason
        )
        await self.publisher.announce_status(change)
        await mod_log(
            self.bot,
            interaction.guild_id,
            interaction.user,
            "idea.reject",
            f"#{number} — {change.reason or ''}",
        )
        return change

    # ------------------------------------------------------------------ status changes
    async def change_status(
        self, interaction: discord.Interaction, number: int, status: IdeaStatus, reason: str | None
    ) -> StatusChange:
        assert interaction.guild_id is not None
        moderator = Access.MODERATOR in await access(interaction)
        change = await self.services.ideas.change_status(
            interaction.guild_id, number, status, reason, interaction.user.id, moderator=moderator
        )
        await self.publisher.announce_status(change)
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
        self.publisher.refresh_card(result.idea)

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
                    await self.publisher.correct_cards(guild)
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
                # Every message since the cursor, however long the bot was down.
                async for message in channel.history(
                    limit=None, after=discord.Object(after), oldest_first=True
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
            inflight = self._inflight.get(channel_id)
            bound = min(message_id, min(inflight) - 1) if inflight else message_id
            await self.services.ideas.advance_cursor(guild_id, channel_id, bound)

    async def _flush_cursors_forever(self) -> None:
        while True:
            await asyncio.sleep(CURSOR_FLUSH_SECONDS)
            try:
                await self.flush_cursors()
            except Exception:
                log.exception("Saving channel cursors failed")

    # ---------------------------------------------------------------------- commands
    @group.command(name="submit", description="Share an idea (opens a form)")
    @app_commands.describe(
        kind="What it is (idea, feedback, bug, story…)",
        tag="A topic tag",
        image="A picture shown on the idea's card (PNG, JPEG, GIF or WebP)",
        challenge="The challenge it answers",
        anonymous="Post the card as “a member” (when the server allows it)",
    )
    @app_commands.autocomplete(kind=_kind_autocomplete)
    @app_commands.autocomplete(challenge=open_challenge_autocomplete)
    async def submit(
        self,
        interaction: discord.Interaction,
        kind: str = "idea",
        tag: app_commands.Range[str, 1, 32] | None = None,
        image: discord.Attachment | None = None,
        challenge: int | None = None,
        anonymous: bool = False,
    ) -> None:
        # A modal cannot follow a defer: only cheap checks here, the rest on submit (the
        # image is downloaded and checked then; modals cannot carry files themselves).
        assert interaction.guild_id is not None
        tags = (tag.strip().lower(),) if tag else ()
        if image is not None:
            self.services.ideas.check_attachment(image.filename, image.content_type, image.size)
        await check_challenge_open(interaction, challenge)
        # The settings are cached (read from the database once per change).
        config = await self.services.guild_settings.get(interaction.guild_id)
        allowed = bool(config["ideas_anonymous"])
        if anonymous and not allowed:
            await self.services.ideas.check_anonymous(interaction.guild_id)  # raises
        await interaction.response.send_modal(
            SubmitModal(
                kind.strip().lower(),
                tags,
                image,
                challenge=challenge,
                anonymous=anonymous,
                joined_at=getattr(interaction.user, "joined_at", None),
                offer_anonymous=allowed,
            )
        )

    @group.command(name="show", description="Show one idea")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def show(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        moderator = Access.MODERATOR in await access(interaction)
        idea, reveal = await self.services.ideas.show(
            interaction.guild_id, number, interaction.user.id, moderator=moderator
        )
        config = await self.services.guild_settings.get(interaction.guild_id)
        await interaction.followup.send(
            embed=render.detail_embed(
                idea, oppose_enabled=bool(config["ideas_oppose_votes"]), reveal=reveal
            ),
            ephemeral=True,
        )
        if reveal and idea.anonymous and idea.author_id != interaction.user.id:
            # The durable record was written before the answer; this is its view.
            await mod_log(
                self.bot,
                interaction.guild_id,
                interaction.user,
                "idea.author_look",
                f"Looked at the author of anonymous idea #{number}",
            )

    @group.command(name="list", description="Browse ideas")
    @app_commands.describe(
        sort="top, new, trending or wilson",
        author="Only this member's ideas",
        challenge="Only the ideas answering this challenge (its number)",
    )
    @app_commands.choices(status=STATUS_CHOICES, sort=SORT_CHOICES)
    async def list_(
        self,
        interaction: discord.Interaction,
        status: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        author: discord.Member | None = None,
        sort: str = "top",
        challenge: app_commands.Range[int, 1] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        state = "|".join(
            [status or "", kind or "", tag or "", str(author.id) if author else "", sort]
            + ([str(challenge)] if challenge else [])
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
            status, kind, tag, author, sort, challenge = (state.split("|") + [""] * 6)[:6]
            filters = ListFilters(
                challenge=int(challenge) if challenge.isdigit() else None,
                status=IdeaStatus(status) if status else None,
                kind=kind or None,
                tag=tag or None,
                author_id=int(author) if author else None,
                # Someone's anonymous ideas are listed under their name only to them.
                include_anonymous=not author or int(author) == interaction.user.id,
            )
            try:
                order = SortOrder(sort or "top")
            except ValueError:
                raise InvalidInput("Sort by top, new, trending or wilson.") from None
            page = await ideas.browse(interaction.guild_id, filters, order, number)
            title = f"Ideas · {order.value}" + (
                f" · {render.status_label(status)}" if status else ""
            )
            if filters.challenge is not None:
                title += f" · challenge #{filters.challenge}"
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
            interaction.guild_id, number, moderator=moderator, viewer_id=interaction.user.id
        )
        # Who an anonymous idea's author is shows to them alone (moderators use /idea show,
        # where each look is written to the mod log).
        reveal = idea.author_id == interaction.user.id
        await interaction.followup.send(
            embed=render.history_embed(idea, events, reveal=reveal), ephemeral=True
        )

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
        self.publisher.refresh_card(result.source)
        self.publisher.refresh_card(result.target)
        # The service's own record of the change: the real old status, and the followers
        # whose DM notices it queued.
        assert result.change is not None
        await self.publisher.announce_status(result.change)
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
        self.publisher.refresh_card(result.source)
        self.publisher.refresh_card(result.target)
        await self.publisher.reopen_thread(result.source)
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

    @group.command(name="queue", description="Ideas waiting for review, oldest first")
    @moderator_only()
    async def queue(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        ideas = await self.services.ideas.review_queue(interaction.guild_id)
        shown = QUEUE_SHOWN
        view = queue_view(ideas, shown)
        await interaction.followup.send(
            embed=render.queue_embed(ideas, shown),
            view=view or discord.utils.MISSING,
            ephemeral=True,
        )

    @group.command(name="reveal", description="Put your name on your anonymous idea")
    @app_commands.autocomplete(number=_idea_autocomplete)
    async def reveal(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        idea = await self.services.ideas.reveal(interaction.guild_id, number, interaction.user.id)
        self.publisher.refresh_card(idea)
        await interaction.followup.send(
            f"#{idea.number} now shows you as its author.", ephemeral=True
        )
