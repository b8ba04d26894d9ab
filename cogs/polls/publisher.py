"""What the Polls feature shows in Discord, published from the store.

A change commits first with a timer row saying what to show (bot.services.polls); this
publisher runs it at once and again at start or on retry: the poll's message (a native
Discord poll, or an embed with buttons), its close at the end time (reading a native
poll's counts from Discord first), and the results post with its chart, the poll message
marked closed and, for a poll over ideas, a message in each idea's thread. A retry first
looks for what a crashed attempt posted, so each appears once. Live results are edits of
the poll message, coalesced (at most one a second per poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.client import CocreateBot
from bot.domain.poll_model import Poll, PollMode, Results
from bot.domain.polls import native_hours
from bot.render import polls as render
from bot.scheduling.timers import FinishUnit, Timer
from cogs._publishing import find_own
from cogs.polls.ui import poll_view

log = logging.getLogger(__name__)

REFRESH_DELAY = 1.0  # ballots within a second become one edit of the poll message


class PollPublisher:
    """Posts and edits what the store says must appear in Discord (see the module)."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.refresh_delay = REFRESH_DELAY
        self._refresh: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()

    async def close(self) -> None:
        for task in list(self._refresh.values()):
            with contextlib.suppress(Exception):
                await task

    # ------------------------------------------------------------------ the poll message
    async def publish_poll(self, timer: Timer) -> FinishUnit | None:
        """Post the poll's message (once: a retry first looks for a crashed attempt's)."""
        polls = self.services.polls
        poll = await polls.get_by_id(int(timer.payload["poll_id"]))
        if poll is None or poll.message_id is not None or not poll.is_open:
            return None
        channel = self._messageable(poll.channel_id)
        if channel is None:
            log.warning("Poll %s has no channel to post in", poll.id)
            return None
        message = None if timer.first_try else await self._find_poll(channel, poll)
        if message is None:
            message = await self._send_poll(channel, poll)
        return polls.message_recorder(poll.id, message.id)

    async def _send_poll(self, channel: discord.abc.Messageable, poll: Poll) -> discord.Message:
        if poll.native:
            native = discord.Poll(
                question=poll.question,
                duration=timedelta(hours=native_hours(poll.created_at, poll.closes_at)),
                multiple=poll.mode is PollMode.MULTI,
            )
            for option in poll.options:
                native.add_answer(text=option)
            return await channel.send(poll=native)
        live = (
            None if poll.hide_results or poll.anonymous else await self.services.polls.count(poll)
        )
        view = poll_view(poll)
        return await channel.send(
            embed=render.poll_embed(poll, live), view=view or discord.utils.MISSING
        )

    async def _find_poll(self, channel: discord.abc.Messageable, poll: Poll) -> Any:
        prefix = render.title_prefix(poll)

        def matches(m: discord.Message) -> bool:
            if poll.native:
                return m.poll is not None and m.poll.question == poll.question
            return any((e.title or "").startswith(prefix) for e in m.embeds)

        return await self._find_own(channel, poll.created_at, matches)

    def refresh(self, poll_id: int) -> None:
        """Edit the poll message soon with the live counts (coalesced; not durable: the
        close shows the final counts)."""
        self._dirty.add(poll_id)
        task = self._refresh.get(poll_id)
        if task is None or task.done():
            self._refresh[poll_id] = asyncio.create_task(
                self._refresh_later(poll_id), name=f"cocreate:poll-{poll_id}"
            )

    async def _refresh_later(self, poll_id: int) -> None:
        try:
            while poll_id in self._dirty:
                await asyncio.sleep(self.refresh_delay)
                self._dirty.discard(poll_id)
                poll = await self.services.polls.get_by_id(poll_id)
                if poll is None or not poll.is_open or not poll.message_id:
                    return
                await self._edit_poll(poll)
        except Exception:
            log.exception("Refreshing poll %s failed", poll_id)
        finally:
            self._refresh.pop(poll_id, None)

    async def _edit_poll(self, poll: Poll, results: Results | None = None) -> None:
        if not poll.message_id or poll.native:
            return
        if results is None and not ((poll.hide_results or poll.anonymous) and poll.is_open):
            results = await self.services.polls.count(poll)
        channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        view = poll_view(poll)
        try:
            await channel.get_partial_message(poll.message_id).edit(
                embed=render.poll_embed(poll, results), view=view
            )
        except discord.NotFound:
            log.info("The message of poll %s is gone", poll.id)

    async def remind(self, timer: Timer) -> None:
        """An hour before the close: a reminder in the poll's channel, linking to it."""
        poll = await self.services.polls.get_by_id(int(timer.payload["poll_id"]))
        if poll is None or not self.services.polls.due_for_reminder(poll):
            return
        channel = self._messageable(poll.channel_id)
        if channel is None:
            return
        text = render.reminder_text(poll)
        if not timer.first_try and await self._find_own(channel, timer.due_at, _same_text(text)):
            return
        await channel.send(text)

    # ------------------------------------------------------------------------ closing
    async def close_due(self, timer: Timer) -> None:
        """The end time came (or passed while the bot was down): close once, then publish
        the results. A native poll's counts are read from Discord first."""
        polls = self.services.polls
        poll = await polls.get_by_id(int(timer.payload["poll_id"]))
        if poll is None or not poll.is_open:
            return
        counts = await self.native_counts(poll) if poll.native else None
        closing = await polls.close(poll.id, native_counts=counts)
        if closing is not None and closing.publication is not None:
            await self.services.timers.run_written(closing.publication)

    async def native_counts(self, poll: Poll) -> list[int]:
        """End the native poll (unless Discord has) and read its counts."""
        if not poll.message_id:
            return [0] * len(poll.options)
        channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        message = await channel.fetch_message(poll.message_id)
        native = message.poll
        if native is not None and not native.is_finalised():
            message = await message.end_poll()
            native = message.poll
        if native is None:
            return [0] * len(poll.options)
        by_id = {a.id: a.vote_count for a in native.answers}
        return [int(by_id.get(i + 1, 0)) for i in range(len(poll.options))]

    async def publish_results(self, timer: Timer) -> FinishUnit | None:
        """The results post (with its chart), the poll message marked closed, and for a
        poll over ideas a message in each idea's thread. Each step is recorded when done,
        so a retry repeats none."""
        polls = self.services.polls
        poll = await polls.get_by_id(int(timer.payload["poll_id"]))
        if poll is None:
            return None
        results = await polls.count(poll)
        done: list[str] = timer.payload.setdefault("done", [])
        finish: FinishUnit | None = None

        async def step(name: str, action: Callable[[], Awaitable[object]]) -> None:
            if name in done:
                return
            await action()
            done.append(name)
            await self.services.timers.save_progress(timer)

        look_first = not timer.first_try
        posted: list[int] = []

        async def post() -> None:
            message = await self._post_results(poll, results, look_first=look_first)
            if message is not None:
                posted.append(message)

        await step("post", post)
        await step("edit", lambda: self._edit_poll(poll, results))
        if poll.idea_ids:
            await step("ideas", lambda: self._tell_ideas(results, look_first=look_first))
        if posted:
            finish = polls.results_recorder(poll.id, posted[0])
        return finish

    async def _post_results(self, poll: Poll, results: Results, *, look_first: bool) -> int | None:
        channel = self._messageable(poll.channel_id)
        if channel is None:
            return None
        prefix = render.results_prefix(poll)
        if look_first:
            found = await self._find_own(
                channel,
                poll.closed_at or poll.closes_at,
                lambda m: any((e.title or "").startswith(prefix) for e in m.embeds),
            )
            if found is not None:
                return int(found.id)
        embed = render.results_embed(results)
        png = await asyncio.to_thread(render.results_chart, results)
        kwargs: dict[str, Any] = {"embed": embed}
        if png is not None:
            kwargs["file"] = discord.File(io.BytesIO(png), filename="results.png")
            embed.set_image(url="attachment://results.png")
        winner = await self._winner_number(poll, results)
        if winner is not None:
            view = poll_view(poll, winner_number=winner)
            if view is not None:
                kwargs["view"] = view
        if poll.message_id:
            kwargs["reference"] = discord.MessageReference(
                message_id=poll.message_id, channel_id=poll.channel_id, fail_if_not_exists=False
            )
        message = await channel.send(**kwargs)
        return int(message.id)

    async def _winner_number(self, poll: Poll, results: Results) -> int | None:
        """The idea number of a poll over ideas' single winner (None on a tie)."""
        if not poll.idea_ids:
            return None
        if results.runoff is not None:
            winner = results.runoff.winner
        elif results.tally is not None and len(results.tally.winners) == 1:
            winner = results.tally.winners[0]
        else:
            return None
        if winner is None:
            return None
        idea = await self.services.ideas.get_by_id(poll.idea_ids[winner])
        return None if idea is None else idea.number

    async def _tell_ideas(self, results: Results, *, look_first: bool) -> None:
        poll = results.poll
        for index, idea_id in enumerate(poll.idea_ids):
            idea = await self.services.ideas.get_by_id(idea_id)
            if idea is None or not idea.thread_id:
                continue
            thread = self.bot.get_channel(idea.thread_id)
            if not isinstance(thread, discord.Thread):
                continue
            text = render.idea_thread_text(results, index)
            since = poll.closed_at or poll.closes_at
            if look_first and await self._find_own(thread, since, _same_text(text)):
                continue
            try:
                await thread.send(text)
            except discord.DiscordServerError:
                raise
            except discord.HTTPException as exc:
                log.warning("Could not post poll %s's result in %s: %s", poll.id, thread.id, exc)

    # ------------------------------------------------------------------------ helpers
    def _messageable(self, channel_id: int) -> discord.TextChannel | discord.Thread | None:
        channel = self.bot.get_channel(channel_id)
        return channel if isinstance(channel, discord.TextChannel | discord.Thread) else None

    async def _find_own(
        self,
        channel: discord.abc.Messageable,
        since: datetime,
        matches: Callable[[discord.Message], bool],
    ) -> discord.Message | None:
        return await find_own(self.bot, channel, since, matches)


def _same_text(text: str) -> Callable[[discord.Message], bool]:
    return lambda m: m.content == text
