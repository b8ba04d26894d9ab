"""What the Ideas feature shows in Discord, published from the store.

A change commits first, with a timer row saying what to show (bot.services.ideas); this
publisher runs it at once and again at start or on retry: a card with its thread and the
reply to its source, a status change's thread message, author DM and #shipped post, and
batched follower DMs. Card edits are coalesced (at most one a second per card) and record
the version they show, so cards left stale are corrected at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import discord

from bot import faults
from bot.client import CocreateBot
from bot.domain.idea_model import (
    Idea,
    IdeaDraft,
    SimilarCandidate,
    StatusChange,
    Submission,
)
from bot.domain.ideas import HELD_STATUSES, IdeaStatus, closes_thread, is_open
from bot.render import ideas as render
from bot.scheduling.timers import FinishUnit, Timer
from bot.services.ideas import (
    PUBLISH_STATUS,
    THREAD_TIMER,
    similar_from_payload,
    thread_key,
)
from cogs._publishing import find_own
from cogs.ideas.ui import KeepOrSupport, card_view

log = logging.getLogger(__name__)

ACK_PREFIX = "💡 Captured as"
#: The reaction that tells the author of a tagged message its idea waits for review.
HELD_REACTION = "🕓"


def _ack_marker(number: int) -> str:
    """How an acknowledgement names an idea; a retry looks for it."""
    return f"**#{number}**"


CARD_EDIT_RETRIES = 5  # a failing card edit is retried with backoff, then left to the next start
# Messages a retried publication reads to find what a crashed attempt posted: one page of
# history, enough for a burst of members' messages and the acknowledgements among them.
ACK_MAX_IDEAS = 10  # ideas one acknowledgement lists
ACK_MAX_ROWS = 5  # Discord: 5 rows of buttons (one per idea with similar ones)
ACK_MAX_CHARS = 1900  # Discord: 2,000 characters a message; the header takes the rest
ACK_HEADER = "💡 Captured as ideas — vote and discuss:"


@dataclass(eq=False)
class _Ack:
    idea: Idea
    similar: list[SimilarCandidate]
    sent: asyncio.Future[None]


@dataclass(eq=False)
class _AckChannel:
    pending: list[_Ack] = field(default_factory=list)
    last_sent: float = float("-inf")
    worker: asyncio.Task[None] | None = None


class SourceAcks:
    """Acknowledgements of captured ideas in the channels they were posted in, coalesced.

    A lone idea gets a reply to its message, as always. But a reply per idea would spend
    the bot's message budget in the members' channel (Discord: 5 per 5 s) on bot chatter:
    a burst of 50 ideas would be 50 bot replies over 45 s, and anything else the bot has
    to say there would wait behind them. So a channel gets at most one acknowledgement per
    ``gap`` seconds (the rate-limit window); ideas whose cards are posted meanwhile are
    listed together in the next one. Each publication awaits the message that carries its
    idea, and records itself done only then; a retry finds that message (see
    :meth:`IdeaPublisher._reply_to_source`), so an acknowledgement appears once.
    """

    def __init__(
        self,
        send: Callable[[discord.TextChannel | discord.Thread, list[_Ack]], Awaitable[None]],
        gap: float,
    ) -> None:
        self._send = send
        self.gap = gap
        self._channels: dict[int, _AckChannel] = {}

    async def acknowledge(
        self,
        channel: discord.TextChannel | discord.Thread,
        idea: Idea,
        similar: list[SimilarCandidate],
    ) -> None:
        """Return once a message acknowledging ``idea`` is posted (raise if it failed)."""
        state = self._channels.setdefault(channel.id, _AckChannel())
        ack = _Ack(idea, similar, asyncio.get_running_loop().create_future())
        state.pending.append(ack)
        if state.worker is None or state.worker.done():
            state.worker = asyncio.create_task(
                self._drain(channel, state), name=f"cocreate:acks-{channel.id}"
            )
        await ack.sent

    async def _drain(
        self, channel: discord.TextChannel | discord.Thread, state: _AckChannel
    ) -> None:
        # One state per channel that had ideas: watched channels, a handful per server.
        loop = asyncio.get_running_loop()
        while state.pending:
            wait = state.last_sent + self.gap - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # meanwhile, more ideas join the next message
            batch = _take_batch(state.pending)
            try:
                await self._send(channel, batch)
            except Exception as exc:
                for ack in batch:
                    if not ack.sent.done():
                        ack.sent.set_exception(exc)
            else:
                for ack in batch:
                    if not ack.sent.done():
                        ack.sent.set_result(None)
            state.last_sent = loop.time()

    async def close(self) -> None:
        for state in list(self._channels.values()):
            if state.worker is not None and not state.worker.done():
                with contextlib.suppress(Exception):
                    await state.worker


def _take_batch(pending: list[_Ack]) -> list[_Ack]:
    """The next acknowledgement's ideas, oldest first, within one message's limits (at
    least one, whatever its size: alone, it becomes a reply of its own)."""
    batch: list[_Ack] = []
    rows = chars = 0
    for ack in list(pending):
        needs = 1 if ack.similar else 0
        size = len(_ack_line(ack)) + 1
        if batch and (
            len(batch) == ACK_MAX_IDEAS
            or rows + needs > ACK_MAX_ROWS
            or chars + size > ACK_MAX_CHARS
        ):
            break
        rows += needs
        chars += size
        batch.append(ack)
        pending.remove(ack)
    return batch


def _ack_line(ack: _Ack) -> str:
    """One idea's line in an acknowledgement listing several: the author is shown (the
    bot's messages ping no one), the similar ideas named (their buttons are below)."""
    idea = ack.idea
    line = f"{_ack_marker(idea.number)} {render.clip(idea.title, 80)}"
    if idea.card_url:
        line += f" · {idea.card_url}"
    if idea.author_id:
        line += f" (<@{idea.author_id}>)"
    if ack.similar:
        line += " — looks like " + ", ".join(f"#{s.number}" for s in ack.similar)
    return line


