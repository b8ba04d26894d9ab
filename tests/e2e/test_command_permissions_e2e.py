"""Who sees the moderators' commands, end to end: what the bot registers, what Discord (the
sandbox) stores and returns, and the overrides a server's admins set in Integrations."""

from __future__ import annotations

import discord
import pytest
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import fresh_member

from bot.sandbox import InvalidInteraction

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MANAGE_GUILD = 1 << 5
MODERATOR_ONLY = {"config", "setup", "digest", "export"}


async def test_moderator_groups_are_registered_with_manage_server_as_discord_stores_it(
    env: Env,
) -> None:
    synced = [c for c in env.driver.sandbox.calls if c.method == "PUT" and "commands" in c.route]
    sent = {cmd["name"]: cmd.get("default_member_permissions") for cmd in synced[-1].json}
    stored = {
        cmd["name"]: cmd["default_member_permissions"] for cmd in env.driver.world.global_commands
    }
    assert set(sent) == set(stored) and set(stored) > MODERATOR_ONLY
    for name in stored:
        moderator = name in MODERATOR_ONLY
        assert sent[name] == (MANAGE_GUILD if moderator else None), name
        # Discord answers with the permissions as a string.
        assert stored[name] == (str(MANAGE_GUILD) if moderator else None), name
    for mixed in ("idea", "points", "help", "privacy", "Capture as idea"):
        assert stored[mixed] is None


async def test_discord_py_reads_the_permission_back(env: Env) -> None:
    fetched = {cmd.name: cmd for cmd in await env.bot.tree.fetch_commands()}
    assert fetched["config"].default_member_permissions == discord.Permissions(manage_guild=True)
    assert fetched["setup"].default_member_permissions == discord.Permissions(manage_guild=True)
    assert fetched["idea"].default_member_permissions is None


async def test_a_bad_permission_value_is_refused_like_discord_does(env: Env) -> None:
    assert env.bot.application_id is not None
    before = [dict(c) for c in env.driver.world.global_commands]
    bad = [{"name": "x", "description": "x", "type": 1, "default_member_permissions": "all"}]
    with pytest.raises(discord.HTTPException) as exc:
        await env.bot.http.bulk_upsert_global_commands(env.bot.application_id, bad)
    assert exc.value.status == 400
    assert env.driver.world.global_commands == before


async def test_members_see_them_by_manage_server_or_by_an_admins_grant(env: Env) -> None:
    c, d = env.community, env.driver
    # The owner has Manage Server; the Moderator role was granted the commands (community).
    shown = await reply_of(await d.slash(c.owner, "config show", channel=c.general))
    assert "Cocreate settings" in embed_text(shown)
    shown = await reply_of(await d.slash(c.mod, "config show", channel=c.general))
    assert "Cocreate settings" in embed_text(shown)
    # A plain member has neither; an admin may deny a command even to a moderator.
    with pytest.raises(InvalidInteraction, match="lacks permissions"):
        await d.slash(c.bob, "config show", channel=c.general)
    ada = await fresh_member(env, "Ada")
    await d.add_roles(ada, c.moderator_role)
    d.set_command_permission(c.guild, "config", ada, allow=False)
    with pytest.raises(InvalidInteraction, match="denied"):
        await d.slash(ada, "config show", channel=c.general)
    # Members keep the groups that mix member and moderator subcommands.
    await reply_of(await d.slash(c.bob, "idea mine", channel=c.general))
