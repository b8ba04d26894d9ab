"""The draft's buttons (Publish, Add note, Hold: ``DynamicItem``s with the run id in the
``custom_id``, so they work after a restart) and the note modal."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.domain.guild_config import Access
from cogs._common import access, bot_of
from cogs._errors import ReportingDynamicItem, ReportingModal


async def _require_staff(interaction: discord.Interaction) -> None:
    from bot.errors import PermissionDenied

    levels = await access(interaction)
    if not levels & {Access.STAFF, Access.MODERATOR}:
        raise PermissionDenied("Only staff or moderators can publish or annotate a digest.")


LABELS = {"publish": ("Publish", "📣"), "note": ("Add note", "📝"), "hold": ("Hold", "✋")}


class DraftButton(
    ReportingDynamicItem,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"digest:(?P<action>publish|note|hold):(?P<run>\d+)",
):
    def __init__(self, action: str, run_id: int) -> None:
        label, emoji = LABELS[action]
        style = (
            discord.ButtonStyle.success if action == "publish" else discord.ButtonStyle.secondary
        )
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"digest:{action}:{run_id}"
            )
        )
        self.action = action
        self.run_id = run_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DraftButton:
        return cls(match["action"], int(match["run"]))

    async def handle(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await _require_staff(interaction)
        services = bot_of(interaction).services
        if self.action == "note":
            await interaction.response.send_modal(NoteModal(self.run_id))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.action == "hold":
            await services.digests.hold(interaction.guild_id, self.run_id, interaction.user.id)
            await interaction.followup.send(
                "✋ Held: this draft will not publish itself. Publish it when ready.",
                ephemeral=True,
            )
            return
        publication = await services.digests.release(
            interaction.guild_id, self.run_id, interaction.user.id
        )
        await services.timers.run_written(publication)
        await interaction.followup.send("📣 The digest is published.", ephemeral=True)


class NoteModal(ReportingModal, title="Note for the digest"):
    def __init__(self, run_id: int) -> None:
        super().__init__(title="Note for the digest")
        self.run_id = run_id
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Note (leads the published digest)",
            custom_id="note",
            style=discord.TextStyle.paragraph,
            max_length=1000,
        )
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        await bot_of(interaction).services.digests.set_note(
            interaction.guild_id, self.run_id, str(self.note.value), interaction.user.id
        )
        await interaction.followup.send(
            "📝 Note saved: it will lead the published digest.", ephemeral=True
        )


def draft_view(run_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("publish", "note", "hold"):
        view.add_item(DraftButton(action, run_id))
    return view
