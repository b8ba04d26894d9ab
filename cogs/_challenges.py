"""What the ideas cog borrows from the Challenges feature: choosing a challenge that takes
ideas (``/idea submit challenge:``). A helper module, not an extension."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.render.ideas import clip
from cogs._common import bot_of


async def open_challenge_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[int]]:
    """Challenges taking ideas now, narrowed by the number or words typed so far."""
    if interaction.guild_id is None:
        return []
    found = await bot_of(interaction).services.challenges.open_for_submissions(interaction.guild_id)
    typed = current.strip().lstrip("#").lower()
    return [
        app_commands.Choice(name=clip(f"#{c.number} {c.title}", 100), value=c.number)
        for c in found
        if not typed or typed == str(c.number) or typed in c.title.lower()
    ][:25]


async def check_challenge_open(interaction: discord.Interaction, number: int | None) -> None:
    """Refuse, before the idea form opens, a challenge not taking ideas (the submit unit
    decides again)."""
    if number is None or interaction.guild_id is None:
        return
    await bot_of(interaction).services.challenges.check_open(interaction.guild_id, number)
