"""Polls and outcome surveys in Discord: /poll and /survey commands, and votes in native
polls.

Thin by design: each handler parses, calls ``PollService``, and renders. The service has
committed before anything is posted or acknowledged; the poll message, its close and its
results are published by :class:`~cogs.polls.publisher.PollPublisher` from the store. The
UI (buttons, selects, modals) lives in :mod:`cogs.polls.ui`.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.guild_config import Access
from bot.domain.poll_model import PollKind, PollMode
from bot.errors import InvalidInput, PermissionDenied
from bot.render import polls as render
from bot.services.polls import CLOSE_TIMER, PUBLISH_POLL, PUBLISH_RESULTS, REMIND_TIMER
from cogs._common import access, moderator_only
from cogs.polls.publisher import PollPublisher
from cogs.polls.ui import DYNAMIC_ITEMS, PollModal, SurveyModal, role_ids

log = logging.getLogger(__name__)

MODE_CHOICES = [app_commands.Choice(name=m.value, value=m.value) for m in PollMode]
STATUS_CHOICES = [
    app_commands.Choice(name=s, value=s) for s in ("new", "under_review", "planned", "in_progress")
]
WHEN_HELP = "How long (2d, 6h) or when it ends (2026-12-01 18:00, in the server's timezone)"


class Polls(commands.Cog):
    """Polls, polls over ideas and outcome surveys."""

    poll = app_commands.Group(
        name="poll", description="Polls the community votes in", guild_only=True
    )
    survey = app_commands.Group(
        name="survey",
        description="Outcome surveys: what matters, what falls short",
        guild_only=True,
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.publisher = PollPublisher(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        timers = self.services.timers
        timers.register(PUBLISH_POLL, self.publisher.publish_poll)
        timers.register(CLOSE_TIMER, self.publisher.close_due)
        timers.register(PUBLISH_RESULTS, self.publisher.publish_results)
        timers.register(REMIND_TIMER, self.publisher.remind)

    async def cog_unload(self) -> None:
        await self.publisher.close()

    # ------------------------------------------------------------------- creating
    async def _prepare(
        self,
        interaction: discord.Interaction,
        channel: discord.abc.GuildChannel | None,
        *,
        native: bool = False,
    ) -> tuple[int, bool]:
        """Cheap checks before a modal opens (a modal cannot follow a defer): the member
        may create polls, and both they and the bot can post in the target channel. The
        service checks the member again on submit."""
        assert interaction.guild is not None
        moderator = Access.MODERATOR in await access(interaction)
        await self.services.polls.check_creator(
            interaction.guild.id, role_ids(interaction), moderator=moderator
        )
        target = interaction.guild.get_channel(
            channel.id if channel else interaction.channel_id or 0
        )
        if not isinstance(target, discord.TextChannel):
            raise InvalidInput("Polls are posted in a text channel; pick one with `channel`.")
        member = interaction.user
        if isinstance(member, discord.Member) and not target.permissions_for(member).send_messages:
            raise PermissionDenied(f"You cannot post in {target.mention}, so no poll there either.")
        me = interaction.guild.me
        mine = target.permissions_for(me)
        needed = {"send_messages": "post", "embed_links": "embed", "attach_files": "attach charts"}
        if native:
            needed["send_polls"] = "post native polls"
        lacking = [what for name, what in needed.items() if not getattr(mine, name)]
        if lacking:
            raise PermissionDenied(
                f"I cannot {', '.join(lacking)} in {target.mention}. "
                "A moderator can run `/setup check`."
            )
        return target.id, moderator

    async def create_from_modal(
        self,
        interaction: discord.Interaction,
        settings: dict[str, Any],
        question: str,
        options: str,
    ) -> None:
        """The modal was submitted: store the poll (one unit), post it, answer."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        moderator = Access.MODERATOR in await access(interaction)
        created = await self.services.polls.create(
            guild_id=interaction.guild_id,
            creator_id=interaction.user.id,
            role_ids=role_ids(interaction),
            moderator=moderator,
            question=question,
            options=options,
            **settings,
        )
        await self._posted(interaction, created)

    async def _posted(self, interaction: discord.Interaction, created: Any) -> None:
        await self.services.timers.run_written(created.publication)
        poll = await self.services.polls.get_by_id(created.poll.id) or created.poll
        kind = "Survey" if poll.kind is PollKind.SURVEY else "Poll"
        where = poll.message_url or f"<#{poll.channel_id}>"
        await interaction.followup.send(
            f"{kind} #{poll.id} is open until {render.stamp(poll.closes_at, 'f')}: {where}",
            ephemeral=True,
        )

    @poll.command(name="create", description="Start a poll (a form then asks for the options)")
    @app_commands.describe(
        duration=WHEN_HELP,
        mode="single: pick one · multi: pick several · ranked: order them (instant run-off)",
        max_picks="multi: how many options a member may pick (default all)",
        anonymous="No one (not even moderators) can see who voted what",
        results="live: counts shown while it runs · hidden: only when it closes",
        eligible_role="Only members with this role can vote",
        channel="Where to post it (default here)",
        native="A Discord native poll (simple cases: public, live, up to 10 short answers)",
    )
    @app_commands.choices(mode=MODE_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        duration: app_commands.Range[str, 1, 40],
        mode: str = "single",
        max_picks: app_commands.Range[int, 1, 20] | None = None,
        anonymous: bool = False,
        results: Literal["live", "hidden"] = "live",
        eligible_role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
        native: bool = False,
    ) -> None:
        channel_id, _ = await self._prepare(interaction, channel, native=native)
        settings = {
            "channel_id": channel_id,
            "when": duration,
            "mode": PollMode(mode),
            "max_picks": max_picks,
            "anonymous": anonymous,
            "hide_results": results == "hidden",
            "eligible_role_id": eligible_role.id if eligible_role else None,
            "native": native,
        }
        await interaction.response.send_modal(PollModal(settings))

    @poll.command(name="ideas", description="A poll whose options are ideas (moderators)")
    @app_commands.describe(
        duration=WHEN_HELP,
        numbers="Idea numbers, e.g. `3 5 8`",
        status="Or: the most-supported ideas of this status",
        top="How many of them (2–10)",
        mode="single, multi or ranked (instant run-off)",
        question="The question members see",
        channel="Where to post it (default here)",
    )
    @app_commands.choices(mode=MODE_CHOICES, status=STATUS_CHOICES)
    @moderator_only()
    async def ideas(
        self,
        interaction: discord.Interaction,
        duration: app_commands.Range[str, 1, 40],
        numbers: app_commands.Range[str, 1, 100] | None = None,
        status: str | None = None,
        top: app_commands.Range[int, 2, 10] = 5,
        mode: str = "ranked",
        question: app_commands.Range[str, 1, 300] = "Which idea should we build next?",
        channel: discord.TextChannel | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        channel_id, moderator = await self._prepare(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        picked = [
            int(n)
            for n in (numbers or "").replace(",", " ").replace("#", " ").split()
            if n.isdigit()
        ]
        if numbers and not picked:
            raise InvalidInput("Give idea numbers such as `3 5 8`.")
        polls = self.services.polls
        options, idea_ids = await polls.ideas_as_options(
            interaction.guild_id, numbers=picked, status=status, top=top
        )
        created = await polls.create(
            guild_id=interaction.guild_id,
            channel_id=channel_id,
            creator_id=interaction.user.id,
            role_ids=role_ids(interaction),
            moderator=moderator,
            question=question,
            options=options,
            when=duration,
            mode=PollMode(mode),
            idea_ids=idea_ids,
        )
        await self._posted(interaction, created)

    @survey.command(name="create", description="Start an outcome survey (a form asks for outcomes)")
    @app_commands.describe(
        duration=WHEN_HELP,
        anonymous="No one (not even moderators) can see who answered what",
        eligible_role="Only members with this role can answer",
        channel="Where to post it (default here)",
    )
    async def survey_create(
        self,
        interaction: discord.Interaction,
        duration: app_commands.Range[str, 1, 40],
        anonymous: bool = False,
        eligible_role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        channel_id, _ = await self._prepare(interaction, channel)
        settings = {
            "channel_id": channel_id,
            "when": duration,
            "kind": PollKind.SURVEY,
            "anonymous": anonymous,
            "eligible_role_id": eligible_role.id if eligible_role else None,
        }
        await interaction.response.send_modal(SurveyModal(settings))

    # ---------------------------------------------------------------- after creating
    @poll.command(name="close", description="Close a poll or survey now (its creator, moderators)")
    async def close(self, interaction: discord.Interaction, poll: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        moderator = Access.MODERATOR in await access(interaction)
        found = await self.services.polls.get(interaction.guild_id, poll)
        counts = None
        if found.native and found.is_open:
            counts = await self.publisher.native_counts(found)
        closing = await self.services.polls.close(
            poll,
            guild_id=interaction.guild_id,
            actor_id=interaction.user.id,
            moderator=moderator,
            native_counts=counts,
        )
        assert closing is not None and closing.publication is not None
        await self.services.timers.run_written(closing.publication)
        await interaction.followup.send(
            f"Poll #{poll} is closed; the results are posted.", ephemeral=True
        )

    @poll.command(name="results", description="The results of a poll or survey")
    async def results(self, interaction: discord.Interaction, poll: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.services.polls.results(interaction.guild_id, poll)
        embed = render.results_embed(found)
        png = await asyncio.to_thread(render.results_chart, found)
        if png is None:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        embed.set_image(url="attachment://results.png")
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename="results.png"), ephemeral=True
        )

    @poll.command(name="list", description="Open polls and surveys")
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        polls = await self.services.polls.open_polls(interaction.guild_id)
        await interaction.followup.send(embed=render.list_embed(polls), ephemeral=True)

    @poll.command(name="export", description="A named poll's ballots as CSV (creator, moderators)")
    async def export(self, interaction: discord.Interaction, poll: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        moderator = Access.MODERATOR in await access(interaction)
        text = await self.services.polls.export_csv(
            interaction.guild_id, poll, interaction.user.id, moderator=moderator
        )
        await interaction.followup.send(
            f"Ballots of poll #{poll}:",
            file=discord.File(io.BytesIO(text.encode()), filename=f"poll-{poll}.csv"),
            ephemeral=True,
        )

    # --------------------------------------------------------------- native polls
    @commands.Cog.listener()
    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        """A vote in a native poll this bot posted: participation points (once a poll)."""
        if payload.guild_id is None:
            return
        await self.services.polls.native_vote(payload.guild_id, payload.message_id, payload.user_id)
