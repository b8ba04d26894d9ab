"""Challenges in Discord: the /challenge commands.

Thin by design: each handler parses, calls one ``ChallengeService`` method, and renders.
The service has committed before anything is posted or acknowledged; what must appear in
Discord is published by :class:`~cogs.challenges.publisher.ChallengePublisher` from the
store. Members answer a challenge with its announcement's button or ``/idea submit
challenge:``; ``list``, ``show`` and ``leaderboard`` are for everyone, ``score`` for judges,
the rest for moderators (checked here on every call; the group mixes all of them, so it
cannot carry Manage Server as its default permission).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.challenges import STAGE_LABEL, Stage
from bot.domain.guild_config import Access
from bot.errors import InvalidInput
from bot.render import challenges as render
from bot.scheduling.timers import Timer
from bot.services.challenges import (
    POINTS_TIMER,
    PUBLISH_ANNOUNCE,
    PUBLISH_MENTOR,
    PUBLISH_POST,
    PUBLISH_STAGE,
)
from cogs._common import access, access_only, moderator_only
from cogs.challenges.publisher import ChallengePublisher
from cogs.challenges.ui import (
    CreateModal,
    ScoreModal,
    SubmitIdeaButton,
    challenge_autocomplete,
    entry_autocomplete,
)

log = logging.getLogger(__name__)
T = TypeVar("T", bound=Any)

STAGE_CHOICES = [
    app_commands.Choice(name=STAGE_LABEL[s].split(" ", 1)[1], value=s.value)
    for s in Stage
    if s is not Stage.SUBMITTED
]


def judge_only() -> Callable[[T], T]:
    """Check for the judges' command (a role in ``judge_roles``)."""
    return access_only(Access.JUDGE)