class IdeaPublisher:
    """Posts and edits what the store says must appear in Discord (see the module)."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.card_refresh_delay = bot.settings.discord.card_edit_interval
        self._refresh: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        # The hot path's in-memory hand-offs (see submit_and_publish):
        self._fresh: dict[int, Idea] = {}  # idea as stored, for its first publication
        self._posted: dict[int, Idea] = {}  # idea with its card, once posted
        self._publishing: set[int] = set()  # ideas whose card is being posted now
        self._changed: set[int] = set()  # ...that changed meanwhile: edit once recorded
        discord_settings = bot.settings.discord
        pacing = discord_settings.channel_message_limit > 0
        self.acks = SourceAcks(
            self._send_ack, discord_settings.channel_message_window if pacing else 0.0
        )

    async def close(self) -> None:
        """Let pending card edits and acknowledgements finish (both are completed at the
        next start if cut short)."""
        await self.acks.close()
        for task in list(self._refresh.values()):
            with contextlib.suppress(Exception):
                await task

    async def submit_and_publish(
        self,
        draft: IdeaDraft,
        *,
        similar: list[SimilarCandidate] | None = None,
        cursor_to: int | None = None,
    ) -> Idea:
        """Store the idea with its publication (one commit), then publish it at once: card,
        thread and source reply. What a crash or an outage interrupts is finished from the
        stored publication (:meth:`_publish_card`), at the next start or retry."""
        # similar=None: the service finds them, and reads them in the submission's unit.
        submission = await self.services.ideas.submit(draft, similar=similar, cursor_to=cursor_to)
        idea = submission.idea
        if not submission.created or submission.publication is None:
            return idea
        await faults.reached("ideas.after-submit-commit")
        return await self.publish_submission(submission)

    async def publish_submission(self, submission: Submission) -> Idea:
        """Publish what a committed submission (or a held idea's approval) recorded, at
        once; returns the idea as shown (with its card once posted)."""
        idea = submission.idea
        assert submission.publication is not None
        # The hot path: the idea and its publication as the unit wrote them, not read back.
        self._fresh[idea.id] = idea
        self._publishing.add(idea.id)
        try:
            await self.services.timers.run_written(submission.publication)
        finally:
            self._publishing.discard(idea.id)
            self._fresh.pop(idea.id, None)
        shown = self._posted.pop(idea.id, idea)
        if idea.id in self._changed:  # an edit or votes arrived while the card was posted
            self._changed.discard(idea.id)
            self.refresh_card(shown)
        return shown

    async def publish_card(self, timer: Timer) -> FinishUnit | None:
        """Publish a stored idea: its card (with a thread), then the reply to its source.

        Idempotent: steps already recorded are skipped, and a retry first looks for what a
        crashed attempt may have posted before it could record it, so each appears once.
        On the first try the card is recorded in the same commit that marks this done.
        """
        ideas = self.services.ideas
        idea_id = int(timer.payload["idea_id"])
        first = self._fresh.get(idea_id) if timer.first_try else None
        idea = first or await ideas.get_by_id(idea_id)
        if idea is None:
            return None  # purged or forgotten meanwhile
        if idea.status in HELD_STATUSES:
            # Waiting for review: only the author learns of it, privately (the modal and
            # menu paths answer ephemerally). Approval re-arms this row to post the card.
            if idea.status is IdeaStatus.PENDING_REVIEW:
                await self._react_to_source_id(idea, HELD_REACTION)
            return None
        similar = similar_from_payload(timer.payload.get("similar", ()))
        look_first = not timer.first_try
        finish: FinishUnit | None = None
        if idea.card_message_id is None and idea.status is not IdeaStatus.HIDDEN:
            posted = await self._post_card(idea, similar, look_first=look_first)
            if posted is not None:
                channel_id, message_id, thread_id = posted
                idea = replace(
                    idea,
                    card_channel_id=channel_id,
                    card_message_id=message_id,
                    thread_id=idea.thread_id or thread_id,
                )
                if first is not None:
                    self._posted[idea.id] = idea
                    finish = ideas.card_recorder(
                        idea.id, channel_id, message_id, thread_id, idea.card_version
                    )
                else:
                    await ideas.attach_card(
                        idea.id, channel_id, message_id, thread_id, idea.card_version
                    )
                    fresh = await ideas.get_by_id(idea.id)
                    if fresh is not None and fresh.card_version != fresh.card_shown:
                        self.refresh_card(fresh)  # changed while the card was posted
        if idea.source in ("message", "menu") and idea.source_message_id:
            await self._reply_to_source(idea, similar, look_first=look_first)
        if timer.payload.get("approved") and "author_dm" not in timer.payload.get("done", ()):
            # Approved from the queue: the author hears it (the card link is known now).
            if idea.author_id:
                text = render.approved_dm_text(idea, self._guild_name(idea.guild_id))
                await self._dm(idea.author_id, text)
            timer.payload.setdefault("done", []).append("author_dm")
            await self.services.timers.save_progress(timer)
        return finish

    async def _react_to_source_id(self, idea: Idea, emoji: str) -> None:
        """React to the idea's source message (a repeated reaction is harmless)."""
        if idea.source not in ("message", "menu") or not idea.source_message_id:
            return
        channel_id = idea.source_channel_id
        if not channel_id:
            return
        channel = self.bot.get_partial_messageable(channel_id, guild_id=idea.guild_id)
        try:
            await channel.get_partial_message(idea.source_message_id).add_reaction(emoji)
        except discord.DiscordServerError:
            raise  # retried with the publication
        except discord.HTTPException as exc:
            log.info("Could not react to the source of idea %s: %s", idea.id, exc)

    async def _post_card(
        self, idea: Idea, similar: list[SimilarCandidate], *, look_first: bool
    ) -> tuple[int, int, int | None] | None:
        """Post the card (and open its thread); returns (channel, message, thread) ids."""
        config = await self.services.guild_settings.get(idea.guild_id)
        oppose = bool(config["ideas_oppose_votes"])
        embed = render.idea_card(idea, oppose_enabled=oppose, similar=similar)
        view = card_view(idea, oppose_enabled=oppose)
        thread_id: int | None = None
        if idea.source == "forum" and idea.thread_id:
            channel = self._channel(idea.thread_id)
            if channel is None:
                channel = await self._fetch_channel(idea.thread_id)
            thread_id = idea.thread_id
        else:
            channel = self._channel(config.channel("ideas_channel")) or self._channel(
                idea.source_channel_id
            )
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            log.warning("Idea %s has no channel to post its card in", idea.id)
            return None
        card = await self._find_card(channel, idea) if look_first else None
        if card is None:
            card = await channel.send(
                embed=embed,
                view=view or discord.utils.MISSING,
                file=await self._card_file(idea) or discord.utils.MISSING,
            )
        await faults.reached("ideas.after-card-post")
        if isinstance(channel, discord.TextChannel):
            thread_id = await self._card_thread(card, idea)
        return card.channel.id, card.id, thread_id

    async def _card_file(self, idea: Idea) -> discord.File | None:
        """The idea's stored image, uploaded with the card (the embed shows it by name)."""
        if not idea.image_name:
            return None
        stored = await self.services.ideas.image(idea.id)
        if stored is None:
            return None
        name, data = stored
        return discord.File(io.BytesIO(data), filename=name)

    async def _card_thread(self, card: discord.Message, idea: Idea) -> int | None:
        """The card's discussion thread: created, or found (a thread started from a
        message has the message's id) when a crashed attempt created it."""
        try:
            thread = await card.create_thread(name=render.clip(f"#{idea.number} {idea.title}", 100))
        except discord.HTTPException as exc:
            existing = await self._fetch_channel(card.id)
            if isinstance(existing, discord.Thread):
                return existing.id
            if isinstance(exc, discord.DiscordServerError):
                raise  # retried with the whole publication; the card is found again
            log.warning("Could not open a thread for idea %s: %s", idea.id, exc)
            return None
        # No request to add the author: Discord adds a member to a thread when a message
        # in it mentions them, and every status message there mentions the author.
        return thread.id

    async def _fetch_channel(self, channel_id: int) -> Any:
        try:
            return await self.bot.fetch_channel(channel_id)
        except discord.HTTPException:
            return None

    async def _find_card(
        self, channel: discord.TextChannel | discord.Thread, idea: Idea
    ) -> discord.Message | None:
        """A card of ``idea`` this bot posted without recording it (crash in between)."""
        prefix = f"#{idea.number} · "
        return await self._find_own(
            channel,
            idea.created_at,
            lambda m: any((e.title or "").startswith(prefix) for e in m.embeds),
        )

    async def _find_own(
        self,
        channel: discord.abc.Messageable,
        since: datetime,
        matches: Callable[[discord.Message], bool],
        *,
        after_id: int | None = None,
    ) -> discord.Message | None:
        return await find_own(self.bot, channel, since, matches, after_id=after_id)

    async def _reply_to_source(
        self, idea: Idea, similar: list[SimilarCandidate], *, look_first: bool
    ) -> None:
        """Acknowledge the idea where it was posted: a reply to its message, or a line in
        the channel's next acknowledgement during a burst (see :class:`SourceAcks`)."""
        channel = self._channel(idea.source_channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread) or not (
            source_id := idea.source_message_id
        ):
            return
        marker = _ack_marker(idea.number)
        if look_first and await self._find_own(
            channel,
            idea.created_at,
            lambda m: (
                (m.reference is not None and m.reference.message_id == source_id)
                or (m.content.startswith(ACK_PREFIX) and marker in m.content)
            ),
            # An acknowledgement follows its source: read from there, not from a moment a
            # burst of other messages may have filled.
            after_id=source_id,
        ):
            return
        await self.acks.acknowledge(channel, idea, similar)

    async def _send_ack(
        self, channel: discord.TextChannel | discord.Thread, acks: list[_Ack]
    ) -> None:
        """Post one acknowledgement for ``acks`` (a reply when it is one idea)."""
        if len(acks) == 1:
            await self._reply_one(channel, acks[0].idea, acks[0].similar)
            return
        lines = [ACK_HEADER, *(_ack_line(ack) for ack in acks)]
        view = discord.ui.View(timeout=None)
        for row, ack in enumerate(a for a in acks if a.similar):
            for candidate in ack.similar[:3]:
                view.add_item(KeepOrSupport(ack.idea.number, candidate.number, row=row))
        try:
            await channel.send(
                "\n".join(lines), view=view if view.children else discord.utils.MISSING
            )
        except discord.DiscordServerError:
            raise  # retried
        except discord.HTTPException:
            for ack in acks:
                await self._react_to_source(channel, ack.idea)

    async def _reply_one(
        self,
        channel: discord.TextChannel | discord.Thread,
        idea: Idea,
        similar: list[SimilarCandidate],
    ) -> None:
        text = f"{ACK_PREFIX} idea {_ack_marker(idea.number)}."
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
        assert idea.source_message_id is not None
        message = channel.get_partial_message(idea.source_message_id)
        try:
            await message.reply(text, view=view or discord.utils.MISSING, mention_author=False)
        except discord.DiscordServerError:
            raise  # retried
        except discord.HTTPException:
            await self._react_to_source(channel, idea)

    async def _react_to_source(
        self, channel: discord.TextChannel | discord.Thread, idea: Idea
    ) -> None:
        """The acknowledgement when the bot may not post there: 💡 on the source."""
        if idea.source_message_id:
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(idea.source_message_id).add_reaction("💡")

    def _channel(self, channel_id: int | None) -> discord.abc.GuildChannel | discord.Thread | None:
        if not channel_id:
            return None
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.abc.GuildChannel | discord.Thread) else None

    # ----------------------------------------------------------------- card refreshes
    def refresh_card(self, idea: Idea) -> None:
        """Edit the card soon; changes within a second become one edit (rate limits).

        The card shows the store's latest version when the edit runs, and the version it
        shows is recorded: a card whose edit was lost (a crash, an outage) still differs
        from the store at the next start, and is edited then (:meth:`_correct_cards`)."""
        if not idea.card_message_id:
            if idea.id in self._publishing:
                self._changed.add(idea.id)  # edited once the card is recorded
            return  # not posted yet: the publication shows the latest version
        self._dirty.add(idea.id)
        task = self._refresh.get(idea.id)
        if task is None or task.done():
            self._refresh[idea.id] = asyncio.create_task(
                self._refresh_later(idea.id), name=f"cocreate:card-{idea.id}"
            )

    async def _refresh_later(self, idea_id: int) -> None:
        failures = 0
        try:
            while idea_id in self._dirty:
                await asyncio.sleep(self.card_refresh_delay * 2**failures)
                self._dirty.discard(idea_id)
                idea = await self.services.ideas.get_by_id(idea_id)
                if idea is None:
                    return
                try:
                    await self._edit_card(idea)
                    failures = 0
                except discord.HTTPException as exc:
                    failures += 1
                    if failures > CARD_EDIT_RETRIES:
                        raise
                    log.info("Editing the card of idea %s failed (%s); retrying", idea_id, exc)
                    self._dirty.add(idea_id)
        except Exception:
            log.exception("Refreshing the card of idea %s failed", idea_id)
        finally:
            self._refresh.pop(idea_id, None)

    async def _edit_card(self, idea: Idea) -> None:
        if not idea.card_message_id or not idea.card_channel_id:
            return
        # A partial channel needs no cache (cards are corrected at start).
        channel = self.bot.get_partial_messageable(idea.card_channel_id, guild_id=idea.guild_id)
        config = await self.services.guild_settings.get(idea.guild_id)
        oppose = bool(config["ideas_oppose_votes"])
        view = card_view(idea, oppose_enabled=oppose)
        message = channel.get_partial_message(idea.card_message_id)
        try:
            await message.edit(embed=render.idea_card(idea, oppose_enabled=oppose), view=view)
        except discord.NotFound:
            log.info("The card of idea %s is gone", idea.id)
        await self.services.ideas.card_shown(idea.id, idea.card_version)

    async def correct_cards(self, guild: discord.Guild) -> int:
        """At start: edit the cards that show less than the store holds."""
        stale = await self.services.ideas.stale_cards(guild.id)
        for idea in stale:
            self.refresh_card(idea)
        if stale:
            log.info("Correcting %d card(s) in guild %s", len(stale), guild.id)
        return len(stale)

    async def announce_status(self, change: StatusChange) -> None:
        """Card edit, then the change's stored publication (see :meth:`_publish_status`)."""
        self.refresh_card(change.idea)
        if change.publish_key is not None:
            await faults.reached("ideas.after-status-commit")
            await self.services.timers.run_now(PUBLISH_STATUS, change.publish_key)
            if change.queued_for or closes_thread(change.new):
                # The followers' batched DMs; the thread's closing, later.
                await self.services.timers.wake()
        if closes_thread(change.old) and is_open(change.new):
            await self.reopen_thread(change.idea)

    async def reopen_thread(self, idea: Idea) -> None:
        """Run the reopening of a decided idea's thread now (it was recorded with the
        change; if this fails it is retried like any timer)."""
        await self.services.timers.run_now(THREAD_TIMER, thread_key(idea.id))

    async def publish_status(self, timer: Timer) -> None:
        """A status change told to everyone concerned: a thread message mentioning only the
        author, the author's DM, and for implemented ideas a #shipped post. Each step is
        recorded when done, so a retry repeats none (follower DMs are their own timers)."""
        payload = timer.payload
        idea = await self.services.ideas.get_by_id(int(payload["idea_id"]))
        if idea is None:
            return
        change = StatusChange(
            idea,
            IdeaStatus(payload["old"]),
            IdeaStatus(payload["new"]),
            payload["reason"],
            int(payload["actor_id"]),
        )
        done: list[str] = payload.setdefault("done", [])

        async def step(name: str, action: Callable[[], Awaitable[object]]) -> None:
            if name in done:
                return
            await action()
            done.append(name)
            await self.services.timers.save_progress(timer)

        look_first = not timer.first_try
        await step("thread", lambda: self._status_in_thread(change, look_first=look_first))
        if idea.author_id and idea.author_id != change.actor_id:
            await step(
                "author",
                lambda: self._dm(
                    idea.author_id, render.author_dm_text(change, self._guild_name(idea.guild_id))
                ),
            )
        if change.new is IdeaStatus.IMPLEMENTED:
            await step("shipped", lambda: self._shipped(idea, look_first=look_first))

    async def close_or_reopen_thread(self, timer: Timer) -> None:
        """A decided idea's thread: a closing message, then archived and locked; or, once the
        idea is open again, unlocked and unarchived. Nothing when the idea has moved on
        since (a later change re-arms this row) or its thread is gone."""
        payload = timer.payload
        idea = await self.services.ideas.get_by_id(int(payload["idea_id"]))
        close = bool(payload["close"])
        if idea is None or not idea.thread_id or closes_thread(idea.status) != close:
            return
        thread = self._channel(idea.thread_id) or await self._fetch_channel(idea.thread_id)
        if not isinstance(thread, discord.Thread):
            return
        try:
            if not close:
                if thread.locked or thread.archived:
                    await thread.edit(archived=False, locked=False)
                return
            done: list[str] = payload.setdefault("done", [])
            if "message" not in done and not thread.locked:
                await self._post_once(
                    thread,
                    render.thread_closing_text(idea),
                    since=idea.updated_at,
                    look_first=not timer.first_try,
                )
                done.append("message")
                await self.services.timers.save_progress(timer)
            await thread.edit(archived=True, locked=True)
        except discord.DiscordServerError:
            raise  # retried with backoff
        except discord.HTTPException as exc:
            # Refused (the bot may not manage threads there): retrying will not help.
            log.warning("Could not close or reopen the thread of idea %s: %s", idea.id, exc)

    async def _status_in_thread(self, change: StatusChange, *, look_first: bool) -> None:
        idea = change.idea
        if not idea.thread_id:
            return
        thread = self._channel(idea.thread_id) or await self._fetch_channel(idea.thread_id)
        if not isinstance(thread, discord.Thread):
            return
        text = render.thread_status_text(change)
        await self._post_once(
            thread,
            text,
            since=change.idea.updated_at,
            look_first=look_first,
            # An anonymous idea's thread message names nobody, and pings nobody either.
            allowed_mentions=discord.AllowedMentions.none()
            if idea.anonymous
            else discord.AllowedMentions(
                users=[discord.Object(idea.author_id)], everyone=False, roles=False
            ),
        )

    async def _shipped(self, idea: Idea, *, look_first: bool) -> None:
        config = await self.services.guild_settings.get(idea.guild_id)
        shipped = self._channel(config.channel("shipped_channel"))
        if isinstance(shipped, discord.TextChannel):
            await self._post_once(
                shipped, render.shipped_text(idea), since=idea.updated_at, look_first=look_first
            )

    async def _post_once(
        self,
        channel: discord.TextChannel | discord.Thread,
        text: str,
        *,
        since: datetime,
        look_first: bool,
        allowed_mentions: discord.AllowedMentions | None = None,
    ) -> None:
        """Post ``text`` unless a crashed attempt already did. A server error propagates
        (the publication is retried); a refusal (missing permission) is logged and skipped."""
        if look_first and await self._find_own(channel, since, lambda m: m.content == text):
            return
        try:
            await channel.send(text, allowed_mentions=allowed_mentions or discord.utils.MISSING)
        except discord.DiscordServerError:
            raise
        except discord.HTTPException as exc:
            log.warning("Could not post in %s: %s", channel.id, exc)

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

    async def send_batched_dm(self, timer: Timer) -> None:
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
