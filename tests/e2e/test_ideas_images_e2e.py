"""Ideas' images end to end: a tagged message's first picture, the context menu's and
`/idea submit image:` appear on the card (uploaded by the bot: Discord's links expire), and
still do after a restart; what is not a picture, or too large, is refused and nothing is
stored."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import Env
from helpers import reply_of
from ideas_helpers import card, fresh_member, handlers_done, idea, idea_count, running_cocreate

from bot.app import create_bot
from bot.domain.idea_model import IdeaDraft
from bot.sandbox import Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def module_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    db_path = tmp_path_factory.mktemp("ideas-images") / "cocreate.db"
    async with running_cocreate(db_path) as env:
        yield env


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def claimed_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's
    shape): refused from the header, never decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _card_image(env: Env, message: Message) -> bytes | None:
    """The bytes of the picture the card's embed shows, when it is one of its uploads."""
    embeds = message.embeds
    url = (embeds[0].get("image") or {}).get("url", "") if embeds else ""
    for attachment in message.attachments:
        if url.endswith(f"/{attachment.id}/{attachment.filename}"):
            return attachment.data
    return None


async def test_a_tagged_messages_image_is_on_the_card_after_a_restart(env: Env) -> None:
    c, d = env.community, env.driver
    poster = await fresh_member(env, "Painter")
    picture = png()
    # A PDF first: the message's first *picture* is the idea's.
    posted = await d.post(
        c.general,
        poster,
        "[idea] A colour picker for boards",
        files=[("spec.pdf", b"%PDF-1.4 not a picture"), ("mockup.png", picture)],
    )
    await d.wait_for_message(c.general, contains="Captured as idea")
    await handlers_done(env)
    found = await env.bot.services.ideas.by_source(c.guild.id, posted.id)
    assert found is not None and found.image_name == f"idea-{found.number}.png"
    shown = card(env, found)
    assert _card_image(env, shown) == picture  # uploaded by the bot, not a link to the source

    settings = env.bot.settings
    await d.stop_bot()
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    # After the restart a vote edits the card: the picture stays on it.
    await env.bot.services.ideas.vote(c.guild.id, found.number, c.bob.id, 1)
    cog = env.bot.get_cog("Ideas")
    assert cog is not None
    cog.publisher.refresh_card(await idea(env, found.number))  # type: ignore[attr-defined]
    edited = await d.wait_for_edit(shown, predicate=lambda m: "👍 1" in str(m.embeds))
    assert _card_image(env, edited) == picture


async def test_a_card_published_after_a_restart_uploads_the_stored_image(env: Env) -> None:
    """The card of an idea stored just before the process died is posted at the next start,
    with the image from the store (the member's attachment link may have expired by then)."""
    c, d = env.community, env.driver
    ideas = env.bot.services.ideas
    picture = png(32, 32, (10, 120, 40))
    image = await ideas.prepare_image("plan.png", "image/png", picture, 10 * 1024 * 1024)
    submission = await ideas.submit(
        IdeaDraft(c.guild.id, c.alice.id, "Stored before a crash", "", image=image),
        check_rate=False,
    )
    # The publication is recorded but never run here (as if the process died).
    settings = env.bot.settings
    await d.stop_bot()
    env.bot = create_bot(settings)
    await d.start_bot(env.bot)
    posted = await d.wait_for_message(
        c.ideas, predicate=lambda m: bool(m.embeds) and "Stored before a crash" in str(m.embeds)
    )
    assert _card_image(env, posted) == picture
    await env.bot.services.timers.run_due()  # waits for the start's run, which records it
    assert (await idea(env, submission.idea.number)).card_message_id == posted.id


async def test_submit_with_an_image_and_the_menu_capture_show_it(env: Env) -> None:
    c, d = env.community, env.driver
    kim = await fresh_member(env, "Kim")
    picture = png(80, 40, (0, 0, 255))
    opened = await d.slash(kim, "idea submit", channel=c.general, image=("sketch.png", picture))
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, body_id = list(modal.fields)
    answer = await reply_of(
        await d.submit_modal(kim, modal, {title_id: "Board templates", body_id: "Start faster"})
    )
    number = int(answer.content.split("#")[1].split(".")[0])
    found = await idea(env, number)
    assert _card_image(env, card(env, found)) == picture

    lee = await fresh_member(env, "Lee")
    other = png(20, 20, (255, 255, 0))
    source = await d.post(
        c.general, lee, "Sticky notes that snap together", files=[("n.png", other)]
    )
    reply = await reply_of(await d.message_command(c.bob, "Capture as idea", source))
    number = int(reply.content.split("#")[1].split(".")[0])
    assert _card_image(env, card(env, await idea(env, number))) == other


async def test_a_non_image_attachment_is_refused_before_the_form(env: Env) -> None:
    c, d = env.community, env.driver
    ana = await fresh_member(env, "Ana")
    before = await idea_count(env)
    result = await d.slash(ana, "idea submit", channel=c.general, image=("notes.txt", b"hello"))
    answer = await reply_of(result)
    assert answer.ephemeral and "not an image" in answer.content
    assert (await result.response()).modal is None
    assert await idea_count(env) == before


async def test_a_file_named_png_that_is_not_a_picture_is_refused(env: Env) -> None:
    c, d = env.community, env.driver
    ola = await fresh_member(env, "Ola")
    before = await idea_count(env)
    opened = await d.slash(ola, "idea submit", channel=c.general, image=("fake.png", b"nope" * 9))
    modal = (await opened.response()).modal
    assert modal is not None
    title_id, _ = list(modal.fields)
    answer = await reply_of(await d.submit_modal(ola, modal, {title_id: "Fake picture"}))
    assert answer.ephemeral and "not an image" in answer.content
    assert await idea_count(env) == before
    await handlers_done(env)


async def test_an_oversized_image_on_a_tagged_message_stores_nothing(env: Env) -> None:
    c, d = env.community, env.driver
    max_ = await fresh_member(env, "Max")
    before = await idea_count(env)
    posted = await d.post(
        c.general, max_, "[idea] Huge poster", files=[("poster.png", claimed_png(9000, 9000))]
    )
    await d.wait_for_reaction(posted, "⚠️")
    dm = await d.wait_for_dm(max_)
    assert "megapixels" in dm.content
    await handlers_done(env)
    assert await idea_count(env) == before
    assert await env.bot.services.ideas.by_source(c.guild.id, posted.id) is None


async def test_a_forum_posts_picture_is_on_its_card(env: Env) -> None:
    c, d = env.community, env.driver
    poster = await fresh_member(env, "Sketcher")
    picture = png(40, 30, (20, 60, 200))
    thread, starter = await d.create_forum_post(
        c.forum,
        poster,
        "A dark theme for the editor",
        "Here is how it could look.",
        files=[("notes.txt", b"not a picture"), ("dark.png", picture)],
    )
    posted = await d.wait_for_message(thread, predicate=lambda m: bool(m.embeds))
    await handlers_done(env)
    found = await env.bot.services.ideas.by_source(c.guild.id, starter.id)
    assert found is not None and found.source == "forum"
    assert found.image_name == f"idea-{found.number}.png"
    assert found.card_message_id == posted.id
    assert _card_image(env, posted) == picture  # uploaded by the bot with the card
