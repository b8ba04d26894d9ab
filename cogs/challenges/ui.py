"""The Challenges feature's Discord UI: the announcement's **Submit an idea** button (a
``DynamicItem`` whose state lives in the ``custom_id``, so it works after a restart), the
form staff fill in after ``/challenge create`` and the judges' scorecard. Each handler
parses, calls one service method, and renders."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from bot.domain.challenge_model import Challenge, ChallengeDraft
from bot.domain.guild_config import Access
from bot.render import challenges as render
from bot.services.challenges import ChallengeService, CreateOptions
from cogs._common import bot_of, require
from cogs._errors import ReportingDynamicItem, ReportingModal
from cogs.ideas.ui import SubmitModal


def _challenges(interaction: discord.Interaction) -> ChallengeService:
    return bot_of(interaction).services.challenges


def announcement_view(challenge: Challenge, *, open_: bool = True) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(SubmitIdeaButton(challenge.number, open_=open_))
    return view


class SubmitIdeaButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"challenge:submit:(?P<number>\d+)",
):
    """Opens the idea form bound to the challenge, while it takes ideas."""

    def __init__(self, number: int, *, open_: bool = True) -> None:
        super().__init__(
            discord.ui.Button(
                label="Submit an idea",
                emoji="💡",
                style=discord.ButtonStyle.primary,
                disabled=not open_,
                custom_id=f"challenge:submit:{number}",
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SubmitIdeaButton:
        return cls(int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        # A form cannot follow a defer: only the quick check here; the submit unit decides.
        await _challenges(interaction).check_open(interaction.guild_id, self.number)
        # The same form as /idea submit: held for review and "Post as" like any idea.
        config = await bot_of(interaction).services.guild_settings.get(interaction.guild_id)
        await interaction.response.send_modal(
            SubmitModal(
                "idea",
                (),
                challenge=self.number,
                joined_at=getattr(interaction.user, "joined_at", None),
                offer_anonymous=bool(config["ideas_anonymous"]),
            )
        )


class CreateModal(ReportingModal, title="Create a challenge"):
    problem: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="The problem (the job to be done, the pain)",
        custom_id="problem",
        style=discord.TextStyle.paragraph,
        max_length=2000,
    )
    good_answer: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What a good answer looks like",
        custom_id="good_answer",
        style=discord.TextStyle.paragraph,
        max_length=2000,
    )

    def __init__(
        self, options: CreateOptions, forum_channel_id: int | None, channel_id: int | None
    ) -> None:
        super().__init__()
        self.options = options
        self.forum_channel_id = forum_channel_id
        self.channel_id = channel_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        o = self.options
        change = await _challenges(interaction).create(
            ChallengeDraft(
                guild_id=interaction.guild_id,
                author_id=interaction.user.id,
                title=o.title,
                problem=str(self.problem.value),
                good_answer=str(self.good_answer.value),
                ends=o.ends,
                criteria=o.criteria,
                finalist_points=o.finalist_points,
                winner_points=o.winner_points,
                forum_channel_id=self.forum_channel_id,
                channel_id=self.channel_id,
            )
        )
        challenge = change.challenge
        where = challenge.url or "its channel (posting…)"
        await interaction.followup.send(
            f"**Challenge #{challenge.number}** is announced: {where}", ephemeral=True
        )


class ScoreModal(ReportingModal, title="Score an idea"):
    """One 1–5 input per criterion (at most four) and a private note."""

    def __init__(self, challenge: Challenge, idea_number: int) -> None:
        super().__init__(title=f"Score idea #{idea_number}"[:45])
        self.idea_number = idea_number
        self.inputs: list[discord.ui.TextInput[Any]] = []
        for i, criterion in enumerate(challenge.criteria):
            field: discord.ui.TextInput[Any] = discord.ui.TextInput(
                label=f"{criterion.name} (×{criterion.weight}) — 1 to 5"[:45],
                custom_id=f"score{i}",
                max_length=1,
                placeholder="1 = poor, 5 = excellent",
            )
            self.inputs.append(field)
            self.add_item(field)
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Private note (staff and you only)",
            custom_id="note",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1000,
        )
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.JUDGE)
        await interaction.response.defer(ephemeral=True, thinking=True)
        entry, replaced = await _challenges(interaction).score(
            interaction.guild_id,
            self.idea_number,
            interaction.user.id,
            [str(f.value) for f in self.inputs],
            str(self.note.value or ""),
        )
        verb = "updated" if replaced else "recorded"
        await interaction.followup.send(
            f"⚖️ Your scorecard for idea #{entry.number} is {verb}. Scores stay private until "
            "the results are published.",
            ephemeral=True,
        )


async def challenge_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """Recent challenges, narrowed by the number or words typed so far."""
    if interaction.guild_id is None:
        return []
    items = await _challenges(interaction).browse(interaction.guild_id)
    typed = current.strip().lstrip("#").lower()
    return [
        app_commands.Choice(
            name=render.clip(f"#{c.number} {c.title} ({render.PHASE_LABEL[c.phase]})", 100),
            value=c.number,
        )
        for c, _ in items
        if not typed or typed == str(c.number) or typed in c.title.lower()
    ][:25]


async def entry_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """Ideas of challenges still running, narrowed by the number or words typed so far."""
    if interaction.guild_id is None:
        return []
    entries = await _challenges(interaction).open_entries(interaction.guild_id)
    typed = current.strip().lstrip("#").lower()
    return [
        app_commands.Choice(
            name=render.clip(f"#{e.number} {e.title} ({render.STAGE_LABEL[e.stage]})", 100),
            value=e.number,
        )
        for e in entries
        if not typed or typed == str(e.number) or typed in e.title.lower()
    ][:25]
