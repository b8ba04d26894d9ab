"""The Polls feature's Discord UI: vote buttons and selects, the ranked-ballot steps and the
survey's rating selects (``DynamicItem``s whose state lives in the ``custom_id``, so they
work after a restart), and the modals that take the question and the options. Each
handler parses, calls the service (or the cog for flows that span several steps), and
renders."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.domain.guild_config import Access
from bot.domain.poll_model import Poll, PollKind, PollMode, SurveyProgress
from bot.errors import InvalidInput
from bot.render import polls as render
from bot.render.ideas import clip
from cogs._common import bot_of, require
from cogs._errors import ReportingDynamicItem, ReportingModal

if TYPE_CHECKING:
    from cogs.polls.cog import Polls

log = logging.getLogger(__name__)

#: Single-choice polls with this many options or fewer get a button each (5 rows of 5).
MAX_BUTTONS = 20


def _services(interaction: discord.Interaction) -> Any:
    return bot_of(interaction).services


def _cog(interaction: discord.Interaction) -> Polls:
    cog = bot_of(interaction).get_cog("Polls")
    assert cog is not None
    return cast("Polls", cog)


def role_ids(interaction: discord.Interaction) -> list[int]:
    user = interaction.user
    return [r.id for r in user.roles] if isinstance(user, discord.Member) else []


def _values(interaction: discord.Interaction) -> list[str]:
    data: Any = interaction.data or {}
    return list(data.get("values") or [])


async def _vote(interaction: discord.Interaction, poll_id: int, choices: list[int]) -> None:
    assert interaction.guild_id is not None
    result = await _services(interaction).polls.vote(
        interaction.guild_id, poll_id, interaction.user.id, role_ids(interaction), choices
    )
    if result.live_results:
        _cog(interaction).publisher.refresh(poll_id)
    await interaction.followup.send(render.ballot_text(result), ephemeral=True)


# -- single and multi choice ----------------------------------------------------------------
class VoteButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:v:(?P<poll>\d+):(?P<option>\d+)",
):
    """One option of a single-choice poll. Clicking another option changes the ballot."""

    def __init__(self, poll_id: int, option: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label or str(option + 1), 80),
                style=discord.ButtonStyle.secondary,
                custom_id=f"poll:v:{poll_id}:{option}",
            )
        )
        self.poll_id = poll_id
        self.option = option

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["poll"]), int(match["option"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _vote(interaction, self.poll_id, [self.option])


class VoteSelect(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"poll:m:(?P<poll>\d+)",
):
    """The options of a multi-choice poll (or a single-choice one with many options)."""

    def __init__(self, poll_id: int, options: tuple[str, ...] = (), max_picks: int = 1) -> None:
        choices = [
            discord.SelectOption(label=clip(f"{i + 1}. {o}", 100), value=str(i))
            for i, o in enumerate(options)
        ] or [discord.SelectOption(label="-", value="0")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"poll:m:{poll_id}",
                options=choices[:25],
                min_values=1,
                max_values=max(1, min(max_picks, len(choices))),
                placeholder="Pick" + (f" up to {max_picks}" if max_picks > 1 else " one"),
            )
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteSelect:
        return cls(int(match["poll"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _vote(interaction, self.poll_id, [int(v) for v in _values(interaction)])


# -- ranked ballots: successive selects in an ephemeral message ------------------------------
def _ranked(sofar: str) -> list[int]:
    return [int(p) for p in sofar.split(".") if p]


def rank_view(poll: Poll, picks: list[int]) -> discord.ui.View:
    """The next step of a ranked ballot: a select of the options not ranked yet, and
    (after a first pick) a button to submit the ranking so far."""
    view = discord.ui.View(timeout=None)
    view.add_item(RankPick(poll.id, picks, poll.options))
    if picks:
        view.add_item(RankSubmit(poll.id, picks))
    return view


def rank_text(poll: Poll, picks: list[int]) -> str:
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(len(picks) + 1, f"{len(picks) + 1}th")
    so_far = ", ".join(f"{n}. {poll.options[i]}" for n, i in enumerate(picks, start=1))
    return clip(
        f"**Poll #{poll.id}** · {poll.question}\n"
        + (f"Your ranking so far: {so_far}\n" if so_far else "")
        + f"Pick your **{ordinal} choice**"
        + (", or submit the ranking as it is." if picks else "."),
        2000,
    )


class RankStart(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:r:(?P<poll>\d+)",
):
    def __init__(self, poll_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Rank the options",
                emoji="🗳️",
                style=discord.ButtonStyle.primary,
                custom_id=f"poll:r:{poll_id}",
            )
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RankStart:
        return cls(int(match["poll"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll = await _services(interaction).polls.get(interaction.guild_id, self.poll_id)
        if not poll.is_open:
            raise InvalidInput(f"Poll #{poll.id} is closed; ballots are no longer accepted.")
        await interaction.followup.send(
            rank_text(poll, []), view=rank_view(poll, []), ephemeral=True
        )


class RankPick(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"poll:rk:(?P<poll>\d+):(?P<sofar>[0-9.]*)",
):
    """The next choice of a ranked ballot; the choices so far are in the custom_id."""

    def __init__(self, poll_id: int, picks: list[int], options: tuple[str, ...] = ()) -> None:
        choices = [
            discord.SelectOption(label=clip(f"{i + 1}. {o}", 100), value=str(i))
            for i, o in enumerate(options)
            if i not in picks
        ] or [discord.SelectOption(label="-", value="0")]
        sofar = ".".join(map(str, picks))
        super().__init__(
            discord.ui.Select(custom_id=f"poll:rk:{poll_id}:{sofar}", options=choices[:25])
        )
        self.poll_id = poll_id
        self.picks = picks

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RankPick:
        return cls(int(match["poll"]), _ranked(match["sofar"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        picks = [*self.picks, *(int(v) for v in _values(interaction))]
        poll = await _services(interaction).polls.get(interaction.guild_id, self.poll_id)
        if len(picks) < len(poll.options):
            await interaction.response.edit_message(
                content=rank_text(poll, picks), view=rank_view(poll, picks)
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _vote(interaction, self.poll_id, picks)


class RankSubmit(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:rs:(?P<poll>\d+):(?P<sofar>[0-9.]+)",
):
    def __init__(self, poll_id: int, picks: list[int]) -> None:
        super().__init__(
            discord.ui.Button(
                label="Submit this ranking",
                style=discord.ButtonStyle.success,
                custom_id=f"poll:rs:{poll_id}:{'.'.join(map(str, picks))}",
            )
        )
        self.poll_id = poll_id
        self.picks = picks

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RankSubmit:
        return cls(int(match["poll"]), _ranked(match["sofar"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _vote(interaction, self.poll_id, self.picks)


# -- surveys: rate each outcome, resumable -----------------------------------------------------
def survey_view(progress: SurveyProgress, index: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    poll_id = progress.poll.id
    imp, sat = progress.ratings[index]
    view.add_item(SurveyRate(poll_id, index, "i", imp))
    view.add_item(SurveyRate(poll_id, index, "s", sat))
    if index > 0:
        view.add_item(SurveyMove(poll_id, index - 1, "◀ Previous"))
    if index + 1 < len(progress.ratings):
        view.add_item(SurveyMove(poll_id, index + 1, "Next ▶"))
    return view


class SurveyStart(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:q:(?P<poll>\d+)",
):
    """Open (or resume) the survey in an ephemeral message, at the first unrated outcome."""

    def __init__(self, poll_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Take the survey",
                emoji="📝",
                style=discord.ButtonStyle.primary,
                custom_id=f"poll:q:{poll_id}",
            )
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SurveyStart:
        return cls(int(match["poll"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        progress = await _services(interaction).polls.survey_progress(
            interaction.guild_id, self.poll_id, interaction.user.id
        )
        if not progress.poll.is_open:
            raise InvalidInput(f"Survey #{self.poll_id} is closed.")
        index = progress.next_unrated
        text = render.survey_prompt(progress, index or 0)
        if index is None:
            text = render.survey_done_text(progress) + "\n\n" + text
        await interaction.followup.send(
            text, view=survey_view(progress, index or 0), ephemeral=True
        )


class SurveyRate(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"poll:qr:(?P<poll>\d+):(?P<index>\d+):(?P<what>[is])",
):
    """A 1–5 rating of one outcome's importance (``i``) or satisfaction (``s``)."""

    def __init__(self, poll_id: int, index: int, what: str, current: int = 0) -> None:
        label = "How important is this to you?" if what == "i" else "How satisfied are you today?"
        super().__init__(
            discord.ui.Select(
                custom_id=f"poll:qr:{poll_id}:{index}:{what}",
                placeholder=label,
                options=[
                    discord.SelectOption(label=text, value=str(n), default=n == current)
                    for n, text in render.RATING_WORDS.items()
                ],
            )
        )
        self.poll_id, self.index, self.what = poll_id, index, what

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SurveyRate:
        return cls(int(match["poll"]), int(match["index"]), match["what"])

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        values = _values(interaction)
        if not values:
            raise InvalidInput("Pick a rating from 1 to 5.")
        rating = int(values[0])
        await interaction.response.defer()
        progress = await _services(interaction).polls.rate(
            interaction.guild_id,
            self.poll_id,
            interaction.user.id,
            role_ids(interaction),
            self.index,
            importance=rating if self.what == "i" else None,
            satisfaction=rating if self.what == "s" else None,
        )
        index = self.index
        imp, sat = progress.ratings[index]
        if imp and sat:  # this outcome is done: on to the next one still unrated
            index = progress.next_unrated if progress.next_unrated is not None else index
        text = render.survey_prompt(progress, index)
        if progress.complete:
            text = render.survey_done_text(progress) + "\n\n" + text
        await interaction.edit_original_response(content=text, view=survey_view(progress, index))


