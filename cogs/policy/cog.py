"""Policy changes in Discord: the /policy commands.

Thin by design: each handler parses, calls one ``PolicyService`` method, and renders. The
service has committed before anything is posted or acknowledged; what must appear in
Discord is published by :class:`~cogs.policy.publisher.PolicyPublisher` from the store.
Members take part with the announcement's buttons (:mod:`cogs.policy.ui`), not commands:
``/policy show`` and ``list`` are for everyone, the rest for staff (Cocreate checks; the
group is shown to everyone because it mixes both).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import CocreateBot
from bot.domain.guild_config import Access
from bot.domain.policy import AFFECTED_MAX, Decision, Outcome
from bot.errors import InvalidInput
from bot.render import policy as render
from bot.services.policy import PUBLISH_ANNOUNCE, PUBLISH_POST
from cogs._common import access, access_only
from cogs.policy.publisher import PolicyPublisher
from cogs.policy.ui import (
    FILE_MAX_BYTES,
    AmendModal,
    ConcernButton,
    DraftModal,
    DraftOptions,
    EditModal,
    MakeIdeaButton,
    StanceButton,
    policy_autocomplete,
    read_text_file,
)

log = logging.getLogger(__name__)
T = TypeVar("T", bound=Any)

_CHANNEL = re.compile(r"<#(\d{15,21})>|\b(\d{15,21})\b")
DECISIONS = [
    app_commands.Choice(name="Proceed as announced", value=Decision.PROCEED.value),
    app_commands.Choice(name="Proceed with amendments", value=Decision.AMEND.value),
    app_commands.Choice(name="Withdraw", value=Decision.WITHDRAW.value),
]
OUTCOMES = [
    app_commands.Choice(name="Changed because of their input", value=Outcome.CHANGED.value),
    app_commands.Choice(name="Heard; not changing because…", value=Outcome.HEARD.value),
]


def staff_only() -> Callable[[T], T]:
    """Check for staff commands (Manage Server or a role in ``staff_roles``)."""
    return access_only(Access.STAFF)


class Policies(commands.Cog):
    """Policy changes discussed before they take effect."""

    group = app_commands.Group(
        name="policy",
        description="Policy changes discussed before they take effect",
        guild_only=True,
    )

    def __init__(self, bot: CocreateBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.publisher = PolicyPublisher(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(StanceButton, ConcernButton, MakeIdeaButton)
        self.services.timers.register(PUBLISH_ANNOUNCE, self.publisher.publish_announcement)
        self.services.timers.register(PUBLISH_POST, self.publisher.publish_post)

    async def cog_unload(self) -> None:
        await self.publisher.close()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild in list(self.bot.guilds):
            try:
                await self.publisher.correct_cards(guild)
            except Exception:
                log.exception("Correcting policy cards of guild %s failed", guild.id)

    async def reward_roles(self, guild_id: int, member_id: int) -> None:
        """After feedback paid points: reward roles follow the member's total (the points
        feature's own rule, when it is loaded)."""
        points: Any = self.bot.get_cog("Points")
        if points is not None:
            await points.apply_role_rewards(guild_id, [member_id])

    # ------------------------------------------------------------------- parsing helpers
    @staticmethod
    def _channels(interaction: discord.Interaction, text: str | None) -> tuple[int, ...] | None:
        """Affected channels typed as mentions (or ids) of this server's channels."""
        if text is None:
            return None
        guild = interaction.guild
        ids = [int(a or b) for a, b in _CHANNEL.findall(text)]
        if not ids and text.strip():
            raise InvalidInput("Name the affected channels by mentioning them (#channel).")
        if len(set(ids)) > AFFECTED_MAX:
            raise InvalidInput(f"Name at most {AFFECTED_MAX} affected channels.")
        for channel_id in ids:
            if guild is None or guild.get_channel(channel_id) is None:
                raise InvalidInput(f"<#{channel_id}> is not a channel of this server.")
        return tuple(dict.fromkeys(ids))

    @staticmethod
    def _role(role: discord.Role | None) -> int | None:
        if role is None:
            return None
        if role.is_default():
            raise InvalidInput("Policy announcements never ping @everyone: pick a role.")
        return role.id

    @staticmethod
    def _check_file(file: discord.Attachment | None) -> None:
        if file is None:
            return
        if not file.filename.lower().endswith((".md", ".txt")):
            raise InvalidInput("Attach the text as a `.md` (Markdown) file.")
        if file.size > FILE_MAX_BYTES:
            raise InvalidInput(f"The file is too large (at most {FILE_MAX_BYTES // 1000} kB).")

    # ------------------------------------------------------------------- staff commands
    @group.command(
        name="draft", description="Draft a policy change (staff): dates here, text in a form"
    )
    @app_commands.describe(
        effective="When it takes effect: a date (2026-05-01), a date and time, or `in 14d`",
        comment_end="When comments close: a length from announcing (`10d`) or a date; "
        "default: the server's comment period",
        role="A role to ping when it is announced (never @everyone)",
        affected="Channels it changes (mention them)",
        text_file="The full text as a .md file, when it is over 4,000 characters",
    )
    @staff_only()
    async def draft(
        self,
        interaction: discord.Interaction,
        effective: app_commands.Range[str, 1, 100],
        comment_end: app_commands.Range[str, 1, 100] | None = None,
        role: discord.Role | None = None,
        affected: app_commands.Range[str, 1, 1000] | None = None,
        text_file: discord.Attachment | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        # A form cannot follow a defer: the dates are checked now, the rest on submit.
        effective_at, close = await self.services.policy.parse_dates(
            interaction.guild_id, effective, comment_end
        )
        options = DraftOptions(
            effective_at=effective_at,
            close=close,
            notify_role_id=self._role(role),
            affected=self._channels(interaction, affected),
            file=text_file,
        )
        self._check_file(text_file)
        await interaction.response.send_modal(DraftModal(options))

    @group.command(name="edit", description="Edit a draft policy change (staff)")
    @app_commands.describe(
        effective="A new effective date",
        comment_end="A new end of the comment period (a length such as `10d`, or a date)",
        role="A new role to ping when it is announced",
        affected="The channels it changes (mention them; replaces the list)",
        text_file="A new full text as a .md file",
    )
    @app_commands.autocomplete(number=policy_autocomplete)
    @staff_only()
    async def edit(
        self,
        interaction: discord.Interaction,
        number: int,
        effective: app_commands.Range[str, 1, 100] | None = None,
        comment_end: app_commands.Range[str, 1, 100] | None = None,
        role: discord.Role | None = None,
        affected: app_commands.Range[str, 1, 1000] | None = None,
        text_file: discord.Attachment | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        policy = await self.services.policy.editable(interaction.guild_id, number)
        effective_at, close = await self.services.policy.parse_dates(
            interaction.guild_id, effective, comment_end, check=False
        )
        self._check_file(text_file)
        options = DraftOptions(
            effective_at=effective_at,
            close=close,
            notify_role_id=self._role(role),
            affected=self._channels(interaction, affected),
            file=text_file,
        )
        await interaction.response.send_modal(EditModal(policy, options))

    @group.command(
        name="announce", description="Announce a draft and open its comment period (staff)"
    )
    @app_commands.autocomplete(number=policy_autocomplete)
    @staff_only()
    async def announce(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await self.services.policy.announce(
            interaction.guild_id, number, interaction.user.id
        )
        policy = change.policy
        where = (
            policy.card_url
            or "it appears in the announcements channel as soon as Discord accepts it"
        )
        await interaction.followup.send(
            f"📣 Policy #{policy.number} is announced: {where}. Comments close "
            f"{render.close_moment(policy)}.",
            ephemeral=True,
        )

    @group.command(name="answer", description="Answer one group of concerns (staff)")
    @app_commands.describe(
        group="The group's number in the summary",
        outcome="Changed because of their input, or heard and not changing",
        text="What changed, or why not (members read it)",
    )
    @app_commands.choices(outcome=OUTCOMES)
    @app_commands.autocomplete(number=policy_autocomplete)
    @staff_only()
    async def answer(
        self,
        interaction: discord.Interaction,
        number: int,
        group: app_commands.Range[int, 1, 1000],
        outcome: str,
        text: app_commands.Range[str, 1, 1000],
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.policy.answer(
            interaction.guild_id, number, group, Outcome(outcome), text, interaction.user.id
        )
        missing = view.unanswered
        rest = (
            "Every group is answered: `/policy respond` when ready."
            if not missing
            else "Still to answer: group " + ", ".join(str(n) for n in missing) + "."
        )
        await interaction.followup.send(
            f"Group {group} of policy #{number}: {render.OUTCOME_LABEL[Outcome(outcome)]}. {rest}",
            ephemeral=True,
        )

    @group.command(
        name="respond", description="Respond to the feedback: proceed, amend or withdraw (staff)"
    )
    @app_commands.describe(
        decision="Proceed as announced, proceed with amendments, or withdraw",
        effective="A new effective date (needed if the old one passed)",
        note="A note for members",
        text_file="The amended text as a .md file (amend; else a form opens)",
    )
    @app_commands.choices(decision=DECISIONS)
    @app_commands.autocomplete(number=policy_autocomplete)
    @staff_only()
    async def respond(
        self,
        interaction: discord.Interaction,
        number: int,
        decision: str,
        effective: app_commands.Range[str, 1, 100] | None = None,
        note: app_commands.Range[str, 1, 1000] | None = None,
        text_file: discord.Attachment | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        chosen = Decision(decision)
        effective_at, _ = await self.services.policy.parse_dates(
            interaction.guild_id, effective, None, check=False
        )
        if chosen is Decision.AMEND and text_file is None:
            # The amended text comes in a form, which cannot follow a defer: check first.
            view = await self.services.policy.check_can_respond(interaction.guild_id, number)
            await interaction.response.send_modal(AmendModal(view, effective_at, note))
            return
        self._check_file(text_file)
        await interaction.response.defer(ephemeral=True, thinking=True)
        amended = (
            await read_text_file(text_file) if chosen is Decision.AMEND and text_file else None
        )
        await self.respond_and_report(
            interaction, number, chosen, note=note, amended_text=amended, effective_at=effective_at
        )

    async def respond_and_report(
        self,
        interaction: discord.Interaction,
        number: int,
        decision: Decision,
        *,
        note: str | None,
        amended_text: str | None,
        effective_at: datetime | None,
    ) -> None:
        """Record the response (the service publishes it) and tell the staff member."""
        assert interaction.guild_id is not None
        change = await self.services.policy.respond(
            interaction.guild_id,
            number,
            interaction.user.id,
            decision,
            note=note,
            amended_text=amended_text,
            effective_at=effective_at,
        )
        policy = change.policy
        when = (
            "It will not take effect."
            if decision is Decision.WITHDRAW
            else f"It takes effect {render.stamp(policy.effective_at, 'F')}."
        )
        await interaction.followup.send(
            f"💬 The response to policy #{number} is posted "
            f"{'in its thread' if policy.thread_url else ''}; members who raised concerns "
            f"are told. {when}",
            ephemeral=True,
        )

    # ------------------------------------------------------------------- everyone
    @group.command(
        name="show", description="A policy change: its stage, dates, feedback and response"
    )
    @app_commands.autocomplete(number=policy_autocomplete)
    async def show(self, interaction: discord.Interaction, number: int) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        staff = Access.STAFF in await access(interaction)
        view = await self.services.policy.view(interaction.guild_id, number, staff=staff)
        await interaction.followup.send(
            embeds=render.detail_embeds(view, staff=staff), ephemeral=True
        )

    @group.command(name="list", description="Every policy change, newest first")
    async def list_(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)
        staff = Access.STAFF in await access(interaction)
        found, pages = await self.services.policy.browse(
            interaction.guild_id, staff=staff, page=page
        )
        await interaction.followup.send(
            embed=render.list_embed(found.items, page=found.page, pages=pages, total=found.total),
            ephemeral=True,
        )
