"""What the Policy feature shows in Discord, published from the store.

A change commits first, with a timer row saying what to show (``bot.services.policy``);
this publisher runs it at once and again at start or on retry. Each publication is a short
list of steps (the card, a thread message, the staff summary, DMs…); a step is recorded in
the row's payload when done, so a retry repeats none, and a retry first looks for what a
crashed attempt posted before it could record it, so each post appears once.

A post Discord refuses (a server error, a permission removed) fails the publication, which
is retried with backoff; after :data:`ALERT_AFTER` failed attempts the staff channel is
told, once. Card edits (live counts) are coalesced, at most one a second per card, and
record the version they show, so cards left stale are corrected at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import discord

from bot import faults
from bot.client import CocreateBot
from bot.domain.policy import Decision
from bot.domain.policy_model import Policy, PolicyView
from bot.render import policy as render
from bot.scheduling.timers import Timer
from bot.services.policy import Post
from cogs._publishing import find_own
from cogs.policy.ui import card_view, idea_views

log = logging.getLogger(__name__)

CARD_REFRESH_DELAY = 1.0  # stances within a second become one card edit
CARD_EDIT_RETRIES = 5
#: Failed attempts of a publication after which the staff channel is told (once).
ALERT_AFTER = 3
_WHAT: dict[Post, str] = {
    Post.REMINDER: "comment reminder",
    Post.CLOSE: "close summary",
    Post.STAFF_REMINDER: "staff reminder",
    Post.RESPONSE: "response",
    Post.EFFECTIVE: "in-effect announcement",
    Post.WITHDRAWN: "cancellation",
    Post.AWAITING: "awaiting-response notice",
}

Channel = discord.TextChannel | discord.Thread


class PolicyPublisher:
    """Posts and edits what the store says must appear in Discord (see the module)."""

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.card_refresh_delay = CARD_REFRESH_DELAY
        self._refresh: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()

    async def close(self) -> None:
        """Let pending card edits finish (they are corrected at start if cut short)."""
        for task in list(self._refresh.values()):
            with contextlib.suppress(Exception):
                await task

    # ------------------------------------------------------------------- the handlers
    async def publish_announcement(self, timer: Timer) -> None:
        await self._guarded(timer, "announcement", self._announce)

    async def publish_post(self, timer: Timer) -> None:
        what = Post(timer.payload["what"])
        await self._guarded(timer, _WHAT[what], self._post)

    async def _guarded(
        self, timer: Timer, what: str, run: Callable[[Timer, Policy], Awaitable[None]]
    ) -> None:
        policy = await self.services.policy.by_id(int(timer.payload["policy_id"]))
        if policy is None:
            return  # purged meanwhile
        alert = timer.attempts >= ALERT_AFTER and not timer.payload.get("alerted")
        if alert and await self._alert(policy, what, timer.attempts):
            timer.payload["alerted"] = True
            await self.services.timers.save_progress(timer)
        await run(timer, policy)

    async def _alert(self, policy: Policy, what: str, attempts: int) -> bool:
        """Tell staff a post keeps failing (best effort: it may fail for the same reason)."""
        staff = await self._staff_channel(policy.guild_id)
        if staff is None:
            return False
        try:
            await staff.send(render.failure_text(policy, what, attempts))
        except discord.HTTPException as exc:
            log.warning(
                "Could not tell staff of guild %s about a failing post: %s", policy.guild_id, exc
            )
            return False
        return True

    async def _step(self, timer: Timer, name: str, action: Callable[[], Awaitable[object]]) -> None:
        """Run ``action`` unless an earlier attempt recorded it done; record it when done."""
        done: list[str] = timer.payload.setdefault("done", [])
        if name in done:
            return
        await action()
        done.append(name)
        await self.services.timers.save_progress(timer)

    # ------------------------------------------------------------------- the announcement
    async def _announce(self, timer: Timer, policy: Policy) -> None:
        """The card (pinging the chosen role, never @everyone), its discussion thread (a
        forum post when the announcements channel is a forum), the full text in the thread,
        and a pointer in each affected channel."""
        look = not timer.first_try
        since = _since(timer)
        channel = await self._announcements(policy.guild_id)
        if policy.card_message_id is None:
            if isinstance(channel, discord.ForumChannel):
                card = await self._forum_post(channel, policy, look)
            else:
                card = await self._card_message(channel, policy, since, look)
            await faults.reached("policy.after-card-post")
            await self.services.policy.attach_card(policy.id, card.channel.id, card.id)
            await self.services.policy.card_shown(policy.id, policy.card_version)
            policy = replace(policy, card_channel_id=card.channel.id, card_message_id=card.id)
        if policy.thread_id is None:
            if isinstance(channel, discord.ForumChannel):
                thread_id = policy.card_channel_id or 0  # the post is the thread
            else:
                thread_id = await self._open_thread(policy)
            await self.services.policy.attach_thread(policy.id, thread_id)
            policy = replace(policy, thread_id=thread_id)
            fresh = await self.services.policy.by_id(policy.id)
            if fresh is not None:
                self.refresh_card(fresh)  # the card links its thread
        thread = await self._thread(policy)
        await self._step(timer, "text", lambda: self._full_text(thread, policy, since, look))
        for channel_id in policy.affected_channels:
            affected = self._channel(channel_id)
            if isinstance(affected, discord.TextChannel):
                post = partial(
                    self._post_once, affected, render.affected_text(policy), since=since, look=look
                )
                await self._step(timer, f"affected:{channel_id}", post)

    async def _announcements(self, guild_id: int) -> discord.TextChannel | discord.ForumChannel:
        config = await self.services.guild_settings.get(guild_id)
        channel = self._channel(config.channel("announcements_channel"))
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            raise RuntimeError(f"guild {guild_id} has no announcements channel to post in")
        return channel

    @staticmethod
    def _ping(policy: Policy) -> discord.AllowedMentions:
        role = policy.notify_role_id
        return discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(role)] if role else False
        )

    async def _card_message(
        self, channel: discord.TextChannel, policy: Policy, since: datetime, look: bool
    ) -> discord.Message:
        title = render.card_title(policy)
        found = (
            await self._find_own(channel, since, lambda m: _has_title(m, title)) if look else None
        )
        return found or await channel.send(
            render.announcement_content(policy),
            embed=render.card(policy),
            view=card_view(policy) or discord.utils.MISSING,
            allowed_mentions=self._ping(policy),
        )

    async def _forum_post(
        self, forum: discord.ForumChannel, policy: Policy, look: bool
    ) -> discord.Message | discord.PartialMessage:
        """The announcement as a forum post: its starter message is the card. A retry finds
        the post a crashed attempt made (by the bot, named like the policy)."""
        name = render.clip(render.heading(policy), 100)
        me = self.bot.user
        if look and me is not None:
            for thread in forum.threads:
                if thread.owner_id == me.id and thread.name == name:
                    return thread.get_partial_message(thread.id)
        posted = await forum.create_thread(
            name=name,
            content=render.announcement_content(policy) or discord.utils.MISSING,
            embed=render.card(policy),
            view=card_view(policy) or discord.utils.MISSING,
            allowed_mentions=self._ping(policy),
        )
        return posted.message

    async def _open_thread(self, policy: Policy) -> int:
        """The announcement's discussion thread: created, or found (a thread started from a
        message has the message's id) when a crashed attempt created it."""
        assert policy.card_channel_id and policy.card_message_id
        channel = self.bot.get_partial_messageable(policy.card_channel_id, guild_id=policy.guild_id)
        card = channel.get_partial_message(policy.card_message_id)
        try:
            thread = await card.create_thread(name=render.clip(render.heading(policy), 100))
        except discord.HTTPException:
            existing = await self._fetch_channel(policy.card_message_id)
            if isinstance(existing, discord.Thread):
                return existing.id
            raise
        return thread.id

    async def _full_text(
        self, thread: Channel | None, policy: Policy, since: datetime, look: bool
    ) -> None:
        if thread is None:
            return
        await self._post_once(
            thread,
            render.text_heading(policy),
            embeds=[render.text_embed(policy, policy.body)],
            file_text=(f"policy-{policy.number}.md", policy.body)
            if len(policy.body) > 4000
            else None,
            since=since,
            look=look,
        )

    # ------------------------------------------------------------------- later posts
    async def _post(self, timer: Timer, policy: Policy) -> None:
        what = Post(timer.payload["what"])
        view = await self.services.policy.view_by_id(policy.id)
        if view is None:
            return
        policy = view.policy
        look = not timer.first_try
        since = _since(timer)
        thread = await self._thread(policy) if policy.thread_id else None
        staff = await self._staff_channel(policy.guild_id)

        async def in_thread(text: str, **kw: Any) -> None:
            if policy.thread_id is None:
                # The announcement itself is still being retried: this waits for it.
                raise RuntimeError(f"policy {policy.id} has no thread yet")
            if thread is not None:  # else the thread was deleted: nowhere to post
                await self._post_once(thread, text, since=since, look=look, **kw)

        async def for_staff(text: str, **kw: Any) -> None:
            if staff is not None:
                await self._post_once(staff, text, since=since, look=look, **kw)

        if what in (Post.CLOSE, Post.RESPONSE, Post.EFFECTIVE, Post.WITHDRAWN, Post.AWAITING):
            await self._step(timer, "card", lambda: self._edit_card(policy))
        if what is Post.REMINDER:
            await self._step(timer, "thread", lambda: in_thread(render.reminder_text(policy)))
        elif what is Post.CLOSE:
            # Staff first: they are told even while the thread cannot be posted in.
            await self._staff_summary(timer, view, for_staff)
            await self._step(
                timer,
                "thread",
                lambda: in_thread(
                    render.summary_heading(policy, staff=False),
                    embeds=[render.summary_embed(view, staff=False)],
                ),
            )
        elif what is Post.STAFF_REMINDER:
            await self._step(timer, "staff", lambda: for_staff(render.staff_reminder_text(policy)))
        elif what is Post.RESPONSE:
            await self._step(
                timer,
                "thread",
                lambda: in_thread(
                    render.response_heading(policy), embeds=[render.response_embed(view)]
                ),
            )
            await self._concern_authors(timer, view, in_thread)
        elif what in (Post.EFFECTIVE, Post.WITHDRAWN):
            await self._step(timer, "announce", lambda: self._settled(policy, since, look))
            heading = (
                render.effective_heading(policy)
                if what is Post.EFFECTIVE
                else render.withdrawn_heading(policy)
            )
            announcements = await self._announcements(policy.guild_id)
            if not isinstance(announcements, discord.ForumChannel):  # else: posted there
                await self._step(timer, "thread", lambda: in_thread(heading))
        elif what is Post.AWAITING:
            await self._step(timer, "staff", lambda: for_staff(render.staff_awaiting_text(policy)))
            await self._step(timer, "thread", lambda: in_thread(render.awaiting_text(policy)))

    async def _staff_summary(
        self, timer: Timer, view: PolicyView, for_staff: Callable[..., Awaitable[None]]
    ) -> None:
        """The summary with authors, and a "Make an idea" button per concern (25 a message)."""
        policy = view.policy
        buttons = idea_views(view)
        await self._step(
            timer,
            "staff",
            lambda: for_staff(
                render.summary_heading(policy, staff=True),
                embeds=[render.summary_embed(view, staff=True)],
                view=buttons[0] if buttons else None,
            ),
        )
        for n, more in enumerate(buttons[1:], 2):
            text = (
                f"💡 More concerns of policy #{policy.number} to make ideas of ({n}/{len(buttons)})"
            )
            await self._step(timer, f"staff:{n}", partial(for_staff, text, view=more))

    async def _concern_authors(
        self, timer: Timer, view: PolicyView, in_thread: Callable[..., Awaitable[None]]
    ) -> None:
        """Each member who raised a concern gets the answer by DM; those whose DMs are closed
        are mentioned in the thread instead (one message)."""
        policy = view.policy
        payload = timer.payload
        told: list[int] = payload.setdefault("told", [])
        closed: list[int] = payload.setdefault("closed", [])
        guild = self.bot.get_guild(policy.guild_id)
        name = guild.name if guild else "the server"
        for member_id in await self.services.policy.concern_authors(policy.id):
            if member_id in told:
                continue
            if not await self._dm(member_id, render.concern_dm_text(view, member_id, name)):
                closed.append(member_id)
            told.append(member_id)
            await self.services.timers.save_progress(timer)
        if closed:
            await self._step(
                timer,
                "mentions",
                lambda: in_thread(
                    render.concern_mentions_text(policy, closed),
                    allowed_mentions=discord.AllowedMentions(
                        users=[discord.Object(m) for m in closed], everyone=False, roles=False
                    ),
                ),
            )

    async def _settled(self, policy: Policy, since: datetime, look: bool) -> None:
        """The in-effect announcement (with the amended text) or the cancellation, in the
        announcements channel."""
        announcements = await self._announcements(policy.guild_id)
        channel: Channel | None = (
            await self._thread(policy)
            if isinstance(announcements, discord.ForumChannel)
            else announcements
        )
        if channel is None:
            return
        withdrawn = policy.decision is Decision.WITHDRAW
        heading = (
            render.withdrawn_heading(policy) if withdrawn else render.effective_heading(policy)
        )
        if policy.card_url:
            heading += f"\n{policy.card_url}"
        embeds = None
        if not withdrawn:
            embeds = [render.text_embed(policy, policy.text)]
        await self._post_once(
            channel,
            heading,
            embeds=embeds,
            file_text=(f"policy-{policy.number}.md", policy.text)
            if len(policy.text) > 4000 and not withdrawn
            else None,
            since=since,
            look=look,
        )

    # ------------------------------------------------------------------- Discord helpers
    async def _post_once(
        self,
        channel: Channel,
        text: str,
        *,
        since: datetime,
        look: bool,
        embeds: list[discord.Embed] | None = None,
        view: discord.ui.View | None = None,
        file_text: tuple[str, str] | None = None,
        allowed_mentions: discord.AllowedMentions | None = None,
    ) -> None:
        """Post unless a crashed attempt already did. Every error but a vanished channel
        propagates: the publication is retried (and staff told if it keeps failing)."""
        if look and await self._find_own(channel, since, lambda m: m.content == text):
            return
        file = (
            discord.File(io.BytesIO(file_text[1].encode()), filename=file_text[0])
            if file_text
            else discord.utils.MISSING
        )
        try:
            await channel.send(
                text,
                embeds=embeds or discord.utils.MISSING,
                view=view or discord.utils.MISSING,
                file=file,
                allowed_mentions=allowed_mentions or discord.AllowedMentions.none(),
            )
        except discord.NotFound:
            log.warning("Channel %s is gone; skipped a policy post there", channel.id)

    async def _find_own(
        self,
        channel: discord.abc.Messageable,
        since: datetime,
        matches: Callable[[discord.Message], bool],
    ) -> discord.Message | None:
        return await find_own(self.bot, channel, since, matches)

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
        except discord.Forbidden:
            return False  # DMs closed: mentioned in the thread instead

    def _channel(self, channel_id: int | None) -> Any:
        if not channel_id:
            return None
        return self.bot.get_channel(channel_id)

    async def _fetch_channel(self, channel_id: int) -> Any:
        try:
            return await self.bot.fetch_channel(channel_id)
        except discord.HTTPException:
            return None

    async def _thread(self, policy: Policy) -> Channel | None:
        if not policy.thread_id:
            return None
        thread = self._channel(policy.thread_id) or await self._fetch_channel(policy.thread_id)
        return thread if isinstance(thread, discord.Thread) else None

    async def _staff_channel(self, guild_id: int) -> discord.TextChannel | None:
        config = await self.services.guild_settings.get(guild_id)
        channel = self._channel(config.channel("staff_channel"))
        return channel if isinstance(channel, discord.TextChannel) else None

    # ------------------------------------------------------------------- the card
    def refresh_card(self, policy: Policy) -> None:
        """Edit the card soon; changes within a second become one edit (rate limits). The
        version shown is recorded, so a card whose edit was lost is corrected at start."""
        if not policy.card_message_id:
            return  # not posted yet: the announcement shows the latest version
        self._dirty.add(policy.id)
        task = self._refresh.get(policy.id)
        if task is None or task.done():
            self._refresh[policy.id] = asyncio.create_task(
                self._refresh_later(policy.id), name=f"cocreate:policy-card-{policy.id}"
            )

    async def _refresh_later(self, policy_id: int) -> None:
        failures = 0
        try:
            while policy_id in self._dirty:
                await asyncio.sleep(self.card_refresh_delay * 2**failures)
                self._dirty.discard(policy_id)
                policy = await self.services.policy.by_id(policy_id)
                if policy is None:
                    return
                try:
                    await self._edit_card(policy)
                    failures = 0
                except discord.HTTPException as exc:
                    failures += 1
                    if failures > CARD_EDIT_RETRIES:
                        raise
                    log.info("Editing the card of policy %s failed (%s); retrying", policy_id, exc)
                    self._dirty.add(policy_id)
        except Exception:
            log.exception("Refreshing the card of policy %s failed", policy_id)
        finally:
            self._refresh.pop(policy_id, None)

    async def _edit_card(self, policy: Policy) -> None:
        """Show the store's latest version on the card (buttons disabled after close)."""
        fresh = await self.services.policy.by_id(policy.id)
        policy = fresh or policy
        if not policy.card_message_id or not policy.card_channel_id:
            return
        channel = self.bot.get_partial_messageable(policy.card_channel_id, guild_id=policy.guild_id)
        message = channel.get_partial_message(policy.card_message_id)
        try:
            await message.edit(embed=render.card(policy), view=card_view(policy))
        except discord.NotFound:
            log.info("The card of policy %s is gone", policy.id)
        await self.services.policy.card_shown(policy.id, policy.card_version)

    async def correct_cards(self, guild: discord.Guild) -> int:
        """At start: edit the cards that show less than the store holds."""
        stale = await self.services.policy.stale_cards(guild.id)
        for policy in stale:
            self.refresh_card(policy)
        return len(stale)


def _since(timer: Timer) -> datetime:
    at = timer.payload.get("at")
    return datetime.fromisoformat(at) if isinstance(at, str) else timer.due_at


def _has_title(message: discord.Message, title: str) -> bool:
    return any((e.title or "") == title for e in message.embeds)
