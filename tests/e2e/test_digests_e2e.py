"""Digests end to end: the real bot in the sandbox on a movable clock. Preview, an extra
digest now, the scheduled post, annotate-and-publish and auto-publish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import Env
from helpers import embed_text, reply_of
from ideas_helpers import Clock, fresh_member, publish, running_cocreate

from bot.domain.digest_model import RunKind, RunStatus
from bot.render import exports as render_exports
from bot.sandbox import Message
from bot.sandbox.driver import InvalidInteraction
from bot.services.digests import DUE, due_key

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CLOCK = Clock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path: Path = tmp_path_factory.mktemp("digests") / "cocreate.db"
    async with running_cocreate(db_path, clock=CLOCK) as running:
        yield running


@pytest.fixture(autouse=True)
def _seen(env: Env) -> None:
    env.driver.mark_seen()


async def next_digest_due(env: Env) -> None:
    """Move the clock just past the guild's armed fire time and let the timers run."""
    services = env.bot.services
    rows = await services.db.fetchall(
        "SELECT due_at FROM timers WHERE kind = ? AND key = ? AND done_at IS NULL",
        (DUE, due_key(env.community.guild.id)),
    )
    assert rows, "the digest schedule is not armed"
    from datetime import datetime

    due = datetime.fromisoformat(rows[0][0])
    CLOCK.advance(max(timedelta(0), due - CLOCK()) + timedelta(seconds=30))
    await services.timers.run_due()  # the due digest: records the run and its publication
    await services.timers.run_due()  # the publication (or draft) it wrote, due now


def is_digest(title: str) -> object:
    return lambda m: any(title in str(e.get("title", "")) for e in m.embeds)


async def test_preview_is_ephemeral_and_records_nothing(env: Env) -> None:
    author = await fresh_member(env)
    await publish(env, author, "Dark mode for the editor")
    result = await env.driver.slash(env.community.mod, "digest preview")
    reply = await reply_of(result)
    text = embed_text(reply)
    assert reply.visible_to == env.community.mod.id
    assert "Digest so far" in text and "Dark mode for the editor" in text
    assert "New ideas: **1 (+1)**" in text
    assert await env.bot.services.digests.history(env.community.guild.id) == []


async def test_members_cannot_preview(env: Env) -> None:
    member = await fresh_member(env)
    # Discord does not show /digest to members without Manage Server (its default permission).
    with pytest.raises(InvalidInteraction, match="lacks permissions"):
        await env.driver.slash(member, "digest now")
    assert await env.bot.services.digests.history(env.community.guild.id) == []


async def test_digest_now_posts_an_extra_digest_in_the_staff_channel(env: Env) -> None:
    result = await env.driver.slash(env.community.mod, "digest now")
    posted = await env.driver.wait_for_message(env.community.staff, predicate=is_digest("so far"))
    assert "Top new ideas" in embed_text(posted)
    assert "Posted" in (await reply_of(result)).content
    (run,) = await env.bot.services.digests.history(env.community.guild.id)
    assert run.kind is RunKind.EXTRA and run.status is RunStatus.PUBLISHED
    assert posted.id in run.message_ids


async def test_the_scheduled_digest_posts_once_with_its_chart(env: Env) -> None:
    await next_digest_due(env)
    posted = await env.driver.wait_for_message(
        env.community.staff, predicate=is_digest("Community digest")
    )
    messages = [posted]
    assert any(a.filename == "digest-activity.png" for m in messages for a in m.attachments) or (
        await env.driver.wait_for_message(
            env.community.staff, predicate=lambda m: bool(m.attachments)
        )
    )
    await env.bot.services.timers.run_due()  # a second run finds nothing more to post
    runs = await env.bot.services.digests.history(env.community.guild.id)
    scheduled = [r for r in runs if r.kind is RunKind.SCHEDULED]
    assert [r.status for r in scheduled] == [RunStatus.PUBLISHED]
    assert not scheduled[0].late


async def draft(env: Env) -> Message:
    await next_digest_due(env)
    return await env.driver.wait_for_message(
        env.community.staff, predicate=lambda m: "Draft digest" in m.content
    )


async def test_annotate_then_publish_leads_with_the_note(env: Env) -> None:
    moderator = env.community.mod
    await reply_of(await env.driver.slash(moderator, "digest schedule", annotate=True))
    message = await draft(env)
    run_id = int(message.components[0]["components"][0]["custom_id"].split(":")[-1])
    opened = await env.driver.click(env.community.staffer, message, f"digest:note:{run_id}")
    await reply_of(
        await env.driver.submit_modal(env.community.staffer, opened, {"note": "Great week!"})
    )
    env.driver.mark_seen()
    clicked = await env.driver.click(env.community.staffer, message, f"digest:publish:{run_id}")
    published = await env.driver.wait_for_message(
        env.community.staff, predicate=is_digest("Community digest")
    )
    assert "Great week!" in embed_text(published)
    assert "published" in (await reply_of(clicked)).content
    run = await env.bot.services.digests.get_run(run_id)
    assert run is not None and run.status is RunStatus.PUBLISHED and run.note == "Great week!"


