"""One place that turns errors into what users see.

A small table of error types → message, first match wins. UserErrors carry their own safe
message; anything unexpected is logged with its traceback under a short incident id that
the user also sees, so a report can be matched to the log.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserError

log = logging.getLogger("cocreate.errors")


def _missing_perms(exc: BaseException) -> str:
    assert isinstance(exc, app_commands.MissingPermissions | app_commands.BotMissingPermissions)
    names = ", ".join(p.replace("_", " ").title() for p in exc.missing_permissions)
    if isinstance(exc, app_commands.BotMissingPermissions):
        return f"I need the {names} permission here to do that."
    return f"You need the {names} permission to do that."


_TABLE: list[tuple[type[BaseException], Callable[[BaseException], str]]] = [
    (UserError, lambda e: str(e)),
    (app_commands.MissingPermissions, _missing_perms),
    (app_commands.BotMissingPermissions, _missing_perms),
    (app_commands.NoPrivateMessage, lambda e: "That only works inside a server."),
    (
        app_commands.CommandOnCooldown,
        lambda e: f"Slow down: try again in {e.retry_after:.0f}s.",  # type: ignore[attr-defined]
    ),
    (app_commands.TransformerError, lambda e: f"`{e.value}` is not a valid {e.type.name.lower()}."),  # type: ignore[attr-defined]
    (app_commands.CheckFailure, lambda e: str(e) or "You can't use that here."),
    (
        discord.Forbidden,
        lambda e: (
            "Discord refused: I am missing a permission for that. "
            "A moderator can run `/setup check`."
        ),
    ),
]


def unwrap(error: BaseException) -> BaseException:
    """The error a handler raised, without discord.py's invoke wrappers."""
    while isinstance(
        error, app_commands.CommandInvokeError | discord.app_commands.errors.AppCommandError
    ):
        inner = getattr(error, "original", None)
        if inner is None or inner is error:
            break
        error = inner
    return error


def describe(error: BaseException) -> tuple[str, str | None]:
    """Return (message for the user, incident id or None for expected errors)."""
    error = unwrap(error)
    for kind, render in _TABLE:
        if isinstance(error, kind):
            return render(error), None
    incident = secrets.token_hex(4)
    log.error("Incident %s: %s", incident, error, exc_info=error)
    return (
        f"Something went wrong on our side (incident `{incident}`). "
        "It was logged; please tell a moderator if it keeps happening.",
        incident,
    )


async def report_interaction_error(
    interaction: discord.Interaction, error: BaseException
) -> str | None:
    """Reply ephemerally with what went wrong; returns the incident id, if any."""
    message, incident = describe(error)
    if incident is None:
        log.debug("User error for %s: %s", interaction.user, message)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not tell %s about an error: %s", interaction.user, message)
    return incident


async def notify_message_problem(
    message: discord.Message, reason: str, *, explain: bool = True
) -> None:
    """A plain message could not be used: ⚠️ on it and a DM with the reason.

    Never a public scolding: when the member's DMs are closed, the reason goes in a thread
    (the message's own thread, or the thread it was posted in), mentioning only them.
    ``explain=False``: only the ⚠️ (the member was just told the same reason).
    """
    try:
        await message.add_reaction("⚠️")
    except discord.HTTPException:
        log.info("Could not react to message %s", message.id)
    if not explain:
        return
    text = f"About your message {message.jump_url}:\n{reason}"
    try:
        await message.author.send(text, allowed_mentions=discord.AllowedMentions.none())
        return
    except discord.Forbidden:
        pass
    except discord.HTTPException:
        log.info("Could not DM %s", message.author.id)
        return
    mention = discord.AllowedMentions(users=[message.author], everyone=False, roles=False)
    try:
        if isinstance(message.channel, discord.Thread):
            await message.channel.send(f"{message.author.mention} {text}", allowed_mentions=mention)
        elif isinstance(message.channel, discord.TextChannel):
            thread = await message.create_thread(name="About your message")
            await thread.send(f"{message.author.mention} {text}", allowed_mentions=mention)
    except discord.HTTPException:
        log.info("Could not tell %s about a problem with message %s", message.author.id, message.id)


class ReportingDynamicItem:
    """Mixin for DynamicItems: errors in ``handle`` reach the user like command errors.

    discord.py only logs exceptions raised in a dynamic item's callback, so subclasses put
    their logic in ``handle`` and get the same ephemeral replies as slash commands. The
    same holds for a :class:`UserError` raised by ``from_custom_id`` (a custom_id out of
    date, or forged): discord.py would log it and the member would see "This interaction
    failed"; here they are told why.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parse = cls.__dict__.get("from_custom_id")
        if isinstance(parse, classmethod):
            cls.from_custom_id = classmethod(_telling_user_errors(parse.__func__))  # type: ignore[attr-defined]

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.handle(interaction)
        except Exception as exc:
            await report_interaction_error(interaction, exc)

    async def handle(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError


_Parse = Callable[..., Awaitable[Any]]


def _telling_user_errors(parse: _Parse) -> _Parse:
    @functools.wraps(parse)
    async def from_custom_id(
        cls: type,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> Any:
        try:
            return await parse(cls, interaction, item, match)
        except UserError as exc:
            await report_interaction_error(interaction, exc)
            return _Answered(item)

    return from_custom_id


class _Answered(discord.ui.DynamicItem[discord.ui.Item[Any]], template=r"(?s).*"):
    """Stands in for an item whose custom_id could not be read, once the member was told
    why: discord.py swaps it into the view, and its check stops the dispatch."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return False


class ReportingModal(discord.ui.Modal):
    """A modal whose errors are reported to the user like command errors."""

    # discord.py's Modal.on_error drops BaseView's item argument; mypy sees the mismatch.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_interaction_error(interaction, error)
