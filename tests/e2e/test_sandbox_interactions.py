"""Application commands, components, modals, autocomplete and context menus through the
sandbox, with one plain discord.py bot shared by the module."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from re import Match

import aiohttp
import discord
import pytest
import pytest_asyncio
from conftest_sandbox_helpers import SandboxBot, World, build_world
from discord import app_commands

from bot.sandbox import Driver, InvalidInteraction, Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size (no imaging library needed)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


FIRST_PNG, SECOND_PNG = png(30, 20), png(40, 10)
#: The messages discord.py returned to the /picture handler, to check what the bot sees.
PICTURES: list[discord.Message] = []
PICTURED = asyncio.Event()  # set once both are in


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"vote:(?P<idea>\d+)"
):
    """A restart-proof button: its state lives in the custom_id."""

    def __init__(self, idea: int) -> None:
        super().__init__(discord.ui.Button(label="Vote", custom_id=f"vote:{idea}"))
        self.idea = idea

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[discord.ui.View],
        match: Match[str],
    ) -> VoteButton:
        return cls(int(match["idea"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"voted for idea {self.idea}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Share feedback"):
    topic: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Topic", custom_id="topic", max_length=50
    )
    details: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Details", custom_id="details", style=discord.TextStyle.paragraph, required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"thanks for {self.topic.value!r}: {self.details.value}"
        )


class DayPicker(discord.ui.View):
    @discord.ui.select(
        custom_id="digest:day",
        options=[discord.SelectOption(label=d, value=d.lower()) for d in ("Monday", "Friday")],
    )
    async def choose(
        self, interaction: discord.Interaction, select: discord.ui.Select[DayPicker]
    ) -> None:
        await interaction.response.edit_message(content=f"Digest on {select.values[0]}", view=None)


def add_commands(bot: SandboxBot, guild_id: int) -> None:
    tree = bot.tree
    idea = app_commands.Group(name="idea", description="Ideas")

    @idea.command(name="submit", description="Submit an idea")
    async def submit(
        interaction: discord.Interaction,
        title: str,
        votes: int,
        urgent: bool = False,
        owner: discord.Member | None = None,
        where: discord.TextChannel | None = None,
    ) -> None:
        text = f"{title}|{votes}|{urgent}|{owner and owner.display_name}|{where and where.name}"
        await interaction.response.send_message(text, ephemeral=True)

    admin = app_commands.Group(name="admin", description="Admin tools")
    config = app_commands.Group(name="config", description="Settings", parent=admin)

    @config.command(name="set", description="Change a setting")
    @app_commands.choices(key=[app_commands.Choice(name="Digest day", value="digest_day")])
    async def config_set(interaction: discord.Interaction, key: str, value: int) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"{key} = {value}")
        await interaction.edit_original_response(content=f"{key} set to {value}")

    @tree.command(name="vote-panel", description="Post a vote button")
    async def vote_panel(interaction: discord.Interaction, idea_id: int) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(VoteButton(idea_id))
        await interaction.response.send_message(f"Idea #{idea_id}", view=view)

    @tree.command(name="feedback", description="Open the feedback form")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal(custom_id="feedback:form"))

    async def fruit_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        fruits = ["apple", "apricot", "banana", "cherry"]
        return [app_commands.Choice(name=f, value=f) for f in fruits if f.startswith(current)]

    @tree.command(name="fruit", description="Pick a fruit")
    @app_commands.autocomplete(name=fruit_names)
    async def fruit(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"you picked {name}")

    @tree.context_menu(name="Capture as idea", guild=discord.Object(guild_id))
    async def capture(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"captured: {message.content}", ephemeral=True)

    @tree.command(name="pick", description="Choose a digest day")
    async def pick(interaction: discord.Interaction) -> None:
        view = DayPicker()
        await interaction.response.send_message("Which day?", view=view)

    @tree.command(name="bad-modal", description="Opens a modal Discord would refuse")
    async def bad_modal(interaction: discord.Interaction) -> None:
        modal = discord.ui.Modal(title="t" * 46, custom_id="too:long")
        modal.add_item(discord.ui.TextInput(label="Field", custom_id="field"))
        try:
            await interaction.response.send_modal(modal)
        except discord.HTTPException as exc:
            bot.errors.append(exc)

    @tree.command(name="picture", description="Answer with a picture, then replace it")
    async def picture(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        embed = discord.Embed(title="Chart").set_image(url="attachment://chart.png")
        first = discord.File(io.BytesIO(FIRST_PNG), filename="chart.png")
        PICTURES.append(await interaction.followup.send(embed=embed, file=first, wait=True))
        second = discord.File(io.BytesIO(SECOND_PNG), filename="chart.png")
        PICTURES.append(await interaction.edit_original_response(embed=embed, attachments=[second]))
        PICTURED.set()

    @tree.command(name="upload", description="Read an attached file")
    async def upload(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()  # downloaded from its URL, as from Discord's CDN
        await interaction.response.send_message(f"{file.filename}: {data.decode()}")

    tree.add_command(idea)
    tree.add_command(admin)
    bot.add_dynamic_items(VoteButton)


@dataclass
class Env:
    driver: Driver
    bot: SandboxBot
    world: World


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env() -> AsyncIterator[Env]:
    async with Driver(Sandbox()) as driver:
        world = build_world(driver)
        bot = SandboxBot()
        add_commands(bot, world.guild.id)
        await driver.start_bot(bot)
        await bot.tree.sync()
        await bot.tree.sync(guild=discord.Object(world.guild.id))
        yield Env(driver, bot, world)
        assert driver.sandbox.unhandled_routes == []


async def test_commands_registered_through_bulk_overwrite(env: Env) -> None:
    calls = [c.route for c in env.driver.sandbox.calls if c.method == "PUT"]
    assert "/applications/{application_id}/commands" in calls
    assert "/applications/{application_id}/guilds/{guild_id}/commands" in calls
    names = {c["name"] for c in env.driver.world.global_commands}
    assert names == {
        "idea",
        "admin",
        "vote-panel",
        "feedback",
        "fruit",
        "pick",
        "bad-modal",
        "picture",
        "upload",
    }


async def test_slash_reaches_handler_with_typed_options(env: Env) -> None:
    d, w = env.driver, env.world
    result = await d.slash(
        w.alice,
        "idea submit",
        channel=w.general,
        title="Dark mode",
        votes=3,
        urgent=True,
        owner=w.bob,
        where=w.general,
    )
    response = await result.response()
    assert response.type == 4
    assert response.message is not None
    assert response.message.content == "Dark mode|3|True|Bob|general"
    assert response.ephemeral and response.message.visible_to == w.alice.id
    assert response.message not in d.messages_in(w.general)  # others do not see it
    assert response.message in d.messages_in(w.general, visible_to=w.alice)


async def test_a_file_attached_to_an_option_can_be_downloaded(env: Env) -> None:
    d, w = env.driver, env.world
    result = await d.slash(
        w.alice, "upload", channel=w.general, file=("policy.md", b"# Rules\nBe kind.")
    )
    response = await result.response()
    assert response.message is not None
    assert response.message.content == "policy.md: # Rules\nBe kind."


async def test_slash_with_wrong_option_is_rejected_by_the_driver(env: Env) -> None:
    d, w = env.driver, env.world
    with pytest.raises(InvalidInteraction, match="expects integer"):
        await d.slash(w.alice, "idea submit", title="x", votes="three")
    with pytest.raises(InvalidInteraction, match="missing required"):
        await d.slash(w.alice, "idea submit", title="x")
    with pytest.raises(InvalidInteraction, match="no option"):
        await d.slash(w.alice, "idea submit", title="x", votes=1, colour="red")
    with pytest.raises(InvalidInteraction, match="no command"):
        await d.slash(w.alice, "nope")
    with pytest.raises(InvalidInteraction, match="not one of"):
        await d.slash(w.alice, "admin config set", key="other", value=1)


async def test_nested_group_defer_followup_and_edit(env: Env) -> None:
    d, w = env.driver, env.world
    result = await d.slash(w.alice, "admin config set", key="digest_day", value=2)
    response = await result.response()
    assert response.deferred and response.type == 5
    assert (await result.followup()).content == "digest_day = 2"
    edited = await result.edited(times=2)  # the followup filled the loading message, then the edit
    assert edited.content == "digest_day set to 2"
    assert not edited.loading


async def test_button_round_trip_with_dynamic_item(env: Env) -> None:
    d, w = env.driver, env.world
    panel = await (await d.slash(w.alice, "vote-panel", idea_id=42)).response()
    assert panel.message is not None
    assert panel.message.button("vote:42") is not None
    clicked = await (await d.click(w.bob, panel.message, "vote:42")).response()
    assert clicked.message is not None
    assert clicked.message.content == "voted for idea 42"
    assert clicked.message.visible_to == w.bob.id
    with pytest.raises(InvalidInteraction):
        await d.click(w.bob, panel.message, "vote:43")


async def test_modal_open_and_submit(env: Env) -> None:
    d, w = env.driver, env.world
    opened = await (await d.slash(w.alice, "feedback")).response()
    assert opened.type == 9 and opened.modal is not None
    assert opened.modal.custom_id == "feedback:form"
    assert opened.modal.title == "Share feedback"
    assert set(opened.modal.fields) == {"topic", "details"}
    with pytest.raises(InvalidInteraction, match="required"):
        await d.submit_modal(w.alice, opened, {"details": "no topic"})
    submitted = await d.submit_modal(
        w.alice, opened, {"topic": "Search", "details": "make it fuzzy"}
    )
    reply = await submitted.response()
    assert reply.message is not None
    assert reply.message.content == "thanks for 'Search': make it fuzzy"


async def test_modal_over_discord_limits_is_rejected(env: Env) -> None:
    d, w = env.driver, env.world
    d.mark_seen()  # earlier tests' callbacks are not what this test waits for
    await d.slash(w.alice, "bad-modal")
    call = await d.wait_for_call(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert call.status == 400
    await env.bot.until(lambda: bool(env.bot.errors))
    assert env.bot.errors[0].code == 50035
    assert "data.title" in env.bot.errors[0].text


async def test_autocomplete_returns_the_bots_choices(env: Env) -> None:
    d, w = env.driver, env.world
    choices = await d.autocomplete(w.alice, "fruit", "name", "ap")
    assert [c["value"] for c in choices] == ["apple", "apricot"]
    with pytest.raises(InvalidInteraction, match="no autocomplete"):
        await d.autocomplete(w.alice, "idea submit", "title", "x")


async def test_message_context_menu_sees_full_content_without_the_intent(env: Env) -> None:
    d, w, bot = env.driver, env.world, env.bot
    posted = await d.post(w.general, w.bob, "we need an export button")
    await bot.until(lambda: any(m.id == posted.id for m in bot.received))
    seen = next(m for m in bot.received if m.id == posted.id)
    assert seen.content == ""  # no MESSAGE_CONTENT intent
    result = await d.message_command(w.alice, "Capture as idea", posted)
    response = await result.response()
    assert response.message is not None
    assert response.message.content == "captured: we need an export button"
    assert "Alice used 'Capture as idea' on Bob's message" in d.transcript()


async def test_select_updates_the_message(env: Env) -> None:
    d, w = env.driver, env.world
    asked = await (await d.slash(w.alice, "pick")).response()
    assert asked.message is not None
    with pytest.raises(InvalidInteraction, match="not among"):
        await d.select(w.alice, asked.message, "digest:day", ["sunday"])
    chosen = await (await d.select(w.alice, asked.message, "digest:day", ["friday"])).response()
    assert chosen.type == 7
    assert chosen.message is asked.message
    assert asked.message.content == "Digest on friday"
    assert asked.message.components == []


async def test_files_in_followups_and_edits_show_inside_the_embed(env: Env) -> None:
    d, w = env.driver, env.world
    PICTURES.clear()
    PICTURED.clear()
    result = await d.slash(w.alice, "picture")
    assert (await result.response()).deferred
    message = await result.edited(times=2)  # the followup filled "thinking", then the edit
    # The edit listed only the new file: the first one is gone.
    assert [(a.filename, a.data) for a in message.attachments] == [("chart.png", SECOND_PNG)]
    shown = message.attachments[0].to_json(d.world.base_url, message.channel_id)
    assert (shown["width"], shown["height"]) == (40, 10)
    # Discord swaps attachment://chart.png for the uploaded file's URL, with its size.
    image = message.embeds[0]["image"]
    assert image["url"] == shown["url"] and image["proxy_url"] == shown["url"]
    assert (image["width"], image["height"]) == (40, 10)
    await asyncio.wait_for(PICTURED.wait(), 5)  # the handler gets the edit's answer later
    first, edited = PICTURES
    assert first.embeds[0].image.width == 30 and first.attachments[0].width == 30
    assert edited.embeds[0].image.url == shown["url"] and edited.attachments[0].height == 10
    assert first.attachments[0].id != edited.attachments[0].id
    async with aiohttp.ClientSession() as session:
        async with session.get(shown["url"]) as response:
            assert response.status == 200 and await response.read() == SECOND_PNG
        async with session.get(first.attachments[0].url) as response:
            assert response.status == 404  # removed by the edit
    assert "[file: chart.png]" in d.transcript()


async def test_an_embed_only_shows_an_image_file_of_the_same_name(env: Env) -> None:
    w = env.world
    general = env.bot.get_channel(w.general.id)
    assert isinstance(general, discord.TextChannel)
    embed = discord.Embed(title="Notes").set_image(url="attachment://chart.png")
    embed.set_thumbnail(url="attachment://notes.txt")
    sent = await general.send(
        embed=embed,
        files=[
            discord.File(io.BytesIO(FIRST_PNG), filename="other.png"),
            discord.File(io.BytesIO(b"plain text"), filename="notes.txt"),
        ],
    )
    # Neither resolves: no file is called chart.png, and a text file is not an image.
    assert sent.embeds[0].image.url == "attachment://chart.png"
    assert sent.embeds[0].thumbnail.url == "attachment://notes.txt"
    assert sent.attachments[0].width == 30 and sent.attachments[1].width is None
