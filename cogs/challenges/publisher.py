"""What the Challenges feature shows in Discord, published from the store.

A change commits first, with a timer row saying what to show (``bot.services.challenges``);
this publisher runs it at once and again at start or on retry. Steps are recorded in the
row's payload when done, and a retry first looks for what a crashed attempt posted, so
each post appears once. A failure raises: the row is retried with backoff.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import discord

from bot import faults
from bot.client import CocreateBot
from bot.domain.challenge_model import Challenge
from bot.domain.challenges import Stage, Window
from bot.render import challenges as render
from bot.scheduling.timers import FinishUnit, Timer
from cogs._publishing import find_own
from cogs.challenges.ui import announcement_view

log = logging.getLogger(__name__)


def _since(timer: Timer) -> datetime:
    return datetime.fromisoformat(str(timer.payload["at"]))


class ChallengePublisher:
    """Posts what the store says must appear in Discord (see the module)."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services

    # -- helpers ---------------------------------------------------------------------------
    async def _get_channel(self, channel_id: int | None) -> Any:
        if not channel_id:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                return None
        return channel

    async def _step(self, timer: Timer, name: str, action: Callable[[], Awaitable[object]]) -> None:
        done: list[str] = timer.payload.setdefault("done", [])
        if name in done:
            return
        await action()
        done.append(name)
        await self.services.timers.save_progress(timer)

    async def _post_once(
        self,
        channel: discord.abc.Messageable,
        text: str,
        since: datetime,
        *,
        look: bool,
        **kwargs: Any,
    ) -> discord.Message:
        head = text[:60]
        found = (
            await find_own(self.bot, channel, since, lambda m: m.content.startswith(head))
            if look
            else None
        )
        return found or await channel.send(text, **kwargs)

    async def _dm(self, member_id: int, text: str) -> None:
        try:
            user = self.bot.get_user(member_id) or await self.bot.fetch_user(member_id)
            await user.send(text)
        except discord.HTTPException:
            log.info("Could not DM member %s (DMs closed?)", member_id)

    # -- the announcement ------------------------------------------------------------------
    async def publish_announcement(self, timer: Timer) -> FinishUnit | None:
        """The announcement with its **Submit an idea** button: a forum post when the
        challenge names a forum, else a message in its channel."""
        challenge = await self.services.challenges.by_id(int(timer.payload["challenge_id"]))
        if challenge is None or challenge.message_id is not None:
            return None
        look = not timer.first_try
        name = render.clip(render.heading(challenge), 100)
        view = announcement_view(challenge)
        embed = render.announcement(challenge)
        forum = await self._get_channel(challenge.forum_channel_id)
        if isinstance(forum, discord.ForumChannel):
            me = self.bot.user
            existing = next(
                (
                    t
                    for t in forum.threads
                    if look and me is not None and t.owner_id == me.id and t.name == name
                ),
                None,
            )
            if existing is not None:
                channel_id = message_id = existing.id
            else:
                posted = await forum.create_thread(
                    name=name,
                    content=render.announcement_content(challenge),
                    embed=embed,
                    view=view,
                )
                channel_id, message_id = posted.thread.id, posted.message.id
        else:
            channel = await self._get_channel(challenge.channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise RuntimeError(f"challenge {challenge.id}: its channel is gone")
            title = embed.title
            found = (
                await find_own(
                    self.bot,
                    channel,
                    _since(timer),
                    lambda m: bool(m.embeds) and m.embeds[0].title == title,
                )
                if look
                else None
            )
            message = found or await channel.send(
                render.announcement_content(challenge), embed=embed, view=view
            )
            channel_id, message_id = message.channel.id, message.id
        await faults.reached("challenges.after-announce-post")
        return self.services.challenges.announcement_recorder(challenge.id, channel_id, message_id)

    # -- posts in the challenge's channel --------------------------------------------------
    async def publish_post(self, timer: Timer) -> None:
        """A window's close (the button disabled when submissions close; the wildcard when
        judging closes) or the results with the leaderboard."""
        challenge = await self.services.challenges.by_id(int(timer.payload["challenge_id"]))
        if challenge is None:
            return
        if challenge.channel_id is None:
            raise RuntimeError(f"challenge {challenge.id} is not announced yet")
        channel = await self._get_channel(challenge.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise RuntimeError(f"challenge {challenge.id}: its channel is gone")
        what = str(timer.payload["what"])
        look = not timer.first_try
        since = _since(timer)
        if what == "results":
            await self._results(challenge, channel, since, look)
            return
        window = Window(what.partition(":")[2])
        if window is Window.SUBMISSION:
            await self._step(timer, "button", lambda: self._close_button(challenge))
        text = render.window_text(challenge, window)
        if window is Window.JUDGING and challenge.wildcard_idea_id is not None:
            entry = await self.services.challenges.entry_of(challenge.wildcard_idea_id)
            if entry is not None:
                text += "\n" + render.wildcard_line(entry)
        await self._step(timer, "post", lambda: self._post_once(channel, text, since, look=look))

    async def _close_button(self, challenge: Challenge) -> None:
        if challenge.channel_id is None or challenge.message_id is None:
            return
        message = self.bot.get_partial_messageable(
            challenge.channel_id, guild_id=challenge.guild_id
        ).get_partial_message(challenge.message_id)
        try:
            await message.edit(view=announcement_view(challenge, open_=False))
        except discord.NotFound:
            log.info("The announcement of challenge %s is gone", challenge.id)

    async def _results(
        self, challenge: Challenge, channel: discord.abc.Messageable, since: datetime, look: bool
    ) -> None:
        view = await self.services.challenges.view_by_id(challenge.id)
        if view is None:
            return
        credited = [e.author_id for e in (*view.winners, *view.finalists) if e.author_id]
        embed = render.leaderboard(view)
        extra: dict[str, Any] = {}
        chart = await asyncio.to_thread(render.results_chart, view)
        if chart is not None:
            extra["file"] = discord.File(io.BytesIO(chart), filename=render.CHART_FILE)
            embed.set_image(url=f"attachment://{render.CHART_FILE}")
        await self._post_once(
            channel,
            render.results_text(view),
            since,
            look=look,
            embed=embed,
            **extra,
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(m) for m in credited], everyone=False, roles=False
            ),
        )

    # -- a stage change --------------------------------------------------------------------
    async def publish_stage(self, timer: Timer) -> None:
        """The idea's thread hears of it, and its author by DM (followers get the ideas'
        batched DMs, queued with the change)."""
        payload = timer.payload
        challenge = await self.services.challenges.by_id(int(payload["challenge_id"]))
        entry = await self.services.challenges.entry_of(int(payload["idea_id"]))
        if challenge is None or entry is None:
            return
        text = render.stage_text(
            challenge,
            entry,
            Stage(payload["old"]),
            Stage(payload["new"]),
            bool(payload["wildcard"]),
        )
        idea = await self.services.ideas.get_by_id(entry.idea_id)
        ideas: Any = self.bot.get_cog("Ideas")
        if idea is not None and ideas is not None:
            ideas.publisher.refresh_card(idea)  # the card names the stage
        look = not timer.first_try
        if idea is not None and idea.thread_id:
            thread = await self._get_channel(idea.thread_id)
            if isinstance(thread, discord.Thread):
                await self._step(
                    timer,
                    "thread",
                    lambda: self._post_once(thread, text, _since(timer), look=look),
                )
        if entry.author_id and entry.author_id != int(payload["actor_id"]):
            await self._step(timer, "author", lambda: self._dm(entry.author_id, text))

    # -- a mentor --------------------------------------------------------------------------
    async def publish_mentor(self, timer: Timer) -> FinishUnit | None:
        """A private thread (beside the idea's card) with the author, the contributors and
        the mentor, who are added and welcomed."""
        mentoring_id = int(timer.payload["mentoring_id"])
        found = await self.services.challenges.mentoring(mentoring_id)
        if found is None:
            return None
        challenge, entry, mentor_id, thread_id = found
        if thread_id is not None:
            return None
        members = [int(m) for m in timer.payload["members"]]
        idea = await self.services.ideas.get_by_id(entry.idea_id)
        # Beside the idea's card; else the challenge's channel; else (cards and challenge in
        # forums, where private threads cannot be) the ideas or staff channel.
        config = await self.services.guild_settings.get(challenge.guild_id)
        parent: Any = None
        for candidate in (
            idea.card_channel_id if idea else None,
            challenge.channel_id,
            config.channel("ideas_channel"),
            config.channel("staff_channel"),
        ):
            parent = await self._get_channel(candidate)
            if isinstance(parent, discord.TextChannel):
                break
        if not isinstance(parent, discord.TextChannel):
            raise RuntimeError(f"mentoring {mentoring_id}: no text channel for its thread")
        name = render.mentor_thread_name(challenge, entry)
        me = self.bot.user
        thread = next(
            (
                t
                for t in parent.threads
                if not timer.first_try and me is not None and t.owner_id == me.id and t.name == name
            ),
            None,
        )
        if thread is None:
            thread = await parent.create_thread(
                name=name, type=discord.ChannelType.private_thread, invitable=False
            )
        for member_id in members:
            await thread.add_user(discord.Object(member_id))
        await self._post_once(
            thread,
            render.mentor_text(challenge, entry, mentor_id, members),
            _since(timer),
            look=not timer.first_try,
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(m) for m in members], everyone=False, roles=False
            ),
        )
        return self.services.challenges.thread_recorder(mentoring_id, thread.id)
