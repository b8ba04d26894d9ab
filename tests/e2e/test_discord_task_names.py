"""The names discord.py gives the tasks that run handlers, observed on the real discord.py.

``CocreateBot.close`` finds the handlers still running by their task names
(``bot.client._HANDLER_TASK_PREFIXES``): names discord.py chooses internally, not part of
its API. pyproject.toml pins discord.py to the minor version checked here; an upgrade that
renames a task fails this test instead of silently cutting handlers short at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from re import Match

import discord
import pytest
import pytest_asyncio
from conftest_sandbox_helpers import SandboxBot, World, build_world

from bot.client import _HANDLER_TASK_PREFIXES
from bot.sandbox import Driver, Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

#: What kind of handler ran → the name of the task it ran in.
SEEN: dict[str, str] = {}


def _seen(kind: str) -> None:
    task = asyncio.current_task()
    assert task is not None
    SEEN[kind] = task.get_name()


class Tally(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"tally:(\d+)"):
    def __init__(self, count: int) -> None:
        super().__init__(discord.ui.Button(label="Tally", custom_id=f"tally:{count}"))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[discord.ui.View],
        match: Match[str],
    ) -> Tally:
        return cls(int(match[1]))

    async def callback(self, interaction: discord.Interaction) -> None:
        _seen("dynamic item")
        await interaction.response.send_message("counted", ephemeral=True)


class Ask(discord.ui.Modal, title="Ask"):
    question: discord.ui.TextInput[Ask] = discord.ui.TextInput(label="Q", custom_id="question")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        _seen("modal")
        await interaction.response.send_message("asked", ephemeral=True)


class Panel(discord.ui.View):
    @discord.ui.button(label="Press", custom_id="panel:press")
    async def press(
        self, interaction: discord.Interaction, button: discord.ui.Button[Panel]
    ) -> None:
        _seen("view item")
        await interaction.response.send_message("pressed", ephemeral=True)


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

        @bot.tree.command(name="panel", description="A panel with a button and a tally")
        async def panel(interaction: discord.Interaction) -> None:
            _seen("slash command")
            view = Panel(timeout=None)
            view.add_item(Tally(1))
            await interaction.response.send_message("panel", view=view)

        @bot.tree.command(name="ask", description="Open a modal")
        async def ask(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Ask(custom_id="ask:form"))

        async def on_message(message: discord.Message) -> None:
            _seen("event listener")

        bot.add_listener(on_message)
        bot.add_dynamic_items(Tally)
        await driver.start_bot(bot)
        await bot.tree.sync()
        yield Env(driver, bot, world)
        assert driver.sandbox.unhandled_routes == []


async def test_each_handler_task_prefix_is_the_one_discord_py_uses(env: Env) -> None:
    d, w = env.driver, env.world
    SEEN.clear()
    await d.post(w.general, w.alice, "hello")
    shown = await (await d.slash(w.alice, "panel", channel=w.general)).response()
    assert shown.message is not None
    await (await d.click(w.bob, shown.message, "panel:press")).response()
    await (await d.click(w.bob, shown.message, "tally:1")).response()
    opened = await (await d.slash(w.alice, "ask", channel=w.general)).response()
    assert opened.modal is not None
    await (await d.submit_modal(w.alice, opened, {"question": "why?"})).response()
    await env.bot.until(lambda: "event listener" in SEEN)

    expected = {
        "event listener": "discord.py: ",
        "slash command": "CommandTree-invoker",
        "view item": "discord-ui-view-dispatch-",
        "modal": "discord-ui-modal-dispatch-",
        "dynamic item": "discord-ui-dynamic-item-",
    }
    version = discord.__version__
    for kind, prefix in expected.items():
        assert kind in SEEN, f"no {kind} ran"
        assert SEEN[kind].startswith(prefix), (
            f"discord.py {version} runs a {kind} in a task named {SEEN[kind]!r}, not "
            f"{prefix!r}…: update _HANDLER_TASK_PREFIXES in bot/client.py (close() waits "
            "for running handlers by these names) and the discord.py pin in pyproject.toml"
        )
    # Every discord.py prefix close() relies on is one of those observed, and nothing else.
    ours = {p for p in _HANDLER_TASK_PREFIXES if p.startswith("cocreate:")}
    assert set(_HANDLER_TASK_PREFIXES) - ours == set(expected.values())