class SurveyMove(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:qn:(?P<poll>\d+):(?P<index>\d+)",
):
    def __init__(self, poll_id: int, index: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or str(index + 1),
                style=discord.ButtonStyle.secondary,
                custom_id=f"poll:qn:{poll_id}:{index}",
            )
        )
        self.poll_id, self.index = poll_id, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SurveyMove:
        return cls(int(match["poll"]), int(match["index"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        progress = await _services(interaction).polls.survey_progress(
            interaction.guild_id, self.poll_id, interaction.user.id
        )
        index = min(self.index, len(progress.ratings) - 1)
        await interaction.response.edit_message(
            content=render.survey_prompt(progress, index), view=survey_view(progress, index)
        )


# -- a poll over ideas: the winner becomes planned ---------------------------------------------
class PlanWinner(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"poll:plan:(?P<poll>\d+):(?P<number>\d+)",
):
    """Moderators: move the winning idea to `planned` (the usual status change, with its
    thread message and notifications)."""

    def __init__(self, poll_id: int, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Move #{number} to planned",
                emoji="🗓️",
                style=discord.ButtonStyle.success,
                custom_id=f"poll:plan:{poll_id}:{number}",
            )
        )
        self.poll_id, self.number = poll_id, number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PlanWinner:
        return cls(int(match["poll"]), int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        from bot.domain.ideas import IdeaStatus

        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        ideas_cog: Any = bot_of(interaction).get_cog("Ideas")
        if ideas_cog is None:
            raise InvalidInput("The Ideas feature is not running.")
        change = await ideas_cog.change_status(
            interaction,
            self.number,
            IdeaStatus.PLANNED,
            f"The community chose it in poll #{self.poll_id}.",
        )
        await interaction.followup.send(
            f"#{change.idea.number} is now planned; its author and followers are told.",
            ephemeral=True,
        )


def poll_view(poll: Poll, winner_number: int | None = None) -> discord.ui.View | None:
    """The components under a poll's message (none once it is closed or for native polls;
    a closed poll over ideas offers its winner to be planned)."""
    view = discord.ui.View(timeout=None)
    if not poll.is_open:
        if winner_number is None:
            return None
        view.add_item(PlanWinner(poll.id, winner_number))
        return view
    if poll.native:
        return None
    if poll.kind is PollKind.SURVEY:
        view.add_item(SurveyStart(poll.id))
    elif poll.mode is PollMode.RANKED:
        view.add_item(RankStart(poll.id))
    elif poll.mode is PollMode.SINGLE and len(poll.options) <= MAX_BUTTONS:
        for i, option in enumerate(poll.options):
            view.add_item(VoteButton(poll.id, i, f"{i + 1}. {option}"))
    else:
        view.add_item(VoteSelect(poll.id, poll.options, poll.max_picks))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    VoteButton,
    VoteSelect,
    RankStart,
    RankPick,
    RankSubmit,
    SurveyStart,
    SurveyRate,
    SurveyMove,
    PlanWinner,
)


# -- modals ------------------------------------------------------------------------------------
class PollModal(ReportingModal, title="New poll"):
    """The question and the options (one per line), after the slash options."""

    question: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Question", max_length=300, placeholder="What should we build next?"
    )
    options: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Options, one per line (2–20)",
        style=discord.TextStyle.paragraph,
        max_length=2000,
        placeholder="Dark mode\nOffline sync\nExport to PDF",
    )

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__()
        self.settings = settings

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).create_from_modal(
            interaction, self.settings, str(self.question.value), str(self.options.value)
        )


class SurveyModal(ReportingModal, title="New outcome survey"):
    question: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Title", max_length=300, placeholder="Working with boards"
    )
    options: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Outcomes, one per line (up to 20)",
        style=discord.TextStyle.paragraph,
        max_length=4000,
        placeholder="Minimize the time it takes to find a board\n"
        "Minimize the likelihood of losing edits offline",
    )

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__()
        self.settings = settings

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).create_from_modal(
            interaction, self.settings, str(self.question.value), str(self.options.value)
        )
