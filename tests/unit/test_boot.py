"""Build the real bot without logging in, load every cog, and check Discord's limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import discord
import orjson
import pytest
from discord import app_commands

from bot.app import create_bot
from bot.client import CocreateBot, discover_extensions
from bot.settings import load_settings

SLASH_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


@pytest.fixture
async def loaded_bot(tmp_path: Any) -> Iterator[CocreateBot]:
    settings = load_settings(environ={"COCREATE_DATABASE_PATH": str(tmp_path / "boot.db")})
    bot = create_bot(settings)
    for extension in discover_extensions():
        await bot.load_extension(extension)
    yield bot
    for extension in list(bot.extensions):
        await bot.unload_extension(extension)


def _walk(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield payload
    for option in payload.get("options", []):
        if option.get("type") in (1, 2):  # subcommand, subcommand group
            yield from _walk(option)


async def test_every_cog_module_is_an_extension_and_loads(loaded_bot: CocreateBot) -> None:
    extensions = discover_extensions()
    assert "cogs.admin" in extensions and "cogs.privacy" in extensions
    assert not any(name.split(".")[-1].startswith("_") for name in extensions)
    assert set(loaded_bot.extensions) == set(extensions)


async def test_commands_fit_discords_limits(loaded_bot: CocreateBot) -> None:
    payload = loaded_bot.command_payload()
    slash = [c for c in payload if c.get("type", 1) == 1]
    menus = [c for c in payload if c.get("type") in (2, 3)]
    assert len(slash) <= 100
    assert len({c["name"] for c in slash}) == len(slash), "duplicate slash command names"
    assert len({c["name"] for c in menus}) == len(menus), "duplicate context-menu names"
    for menu in menus:
        assert 1 <= len(menu["name"]) <= 32
    for command in slash:
        # Discord counts names, descriptions and choices of the whole command: ≤ 4,000.
        assert len(orjson.dumps(command)) < 8000
        total = 0
        for node in _walk(command):
            assert SLASH_NAME.match(node["name"]), node["name"]
            assert 1 <= len(node["description"]) <= 100, node["name"]
            options = node.get("options", [])
            assert len(options) <= 25, node["name"]
            total += len(node["name"]) + len(node["description"])
            for option in options:
                if option.get("type") not in (1, 2):
                    assert SLASH_NAME.match(option["name"]), option["name"]
                    assert 1 <= len(option["description"]) <= 100, option["name"]
                    assert len(option.get("choices", [])) <= 25
                    total += len(option["name"]) + len(option["description"])
                    total += sum(
                        len(c["name"]) + len(str(c["value"])) for c in option.get("choices", [])
                    )
        assert total <= 4000, f"/{command['name']} has {total} characters"


async def test_dynamic_items_are_registered_and_custom_ids_fit(loaded_bot: CocreateBot) -> None:
    registered = loaded_bot._connection._view_store._dynamic_items
    templates = {item.__discord_ui_compiled_template__.pattern for item in registered.values()}
    assert any(t.startswith("setup:") for t in templates)
    assert any(t.startswith("privacy:") for t in templates)


async def test_command_hash_is_stable_and_changes_with_commands(loaded_bot: CocreateBot) -> None:
    first = loaded_bot.command_hash()
    assert first == loaded_bot.command_hash()

    @app_commands.command(name="extra", description="A new command")
    async def extra(interaction: discord.Interaction) -> None:  # pragma: no cover
        return None

    loaded_bot.tree.add_command(extra)
    assert loaded_bot.command_hash() != first


async def test_bot_defaults_are_safe(loaded_bot: CocreateBot) -> None:
    assert loaded_bot.allowed_mentions is not None
    assert loaded_bot.allowed_mentions.to_dict()["parse"] == []
    job_defaults = loaded_bot.scheduler._job_defaults
    assert job_defaults["misfire_grace_time"] is None
    assert job_defaults["coalesce"] is True and job_defaults["max_instances"] == 1
