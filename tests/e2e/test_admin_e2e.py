"""Foundation features end to end: the real Cocreate bot against the local sandbox."""

from __future__ import annotations

import asyncio

import discord
import pytest
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import fresh_member

from bot.sandbox import InvalidInteraction, P
from bot.storage import common

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_connects_and_syncs_commands(env: Env) -> None:
    synced = [c for c in env.driver.sandbox.calls if c.method == "PUT" and "commands" in c.route]
    assert synced, "the bot never synced its commands"
    names = {cmd["name"] for cmd in synced[-1].json}
    assert {"about", "help", "config", "setup", "privacy"} <= names
    assert env.bot.synced_commands
    stored = await env.bot.services.db.read(lambda c: common.get_meta(c, "commands_hash"))
    assert stored == env.bot.command_hash()


async def test_about_answers_with_version_and_health(env: Env) -> None:
    c = env.community
    message = await reply_of(await env.driver.slash(c.alice, "about", channel=c.general))
    text = embed_text(message)
    assert message.ephemeral
    assert env.bot.version in text
    assert "Uptime" in text and "Database" in text and "KiB" in text


async def test_help_lists_member_commands_only_for_members(env: Env) -> None:
    c = env.community
    member_view = embed_text(
        await reply_of(await env.driver.slash(c.alice, "help", channel=c.general))
    )
    mod_view = embed_text(await reply_of(await env.driver.slash(c.mod, "help", channel=c.general)))
    assert "/privacy forget-me" in member_view
    assert "/config set" not in member_view
    assert "/config set" in mod_view and "(moderators)" in mod_view


async def test_config_set_bad_value_is_an_ephemeral_error_and_changes_nothing(env: Env) -> None:
    c = env.community
    before = await env.bot.services.db.read(
        lambda conn: common.load_guild_overrides(conn, c.guild.id)
    )
    result = await env.driver.slash(
        c.mod, "config set", channel=c.general, key="timezone", value="Mars/Olympus_Mons"
    )
    message = await reply_of(result)
    assert message.ephemeral
    assert "is not a timezone" in message.content
    after = await env.bot.services.db.read(
        lambda conn: common.load_guild_overrides(conn, c.guild.id)
    )
    assert after == before
    unknown = await reply_of(
        await env.driver.slash(c.mod, "config set", channel=c.general, key="nope", value="1")
    )
    assert unknown.ephemeral and "no setting `nope`" in unknown.content


async def test_config_set_and_reset_by_a_moderator_role(env: Env) -> None:
    c = env.community
    message = await reply_of(
        await env.driver.slash(
            c.mod, "config set", channel=c.general, key="timezone", value="Europe/Berlin"
        )
    )
    assert "Europe/Berlin" in message.content
    assert (await env.bot.services.guild_settings.get(c.guild.id))["timezone"] == "Europe/Berlin"
    logged = await env.driver.wait_for_message(
        c.modlog, predicate=lambda m: "config.set" in str(m.embeds)
    )
    assert "timezone" in embed_text(logged)
    await reply_of(await env.driver.slash(c.mod, "config reset", channel=c.general, key="timezone"))
    assert (await env.bot.services.guild_settings.get(c.guild.id))["timezone"] == "UTC"


async def test_config_autocomplete_offers_keys(env: Env) -> None:
    c = env.community
    choices = await env.driver.autocomplete(c.mod, "config set", "key", "chan")
    values = {choice["value"] for choice in choices}
    assert "ideas_channel" in values and "timezone" not in values


async def test_non_moderator_is_denied_and_nothing_changes(env: Env) -> None:
    c, d = env.community, env.driver
    # Discord does not offer a member without Manage Server the moderators' commands...
    with pytest.raises(InvalidInteraction, match="lacks permissions 32"):
        await d.slash(c.alice, "config set", channel=c.general, key="timezone", value="UTC")
    with pytest.raises(InvalidInteraction, match="lacks permissions 32"):
        await d.slash(c.alice, "setup check", channel=c.general)
    # ...and when a server's admins grant them to a member anyway, Cocreate still refuses.
    eli = await fresh_member(env, "Eli")
    for command in ("config", "setup"):
        d.set_command_permission(c.guild, command, eli)
    message = await reply_of(
        await d.slash(eli, "config set", channel=c.general, key="timezone", value="Asia/Tokyo")
    )
    assert message.ephemeral and "Only moderators" in message.content
    denied = await reply_of(await d.slash(eli, "setup check", channel=c.general))
    assert "Only moderators" in denied.content
    assert (await env.bot.services.guild_settings.get(c.guild.id))["timezone"] != "Asia/Tokyo"


async def test_setup_guide_saves_a_picked_channel(env: Env) -> None:
    c = env.community
    result = await env.driver.slash(c.owner, "setup start", channel=c.general)
    guide = await reply_of(result)
    assert guide.ephemeral and "Where ideas come from" in embed_text(guide)
    env.driver.mark_seen()  # the guide itself arrived as an edit of the "thinking" reply
    picked = await env.driver.select(
        c.owner, guide, "setup:set:watched_channels", [c.general, c.help]
    )
    await picked.response()
    await env.driver.wait_for_edit(guide)
    config = await env.bot.services.guild_settings.get(c.guild.id)
    assert set(config["watched_channels"]) == {c.general.id, c.help.id}
    next_page = await env.driver.click(c.owner, guide, "setup:page:1")
    assert (await next_page.response()).type == 7
    # Put the world back the way the other tests expect it.
    await env.bot.services.guild_settings.set_values(
        c.guild.id, {"watched_channels": [c.general.id]}, c.owner.id
    )