async def test_an_unpublished_draft_publishes_itself_after_the_delay(env: Env) -> None:
    message = await draft(env)
    run_id = int(message.components[0]["components"][0]["custom_id"].split(":")[-1])
    env.driver.mark_seen()
    CLOCK.advance(timedelta(hours=24, minutes=1))
    await env.bot.services.timers.run_due()
    await env.driver.wait_for_message(env.community.staff, predicate=is_digest("Community digest"))
    run = await env.bot.services.digests.get_run(run_id)
    assert run is not None and run.status is RunStatus.PUBLISHED


async def test_a_moderator_gets_the_export_as_attachments(env: Env) -> None:
    result = await env.driver.slash(env.community.mod, "export", format="csv")
    reply = await reply_of(result)
    assert reply.visible_to == env.community.mod.id
    files = {a.filename: a.data for a in reply.attachments}
    names = env.bot.services.exports.names
    assert len(files) == min(len(names), 10)  # a message holds 10; the rest follow
    for i in range(1, (len(names) + 9) // 10):  # followup 0 is the reply itself
        followup = await result.followup(i, 10)
        assert followup.visible_to == env.community.mod.id
        files |= {a.filename: a.data for a in followup.attachments}
    assert set(files) == {f"{name}.csv" for name in names}
    assert {"polls", "poll_ballots_anonymous", "policies", "policy_concerns"} <= set(names)
    assert files["poll_ballots_anonymous.csv"].decode().splitlines() == ["poll_id,answer"]
    header, *rows = files["ideas.csv"].decode().splitlines()
    assert header.startswith("id,number,kind,title") and rows
    assert "Dark mode for the editor" in files["ideas.csv"].decode()


async def test_more_sources_than_a_message_holds_continue_in_followups(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cog = env.bot.get_cog("Digests")
    assert cog is not None
    monkeypatch.setattr(cog, "attachments_per_message", 4)  # as if 10 were too few
    result = await env.driver.slash(env.community.mod, "export", format="json")
    await result.response(5)
    names = env.bot.services.exports.names
    messages = [await result.followup(i, 10) for i in range((len(names) + 3) // 4)]
    assert [len(m.attachments) for m in messages[:-1]] == [4] * (len(messages) - 1)
    files = [a.filename for m in messages for a in m.attachments]
    assert files == [f"{name}.json" for name in names]  # each once, in order
    assert messages[0].content.startswith("📦 Export of")


async def test_members_cannot_export(env: Env) -> None:
    member = await fresh_member(env)
    with pytest.raises(InvalidInteraction, match="lacks permissions"):
        await env.driver.slash(member, "export")


async def test_an_export_over_the_limit_stops_early_and_points_to_the_cli(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = env.bot.services.exports
    cog = env.bot.get_cog("Digests")
    assert cog is not None
    monkeypatch.setattr(cog, "export_limit", 300)  # bytes: a few rows of ideas
    monkeypatch.setattr(render_exports, "FLUSH_ROWS", 1)  # check the budget at every row
    for n in range(8):
        await publish(env, await fresh_member(env), f"Export filler idea number {n}")
    read: dict[str, int] = {}
    rows_of = exports.rows

    async def counted(name: str, guild_id: int) -> AsyncIterator[dict[str, object]]:
        read.setdefault(name, 0)
        async for row in rows_of(name, guild_id):
            read[name] += 1
            yield row

    monkeypatch.setattr(exports, "rows", counted)
    reply = await reply_of(await env.driver.slash(env.community.mod, "export", format="json"))
    assert reply.attachments == []
    assert f"cocreate export --guild {env.community.guild.id} --format json" in reply.content
    sizes = await exports.sizes(env.community.guild.id)
    # It stopped at the row that passed the limit: the rest was never read.
    assert read == {"ideas": read["ideas"]} and read["ideas"] < (sizes["ideas"] or 0)


async def test_no_unhandled_routes(env: Env) -> None:
    assert env.driver.sandbox.unhandled_routes == []


async def test_help_shows_digest_and_export_to_moderators_only(env: Env) -> None:
    c = env.community
    mod_view = embed_text(await reply_of(await env.driver.slash(c.mod, "help")))
    for command in ("digest preview", "digest now", "digest schedule", "digest history"):
        assert f"`/{command}` — " in mod_view
    line = next(line for line in mod_view.splitlines() if line.startswith("`/export`"))
    assert "polls and policies" in line and line.endswith("*(moderators)*")
    member_view = embed_text(
        await reply_of(await env.driver.slash(await fresh_member(env), "help"))
    )
    assert "/digest" not in member_view and "/export" not in member_view