class Challenges(commands.Cog):
    """Focused, time-boxed idea campaigns with stages, judges, mentors and rewards."""

    group = app_commands.Group(
        name="challenge",
        description="Focused idea campaigns: a question, a deadline, judges and rewards",
        guild_only=True,
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.publisher = ChallengePublisher(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SubmitIdeaButton)
        timers = self.services.timers
        timers.register(PUBLISH_ANNOUNCE, self.publisher.publish_announcement)
        timers.register(PUBLISH_POST, self.publisher.publish_post)
        timers.register(PUBLISH_STAGE, self.publisher.publish_stage)
        timers.register(PUBLISH_MENTOR, self.publisher.publish_mentor)
        # The rewards, then the reward roles that follow members' totals (a Discord step the
        # service alone cannot take; without this cog the service's handler pays alone).
        timers.register(POINTS_TIMER, self.pay_rewards)

    async def pay_rewards(self, timer: Timer) -> None:
        await self.services.challenges.on_points(timer)
        points: Any = self.bot.get_cog("Points")
        if points is not None:
            members = [int(a["member_id"]) for a in timer.payload["awards"]]
            await points.apply_role_rewards(timer.guild_id, members)

    async def _staff(self, interaction: discord.Interaction) -> bool:
        levels = await access(interaction)
        return Access.STAFF in levels or Access.MODERATOR in levels

    # ------------------------------------------------------------------- moderators
    @group.command(name="create", description="Start a challenge (moderators): a form follows")
    @app_commands.describe(
        title="The question, in a line",
        submission_end="Ideas until (the server's timezone): 2026-05-01 18:00, or `in 14d`",
        screening_end="Screening until (after the submission end)",
        shortlist_end="Shortlisting until (after the screening end)",
        judging_end="Judging until (after the shortlist end)",
        criteria="1 to 4 criteria with positive weights: `Impact:3; Feasibility:2; Fit:1`",
        finalist_points="Points for each finalist (default: the server's setting)",
        winner_points="Points for the winner (default: the server's setting)",
        forum="Announce it as a post in this forum",
    )
    @moderator_only()
    async def create(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 100],
        submission_end: app_commands.Range[str, 1, 100],
        screening_end: app_commands.Range[str, 1, 100],
        shortlist_end: app_commands.Range[str, 1, 100],
        judging_end: app_commands.Range[str, 1, 100],
        criteria: app_commands.Range[str, 1, 300],
        finalist_points: app_commands.Range[int, 0, 10000] | None = None,
        winner_points: app_commands.Range[int, 0, 10000] | None = None,
        forum: discord.ForumChannel | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        config = await self.services.guild_settings.get(interaction.guild_id)
        # A form cannot follow a defer: the options are checked now, the rest on submit.
        options = await self.services.challenges.parse_options(
            interaction.guild_id,
            title=title,
            submission_end=submission_end,
            screening_end=screening_end,
            shortlist_end=shortlist_end,
            judging_end=judging_end,
            criteria=criteria,
            finalist_points=(
                int(config["points_challenge_finalist"])
                if finalist_points is None
                else finalist_points
            ),
            winner_points=(
                int(config["points_challenge_winner"]) if winner_points is None else winner_points
            ),
        )
        channel_id = config.channel("announcements_channel") or interaction.channel_id
        await interaction.response.send_modal(
            CreateModal(options, forum.id if forum else None, channel_id)
        )

    @group.command(name="stage", description="Move an idea to its next challenge stage")
    @app_commands.describe(idea="The idea's number", stage="Its new stage")
    @app_commands.choices(stage=STAGE_CHOICES)
    @app_commands.autocomplete(idea=entry_autocomplete)
    @moderator_only()
    async def stage(
        self, interaction: discord.Interaction, idea: app_commands.Range[int, 1], stage: str
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        change = await self.services.challenges.set_stage(
            interaction.guild_id, idea, Stage(stage), interaction.user.id
        )
        await interaction.followup.send(
            f"Idea #{idea} is now {STAGE_LABEL[change.new]} in challenge "
            f"#{change.challenge.number}; its author and followers are told.",
            ephemeral=True,
        )

    @group.command(name="mentor", description="Give an idea a mentor (a private thread)")
    @app_commands.describe(idea="The idea's number", member="The mentor")
    @app_commands.autocomplete(idea=entry_autocomplete)
    @moderator_only()
    async def mentor(
        self,
        interaction: discord.Interaction,
        idea: app_commands.Range[int, 1],
        member: discord.Member,
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        if member.bot:
            raise InvalidInput("A bot cannot mentor an idea.")
        mentoring = await self.services.challenges.mentor(
            interaction.guild_id, idea, member.id, interaction.user.id
        )
        where = (
            f"<#{mentoring.thread_id}>" if mentoring.thread_id else "a private thread (opening…)"
        )
        await interaction.followup.send(
            f"🧭 {member.mention} mentors idea #{idea}: {where}.", ephemeral=True
        )

    @group.command(name="publish", description="Publish the results, scores and rewards")
    @app_commands.autocomplete(challenge=challenge_autocomplete)
    @moderator_only()
    async def publish(self, interaction: discord.Interaction, challenge: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        change = await self.services.challenges.publish(
            interaction.guild_id, challenge, interaction.user.id
        )
        await interaction.followup.send(
            f"🏆 The results of challenge #{change.challenge.number} are published; rewards "
            "are on their way.",
            ephemeral=True,
        )

    @group.command(name="scorecards", description="The judges' scorecards and notes on an idea")
    @app_commands.describe(idea="The idea's number")
    @app_commands.autocomplete(idea=entry_autocomplete)
    @moderator_only()
    async def scorecards(
        self, interaction: discord.Interaction, idea: app_commands.Range[int, 1]
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        challenge, entry, cards = await self.services.challenges.scorecards(
            interaction.guild_id, idea
        )
        await interaction.followup.send(
            embed=render.scorecards(challenge, entry, cards), ephemeral=True
        )

    # ------------------------------------------------------------------- judges
    @group.command(name="score", description="Score a challenge idea (judges): a scorecard")
    @app_commands.describe(idea="The idea's number")
    @app_commands.autocomplete(idea=entry_autocomplete)
    @judge_only()
    async def score(
        self, interaction: discord.Interaction, idea: app_commands.Range[int, 1]
    ) -> None:
        assert interaction.guild_id is not None
        # A form cannot follow a defer: the quick check here, the unit decides again.
        challenge, _ = await self.services.challenges.check_can_score(
            interaction.guild_id, idea, interaction.user.id
        )
        await interaction.response.send_modal(ScoreModal(challenge, idea))

    # ------------------------------------------------------------------- everyone
    @group.command(name="list", description="The server's challenges")
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        items = await self.services.challenges.browse(interaction.guild_id)
        embed = discord.Embed(
            title="Challenges", description=render.list_lines(items), colour=render.COLOUR
        )
        await interaction.followup.send(embed=embed, ephemeral=True)

    @group.command(name="show", description="One challenge: its question, dates and ideas")
    @app_commands.autocomplete(challenge=challenge_autocomplete)
    async def show(self, interaction: discord.Interaction, challenge: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        staff = await self._staff(interaction)
        view = await self.services.challenges.view(interaction.guild_id, challenge, staff=staff)
        private = staff and not view.challenge.published
        await interaction.followup.send(embed=render.detail(view, private=private), ephemeral=True)

    @group.command(name="leaderboard", description="A challenge's ideas by judges' score and votes")
    @app_commands.autocomplete(challenge=challenge_autocomplete)
    async def leaderboard(self, interaction: discord.Interaction, challenge: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        view = await self.services.challenges.view(interaction.guild_id, challenge, staff=False)
        await interaction.followup.send(embed=render.leaderboard(view), ephemeral=True)
