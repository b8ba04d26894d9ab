"""The Policy feature's Discord UI: the announcement's stance and concern buttons, the staff
summary's "Make an idea" buttons (``DynamicItem``s whose state lives in the ``custom_id``,
so they work after a restart), and the forms (modals). Each handler parses, calls one
service method, and renders."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.domain.guild_config import Access
from bot.domain.policy import TYPED_TEXT_MAX, Decision, PolicyStage, Stance
from bot.domain.policy_model import Policy, PolicyDraft, PolicyView
from bot.errors import InvalidInput
from bot.render import policy as render
from bot.services.policy import CloseChoice
from cogs._common import access, bot_of, require
from cogs._errors import ReportingDynamicItem, ReportingModal

if TYPE_CHECKING:
    from bot.services.policy import PolicyService
    from cogs.policy.cog import Policies

#: The largest .md file a policy's text may come in (its text is limited further).
FILE_MAX_BYTES = 200_000
#: Buttons per message (5 rows of 5).
BUTTONS_PER_MESSAGE = 25


def _policy(interaction: discord.Interaction) -> PolicyService:
    return bot_of(interaction).services.policy


def _cog(interaction: discord.Interaction) -> Policies:
    cog = bot_of(interaction).get_cog("Policies")
    assert cog is not None
    return cast("Policies", cog)


# -- buttons that survive restarts (state in the custom_id) --------------------------------
class StanceButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"policy:stance:(?P<number>\d+):(?P<stance>support|concerned|oppose)",
):
    """Support / Concerned / Oppose: one stance per member, changeable until close."""

    def __init__(self, number: int, stance: Stance, count: int = 0, *, open_: bool = True):
        emoji, label = render.STANCE_STYLE[stance]
        style = {
            Stance.SUPPORT: discord.ButtonStyle.success,
            Stance.CONCERNED: discord.ButtonStyle.primary,
            Stance.OPPOSE: discord.ButtonStyle.danger,
        }[stance]
        super().__init__(
            discord.ui.Button(
                label=f"{label} · {count}",
                emoji=emoji,
                style=style,
                disabled=not open_,
                custom_id=f"policy:stance:{number}:{stance.value}",
            )
        )
        self.number = number
        self.stance = stance

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> StanceButton:
        return cls(int(match["number"]), Stance(match["stance"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await _policy(interaction).set_stance(
            interaction.guild_id, self.number, interaction.user.id, self.stance
        )
        cog = _cog(interaction)
        cog.publisher.refresh_card(result.policy)
        if result.changed:
            await cog.reward_roles(interaction.guild_id, interaction.user.id)
        emoji, label = render.STANCE_STYLE[self.stance]
        if not result.changed:
            text = f"Your stance on policy #{self.number} is already {emoji} {label}."
        else:
            text = f"{emoji} Your stance on policy #{self.number}: **{label}**."
        close = result.policy.close_at
        if close is not None:
            text += f" You can change it until {render.stamp(close, 'f')}."
        await interaction.followup.send(text, ephemeral=True)


class ConcernButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"policy:concern:(?P<number>\d+)",
):
    """ "Raise a concern": a form for the concern and a suggested change."""

    def __init__(self, number: int, *, open_: bool = True) -> None:
        super().__init__(
            discord.ui.Button(
                label="Raise a concern",
                emoji="📝",
                style=discord.ButtonStyle.secondary,
                disabled=not open_,
                custom_id=f"policy:concern:{number}",
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ConcernButton:
        return cls(int(match["number"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        # A form cannot follow a defer: only the quick check here; the unit decides again.
        await _policy(interaction).check_can_comment(interaction.guild_id, self.number)
        await interaction.response.send_modal(ConcernModal(self.number))


class MakeIdeaButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"policy:idea:(?P<number>\d+):(?P<concern>\d+)",
):
    """Staff, on a concern in the summary: turn it into an idea, linked both ways."""

    def __init__(self, number: int, concern: int, *, done: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Make an idea of #{concern}",
                emoji="💡",
                style=discord.ButtonStyle.secondary,
                disabled=done,
                custom_id=f"policy:idea:{number}:{concern}",
            )
        )
        self.number = number
        self.concern = concern

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MakeIdeaButton:
        return cls(int(match["number"]), int(match["concern"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.STAFF)
        await interaction.response.defer(ephemeral=True, thinking=True)
        policies = _policy(interaction)
        concern, idea = await policies.make_idea(
            interaction.guild_id, self.number, self.concern, interaction.user.id
        )
        await self._disable(
            interaction, await policies.view(interaction.guild_id, self.number, staff=True)
        )
        await interaction.followup.send(
            f"💡 Concern #{concern.number} of policy #{self.number} is now idea "
            f"**#{idea.number}**. {idea.card_url or ''}".strip(),
            ephemeral=True,
        )

    async def _disable(self, interaction: discord.Interaction, view: PolicyView) -> None:
        """The summary's button of a concern that became an idea is shown disabled."""
        if interaction.message is None:
            return
        for chunk in idea_views(view):
            buttons = [i for i in chunk.children if isinstance(i, MakeIdeaButton)]
            if any(b.concern == self.concern for b in buttons):
                with contextlib.suppress(discord.HTTPException):
                    await interaction.message.edit(view=chunk)
                return


