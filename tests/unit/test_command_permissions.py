"""Which commands members see: a top-level command whose every subcommand is for moderators
registers Manage Server as its default permission; any command a member may use does not.
The moderator check on each subcommand stays, whatever Discord shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.app import create_bot
from bot.client import CocreateBot, discover_extensions
from bot.demo.community import MODERATOR_COMMANDS
from bot.settings import load_settings
from cogs._common import MODERATOR_PERMISSIONS

#: THE registry: top-level commands that are for moderators as a whole. A new one is added
#: here on purpose (and to the README's commands table), never by accident.
MODERATOR_ONLY = frozenset({"config", "setup", "digest", "export"})
#: Groups mixing member and moderator subcommands: shown to everyone, refused by the bot.
MIXED = frozenset({"idea", "points", "challenge"})
MANAGE_GUILD = 1 << 5


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[CocreateBot]:
    settings = load_settings(environ={"COCREATE_DATABASE_PATH": str(tmp_path / "perm.db")})
    built = create_bot(settings)
    for extension in discover_extensions():
        await built.load_extension(extension)
    yield built
    for extension in list(built.extensions):
        await built.unload_extension(extension)


def _leaves(cmd: Any) -> Iterator[app_commands.Command[Any, ..., Any]]:
    if isinstance(cmd, app_commands.Group):
        for sub in cmd.commands:
            yield from _leaves(sub)
    elif isinstance(cmd, app_commands.Command):
        yield cmd


def _moderator_check(cmd: app_commands.Command[Any, ..., Any]) -> bool:
    return any(getattr(check, "cocreate_moderator", False) for check in cmd.checks)


async def test_manage_server_is_the_default_permission_exactly_of_moderator_groups(
    bot: CocreateBot,
) -> None:
    commands = bot.tree.get_commands()
    names = {cmd.name for cmd in commands}
    assert names >= MODERATOR_ONLY | MIXED
    for cmd in commands:
        leaves = list(_leaves(cmd))
        wholly_moderator = bool(leaves) and all(map(_moderator_check, leaves))
        # The rule: the registry is exactly the commands whose every subcommand is checked.
        assert wholly_moderator == (cmd.name in MODERATOR_ONLY), cmd.name
        expected = MODERATOR_PERMISSIONS if cmd.name in MODERATOR_ONLY else None
        assert cmd.default_permissions == expected, cmd.name
        if cmd.name in MIXED:  # no default permission fits both kinds of subcommand
            assert any(map(_moderator_check, leaves)) and not wholly_moderator, cmd.name
    assert discord.Permissions(manage_guild=True) == MODERATOR_PERMISSIONS


async def test_the_synced_payload_carries_the_permission_bit(bot: CocreateBot) -> None:
    payload = {c["name"]: c for c in bot.command_payload()}
    for name, command in payload.items():
        expected = MANAGE_GUILD if name in MODERATOR_ONLY else None
        assert command.get("default_member_permissions") == expected, name


def test_the_sandbox_community_grants_its_moderator_role_the_same_commands() -> None:
    # The seeded server does what the README asks of servers using `moderator_roles`.
    assert frozenset(MODERATOR_COMMANDS) == MODERATOR_ONLY