async def test_setup_check_reports_a_permission_removed_by_an_overwrite(env: Env) -> None:
    c = env.community
    ok = embed_text(await reply_of(await env.driver.slash(c.mod, "setup check", channel=c.general)))
    assert "#shipped" in ok or str(c.shipped.id) in ok
    env.driver.set_overwrite(c.shipped, env.driver.bot_role(c.guild), deny=P.EMBED_LINKS)
    try:
        await env.bot.wait_for(
            "guild_channel_update", check=lambda before, after: after.id == c.shipped.id, timeout=5
        )
        report = embed_text(
            await reply_of(await env.driver.slash(c.mod, "setup check", channel=c.general))
        )
        assert "Embed Links" in report
        assert "problem" in report
    finally:
        env.driver.set_overwrite(c.shipped, env.driver.bot_role(c.guild))


async def test_joining_a_guild_posts_the_checklist_once(env: Env) -> None:
    guild = await env.driver.invite_bot("Fresh Server")
    channel = next(ch for ch in env.driver.world.channels.values() if ch.guild_id == guild.id)
    posted = await env.driver.wait_for_message(channel, contains="/setup start")
    assert "no channel is watched" in posted.content
    assert not await env.bot.services.guilds.claim_checklist(guild.id)


async def test_privacy_forget_me_is_confirmed_by_a_moderator(env: Env) -> None:
    c = env.community
    calls: list[tuple[int, int]] = []

    async def handler(guild_id: int, user_id: int) -> dict[str, int]:
        calls.append((guild_id, user_id))
        return {"test rows removed": 2}

    env.bot.services.privacy.register("e2e", handler)
    ack = await reply_of(await env.driver.slash(c.carol, "privacy forget-me", channel=c.general))
    assert ack.ephemeral and "sent to the moderators" in ack.content
    again = await reply_of(await env.driver.slash(c.carol, "privacy forget-me", channel=c.general))
    assert "already have a pending request" in again.content
    request = await env.driver.wait_for_message(c.modlog, contains="Privacy request")
    denied = await env.driver.click(
        c.staffer, request, request.components[0]["components"][0]["custom_id"]
    )
    assert "Only moderators" in (await reply_of(denied)).content
    assert calls == []
    confirm = await env.driver.click(
        c.mod, request, request.components[0]["components"][0]["custom_id"]
    )
    await confirm.response()
    dm = await env.driver.wait_for_dm(c.carol)
    assert "forgotten" in dm.content
    assert calls == [(c.guild.id, c.carol.id)]


async def test_resume_after_disconnect_delivers_each_missed_event_once(env: Env) -> None:
    c = env.community
    seen: list[int] = []

    async def count(message: discord.Message) -> None:
        if message.channel.id == c.help.id:
            seen.append(message.id)

    env.bot.add_listener(count, "on_message")
    try:
        resumes = env.driver.resumes
        async with env.driver.bot_offline(resume=True):
            missed = [await env.driver.post(c.help, c.bob, f"while down {i}") for i in range(3)]
        assert env.driver.resumes == resumes + 1
        after_posted = asyncio.Event()

        async def after_seen(message: discord.Message) -> None:
            if message.content == "after" and message.channel.id == c.help.id:
                after_posted.set()

        env.bot.add_listener(after_seen, "on_message")
        after = await env.driver.post(c.help, c.bob, "after")
        await asyncio.wait_for(after_posted.wait(), 5)
        env.bot.remove_listener(after_seen, "on_message")
        # Listeners run in order of registration: `count` has seen everything by now.
        assert seen == [m.id for m in missed] + [after.id]
    finally:
        env.bot.remove_listener(count, "on_message")


async def test_invalid_session_identifies_again(env: Env) -> None:
    c = env.community
    identifies = env.driver.identifies
    await env.driver.invalidate_session()
    assert env.driver.identifies == identifies + 1
    message = await reply_of(await env.driver.slash(c.alice, "about", channel=c.general))
    assert "Uptime" in embed_text(message)


async def test_mod_log_burst_is_paced_without_429s_and_delivers_everything(env: Env) -> None:
    c = env.community
    before = len(env.driver.messages_in(c.modlog))
    limited = sum(1 for call in env.driver.sandbox.calls if call.status == 429)
    zones = [
        "Europe/Paris",
        "Asia/Tokyo",
        "America/Chicago",
        "Africa/Cairo",
        "Europe/Oslo",
        "Asia/Kolkata",
        "America/Lima",
        "Pacific/Auckland",
    ]
    results = await asyncio.gather(
        *(
            env.driver.slash(c.mod, "config set", channel=c.general, key="timezone", value=zone)
            for zone in zones
        )
    )
    for result in results:
        await reply_of(result, timeout=20)
    for _ in zones:
        await env.driver.wait_for_message(
            c.modlog, predicate=lambda m: "config.set" in str(m.embeds), timeout=20
        )
    texts = [embed_text(m) for m in env.driver.messages_in(c.modlog)[before:]]
    assert len(texts) == len(zones)
    assert {z for z in zones if any(z in t for t in texts)} == set(zones)
    # The bot paces its sends under the hidden per-channel limit: it meets no 429 at all.
    assert sum(1 for call in env.driver.sandbox.calls if call.status == 429) == limited
    await env.bot.services.guild_settings.reset(c.guild.id, "timezone", c.mod.id)