def card_view(policy: Policy) -> discord.ui.View | None:
    """The announcement's buttons: live while comments are open, disabled after."""
    if policy.stage is PolicyStage.DRAFT:
        return None
    open_ = policy.stage is PolicyStage.ANNOUNCED
    counts = {
        Stance.SUPPORT: policy.support,
        Stance.CONCERNED: policy.concerned,
        Stance.OPPOSE: policy.oppose,
    }
    view = discord.ui.View(timeout=None)
    for stance, count in counts.items():
        view.add_item(StanceButton(policy.number, stance, count, open_=open_))
    view.add_item(ConcernButton(policy.number, open_=open_))
    return view


def idea_views(view: PolicyView) -> list[discord.ui.View]:
    """The staff summary's "Make an idea" buttons, one per concern in group order, 25 a
    message."""
    concerns = [c for g in view.groups for c in g.concerns]
    views = []
    for start in range(0, len(concerns), BUTTONS_PER_MESSAGE):
        chunk = discord.ui.View(timeout=None)
        for concern in concerns[start : start + BUTTONS_PER_MESSAGE]:
            chunk.add_item(
                MakeIdeaButton(view.policy.number, concern.number, done=concern.idea_id is not None)
            )
        views.append(chunk)
    return views


# -- forms --------------------------------------------------------------------------------------
class ConcernModal(ReportingModal, title="Raise a concern"):
    concern: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Your concern",
        custom_id="concern",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        placeholder="What worries you about this change? Staff see who wrote it.",
    )
    suggestion: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="A change you suggest (optional)",
        custom_id="suggestion",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
    )

    def __init__(self, number: int) -> None:
        super().__init__(title=f"A concern about policy #{number}"[:45])
        self.number = number

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await _policy(interaction).raise_concern(
            interaction.guild_id,
            self.number,
            interaction.user.id,
            str(self.concern.value),
            str(self.suggestion.value or ""),
        )
        cog = _cog(interaction)
        cog.publisher.refresh_card(result.policy)
        await cog.reward_roles(interaction.guild_id, interaction.user.id)
        await interaction.followup.send(
            f"📝 Your concern is #{result.concern.number} on policy #{self.number}. Staff see "
            "it with your name; the summary at close quotes it anonymously, and staff answer "
            "it in their response.",
            ephemeral=True,
        )


@dataclass(frozen=True, slots=True)
class DraftOptions:
    """What ``/policy draft`` and ``/policy edit`` were given besides the form."""

    effective_at: datetime | None = None
    close: CloseChoice | None = None
    notify_role_id: int | None = None
    affected: tuple[int, ...] | None = None
    file: discord.Attachment | None = None


async def read_text_file(file: discord.Attachment) -> str:
    """A policy text from an attached ``.md`` (or ``.txt``) file, as UTF-8."""
    if not file.filename.lower().endswith((".md", ".txt")):
        raise InvalidInput("Attach the text as a `.md` (Markdown) file.")
    if file.size > FILE_MAX_BYTES:
        raise InvalidInput(f"The file is too large (at most {FILE_MAX_BYTES // 1000} kB).")
    try:
        data = await file.read()
    except discord.HTTPException:
        raise InvalidInput("Could not download the attached file; please try again.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The attached file is not UTF-8 text.") from None


async def _body(typed: str, options: DraftOptions) -> str:
    if options.file is None:
        return typed
    if typed.strip():
        raise InvalidInput("Give the text once: typed in the form, or as the attached file.")
    return await read_text_file(options.file)


