"""The Ideas feature's Discord UI: card buttons and selects (``DynamicItem``s whose state
lives in the ``custom_id``, so they work after a restart), modals, pagers, the drafts kept
while a member decides about similar ideas, and autocompletes. Each handler parses, calls
the service (or the cog for flows that span several steps), and renders."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.domain.guild_config import Access
from bot.domain.idea_model import (
    Idea,
    IdeaDraft,
    IdeaPage,
    ListFilters,
)
from bot.domain.ideas import HELD_STATUSES, IdeaStatus
from bot.domain.ranking import SortOrder
from bot.errors import InvalidInput, NotFound, PermissionDenied, UserError
from bot.render import ideas as render
from cogs._common import access, bot_of, require
from cogs._errors import ReportingDynamicItem, ReportingModal

if TYPE_CHECKING:
    from cogs.ideas.cog import Ideas

log = logging.getLogger(__name__)

DRAFT_TTL = 15 * 60
STATUS_CHOICES = [
    app_commands.Choice(name=render.status_label(s), value=s.value)
    for s in IdeaStatus
    if s not in (IdeaStatus.HIDDEN, IdeaStatus.WITHDRAWN) and s not in HELD_STATUSES
]
SORT_CHOICES = [app_commands.Choice(name=s.value, value=s.value) for s in SortOrder]


def _services(interaction: discord.Interaction) -> Any:
    return bot_of(interaction).services


def _cog(interaction: discord.Interaction) -> Ideas:
    cog = bot_of(interaction).get_cog("Ideas")
    assert cog is not None
    return cast("Ideas", cog)


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
        result = await ideas.vote(
            interaction.guild_id, self.number, interaction.user.id, wanted, toggle=True
        )
        _cog(interaction).publisher.refresh_card(result.idea)
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
            for s in (
                _targets(current) if current else [s for s in IdeaStatus if s not in HELD_STATUSES]
            )
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
            cog.publisher.refresh_card(result.idea)
            link = f" {result.idea.card_url}" if result.idea.card_url else ""
            await interaction.followup.send(
                f"👍 You support #{self.number} instead.{link}", ephemeral=True
            )
            return
        cog.drafts.pop(self.token, None)
        idea = await cog.publisher.submit_and_publish(draft, similar=[])
        await interaction.followup.send(render.submitted_note(idea), ephemeral=True)


class KeepOrSupport(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:dupe:(?P<mine>\d+):(?P<other>\d+)",
):
    """For an idea captured from a message or forum post that resembles another one: its
    author may withdraw it and support the other instead."""

    def __init__(self, mine: int, other: int, *, row: int | None = None) -> None:
        # In an acknowledgement listing several ideas (a row each) the label names both.
        label = f"Support #{other} instead" if row is None else f"#{mine}: support #{other}"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"idea:dupe:{mine}:{other}",
                row=row,
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
        cog.publisher.refresh_card(vote.idea)
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


# -- the review queue (moderators) --------------------------------------------------------
class ReviewButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"idea:review:(?P<number>\d+):(?P<action>approve|reject)",
):
    """Approve or reject a held idea from ``/idea queue``. Reject asks for the reason."""

    def __init__(self, number: int, action: str, *, row: int | None = None) -> None:
        approve = action == "approve"
        super().__init__(
            discord.ui.Button(
                label=f"Approve #{number}" if approve else f"Reject #{number}",
                emoji="✅" if approve else "🚫",
                style=discord.ButtonStyle.success if approve else discord.ButtonStyle.danger,
                custom_id=f"idea:review:{number}:{action}",
                row=row,
            )
        )
        self.number = number
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        return cls(int(match["number"]), match["action"])

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        if self.action == "reject":
            # A modal cannot follow a defer: the real checks run on submit.
            await interaction.response.send_modal(RejectModal(self.number))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        idea = await _cog(interaction).approve(interaction, self.number)
        await interaction.followup.send(
            f"✅ #{idea.number} is approved and public. {idea.card_url or ''}".strip(),
            ephemeral=True,
        )


class RejectModal(ReportingModal, title="Reject idea"):
    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Reason (sent to the author)",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=True,
    )

    def __init__(self, number: int) -> None:
        super().__init__(title=f"Reject #{number}"[:45])
        self.number = number

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.MODERATOR)
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await _cog(interaction).reject(interaction, self.number, str(self.reason.value))
        await interaction.followup.send(
            f"🚫 #{change.idea.number} is rejected; the author gets the reason by DM.",
            ephemeral=True,
        )


def queue_view(ideas: list[Idea], shown: int) -> discord.ui.View | None:
    """Approve and Reject for the oldest ``shown`` held ideas (one row each: 5 rows)."""
    if not ideas:
        return None
    view = discord.ui.View(timeout=None)
    for row, idea in enumerate(ideas[:shown]):
        view.add_item(ReviewButton(idea.number, "approve", row=row))
        view.add_item(ReviewButton(idea.number, "reject", row=row))
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

    def __init__(
        self,
        kind: str,
        tags: tuple[str, ...],
        image: discord.Attachment | None = None,
        *,
        challenge: int | None = None,
        anonymous: bool = False,
        joined_at: datetime | None = None,
        offer_anonymous: bool = False,
    ) -> None:
        super().__init__(title="Share an idea anonymously" if anonymous else "Share an idea")
        self.kind = kind
        self.tags = tags
        self.image = image
        self.challenge = challenge  # a challenge's number: the idea answers it
        self.anonymous = anonymous
        self.joined_at = joined_at
        #: The toggle in the form, when the server allows anonymous ideas (preset from
        #: the command's ``anonymous`` option).
        self.post_as: discord.ui.Select[Any] | None = None
        if offer_anonymous:
            self.post_as = discord.ui.Select(
                custom_id="idea:submit:post-as",
                options=[
                    discord.SelectOption(
                        label="Under my name", value="named", default=not anonymous
                    ),
                    discord.SelectOption(
                        label="Anonymously (the card says “a member”)",
                        value="anonymous",
                        default=anonymous,
                    ),
                ],
                required=False,
            )
            self.add_item(discord.ui.Label(text="Post as", component=self.post_as))

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
            challenge=self.challenge,
            anonymous=(
                self.post_as.values[0] == "anonymous"
                if self.post_as is not None and self.post_as.values
                else self.anonymous
            ),
            joined_at=self.joined_at,
        )
        await _cog(interaction).submit_interactive(interaction, draft, image=self.image)


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
        _cog(interaction).publisher.refresh_card(idea)
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