class DraftModal(ReportingModal, title="Draft a policy change"):
    policy_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Title", custom_id="title", max_length=100
    )
    summary: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Summary (shown on the announcement)",
        custom_id="summary",
        style=discord.TextStyle.paragraph,
        max_length=1000,
    )
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Full text (empty if you attached a .md file)",
        custom_id="text",
        style=discord.TextStyle.paragraph,
        max_length=TYPED_TEXT_MAX,
        required=False,
    )

    def __init__(self, options: DraftOptions) -> None:
        super().__init__()
        self.options = options

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.STAFF)
        await interaction.response.defer(ephemeral=True, thinking=True)
        options = self.options
        assert options.effective_at is not None
        close = options.close or CloseChoice()
        policy = await _policy(interaction).draft(
            PolicyDraft(
                guild_id=interaction.guild_id,
                author_id=interaction.user.id,
                title=str(self.policy_title.value),
                summary=str(self.summary.value),
                body=await _body(str(self.text.value or ""), options),
                effective_at=options.effective_at,
                close_at=close.close_at,
                period=close.period,
                notify_role_id=options.notify_role_id,
                affected_channels=options.affected or (),
            )
        )
        await interaction.followup.send(
            render.preview_text(policy), embed=render.card(policy), ephemeral=True
        )


class EditModal(ReportingModal, title="Edit a draft policy"):
    def __init__(self, policy: Policy, options: DraftOptions) -> None:
        super().__init__(title=f"Edit draft policy #{policy.number}"[:45])
        self.number = policy.number
        self.options = options
        self.policy_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Title", custom_id="title", default=policy.title, max_length=100
        )
        self.summary: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Summary (shown on the announcement)",
            custom_id="summary",
            style=discord.TextStyle.paragraph,
            default=policy.summary,
            max_length=1000,
        )
        long_text = len(policy.body) > TYPED_TEXT_MAX
        self.text: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Full text (empty: keep it, or use the file)",
            custom_id="text",
            style=discord.TextStyle.paragraph,
            default=None if long_text or options.file else policy.body,
            max_length=TYPED_TEXT_MAX,
            required=False,
        )
        for item in (self.policy_title, self.summary, self.text):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.STAFF)
        await interaction.response.defer(ephemeral=True, thinking=True)
        typed = str(self.text.value or "")
        body: str | None = (
            await _body(typed, self.options) if (typed or self.options.file) else None
        )
        policy = await _policy(interaction).edit(
            interaction.guild_id,
            self.number,
            title=str(self.policy_title.value),
            summary=str(self.summary.value),
            body=body,
            effective_at=self.options.effective_at,
            close=self.options.close,
            notify_role_id=self.options.notify_role_id,
            affected_channels=self.options.affected,
        )
        await interaction.followup.send(
            render.preview_text(policy), embed=render.card(policy), ephemeral=True
        )


class AmendModal(ReportingModal, title="Amend the policy"):
    def __init__(self, view: PolicyView, effective_at: datetime | None, note: str | None):
        policy = view.policy
        super().__init__(title=f"Amend policy #{policy.number}"[:45])
        self.number = policy.number
        self.effective_at = effective_at
        self.amended: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="The amended text",
            custom_id="amended",
            style=discord.TextStyle.paragraph,
            default=policy.text if len(policy.text) <= TYPED_TEXT_MAX else None,
            max_length=TYPED_TEXT_MAX,
        )
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="A note for members (optional)",
            custom_id="note",
            style=discord.TextStyle.paragraph,
            default=note,
            max_length=1000,
            required=False,
        )
        self.add_item(self.amended)
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await require(interaction, Access.STAFF)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _cog(interaction).respond_and_report(
            interaction,
            self.number,
            Decision.AMEND,
            note=str(self.note.value or ""),
            amended_text=str(self.amended.value),
            effective_at=self.effective_at,
        )


async def policy_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """Recent policies (drafts for staff), narrowed by the number or words typed so far."""
    if interaction.guild_id is None:
        return []
    staff = Access.STAFF in await access(interaction)
    page, _ = await _policy(interaction).browse(interaction.guild_id, staff=staff)
    typed = current.strip().lstrip("#").lower()
    return [
        app_commands.Choice(
            name=render.clip(f"#{p.number} {p.title} ({render.stage_label(p)})", 100),
            value=p.number,
        )
        for p in page.items
        if not typed or typed == str(p.number) or typed in p.title.lower()
    ][:25]
