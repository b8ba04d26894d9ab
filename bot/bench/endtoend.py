"""Benchmarks (d) and (f) of ``cocreate bench ideas``: through a sandbox in its own process.

(d) **CPU per captured idea.** Tagged messages arrive one after the other (each once the
    bot has answered the previous one) from a sandbox running in another process, so the
    CPU time of this process (every thread: the database's too) is the bot's alone.
    Cocreate is compared with a minimal discord.py bot with the same intents and cache that
    makes the same REST calls for the same messages: a card with two buttons in #ideas, a
    thread on it, and a reply to the source. Target: Cocreate / minimal ≤ 1.5.
    A third bot shows the floor of the rule that nothing is acknowledged before it is
    stored: the minimal bot that also commits each idea (one INSERT, one aiosqlite hop, in
    SQLite's WAL mode as Cocreate's database runs) before its first REST call.
(f) **Memory at scale.** Cocreate in a process of its own, connected to a sandbox process
    holding ``guilds`` guilds of ``members`` members (members are not chunked: a large guild
    arrives with the bot's own member only, as on Discord). RSS after every guild is ready,
    and after ``messages`` ordinary messages spread over the guilds. Target ≤ 150 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.bench import _common
from bot.bench._procs import Proc

CPU_RATIO_MAX = 1.5
RSS_MAX_MB = 150.0


@dataclass(frozen=True, slots=True)
class CaptureCpuFigures:
    cocreate_ms: float  # CPU per captured idea
    minimal_ms: float
    ideas: int
    runs: int
    durable_ms: float = float("nan")  # the minimal bot that also commits each idea

    @property
    def ratio(self) -> float:
        return self.cocreate_ms / self.minimal_ms

    @property
    def durable_ratio(self) -> float:
        return self.durable_ms / self.minimal_ms


def _minimal_bot(
    general_id: int, ideas_id: int, *, store: Path | None = None, **options: Any
) -> Any:
    """A plain discord.py bot that does, per tagged message, the REST calls Cocreate does;
    with ``store``, it first commits the idea to that SQLite file (see the module)."""
    import discord

    from bot.storage.bench import RawWriter

    class MinimalBot(discord.Client):
        number = 0
        db: RawWriter | None = None

        async def setup_hook(self) -> None:
            if store is not None:
                self.db = await RawWriter(store).open()  # WAL, synchronous = NORMAL
                await self.db.create_ideas()

        async def close(self) -> None:
            await super().close()
            if self.db is not None:
                await self.db.close()

        async def on_message(self, message: discord.Message) -> None:
            if (
                message.channel.id != general_id
                or message.author.bot
                or not message.content.startswith("[idea]")
            ):
                return
            title = message.content[len("[idea]") :].strip()
            if self.db is not None:
                guild_id = message.guild.id if message.guild else None
                await self.db.store_idea(guild_id, message.author.id, message.id, title)
            self.number += 1
            number = self.number
            embed = discord.Embed(title=f"#{number} · {title}", description=title, colour=0x5865F2)
            embed.add_field(name="Author", value=message.author.mention)
            view = discord.ui.View(timeout=None)
            view.add_item(discord.ui.Button(label="👍 0", custom_id=f"m:up:{number}"))
            view.add_item(discord.ui.Button(label="Follow", custom_id=f"m:follow:{number}"))
            channel = self.get_channel(ideas_id)
            assert isinstance(channel, discord.TextChannel)
            card = await channel.send(embed=embed, view=view)
            await card.create_thread(name=f"#{number} {title}"[:100])
            await message.reply(
                f"💡 Captured as idea **#{number}**. Vote and discuss: {card.jump_url}",
                mention_author=False,
            )

    return MinimalBot(**options)


async def measure_capture_cpu(
    *,
    ideas: int,
    runs: int = _common.RUNS,
    workdir: Path | None = None,
    bots: tuple[str, ...] = ("cocreate", "minimal", "durable"),
) -> CaptureCpuFigures:
    """Benchmark (d). See the module docstring. ``bots`` narrows the run (for profiling)."""
    import discord

    from bot.app import create_bot
    from bot.bench.ideas import IdeaText
    from bot.client import build_intents, point_discord_at

    text = IdeaText(21)
    sandbox = await Proc.start("sandbox")
    try:
        urls = await sandbox.read()
        # A guild each: Cocreate would otherwise catch up (capture) at its next start what
        # the minimal bot's members posted in its watched channel while it was away.
        per_run = ideas * (runs + 1)
        guilds = await sandbox.ask("populate", guilds=3, members=per_run + 5, authors=per_run)
        home = {"cocreate": guilds[0], "minimal": guilds[1], "durable": guilds[2]}
        guild = home["cocreate"]
        authors = {name: list(g["authors"]) for name, g in home.items()}
        with _common.workdir(workdir) as folder:
            settings = _common.bench_settings(folder / "capture.db").replace_section(
                "discord",
                api_base=urls["api_base"],
                gateway_url=urls["gateway_url"],
                guild_ready_timeout=0.1,
                channel_message_limit=0,  # the sandbox's limits are off here
            )
            point_discord_at(urls["api_base"], urls["gateway_url"])
            common: dict[str, Any] = {
                "intents": build_intents(settings),
                "max_messages": settings.discord.max_messages or None,
                "chunk_guilds_at_startup": False,
            }
            configured = False
            timings: dict[str, list[float]] = {name: [] for name in home}
            for run in range(runs + 1):  # run 0 warms up and is not counted
                order = bots if run % 2 else tuple(reversed(bots))
                for name in order:
                    if name == "cocreate":
                        bot: Any = create_bot(settings)
                    else:
                        mine = home[name]
                        store = folder / "durable.db" if name == "durable" else None
                        bot = _minimal_bot(mine["general"], mine["ideas"], store=store, **common)
                    task = asyncio.create_task(bot.start(urls["token"]), name=f"bench-{name}")
                    try:
                        await asyncio.wait_for(bot.wait_until_ready(), 60)
                        if name == "cocreate" and not configured:
                            await bot.services.guild_settings.set_values(
                                guild["id"],
                                {
                                    "watched_channels": [guild["general"]],
                                    "ideas_channel": guild["ideas"],
                                },
                                authors["cocreate"][-1],
                            )
                            configured = True
                        await asyncio.sleep(0.5)  # catch-up and start-up work settle
                        batch = [authors[name].pop(0) for _ in range(ideas)]
                        titles = [text.title() for _ in batch]
                        started = time.process_time()
                        await sandbox.ask(
                            "ideas", channel=home[name]["general"], authors=batch, titles=titles
                        )
                        cpu = time.process_time() - started
                        if run:
                            timings[name].append(cpu / ideas * 1000)
                    finally:
                        await bot.close()
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(task, 30)
                        if isinstance(bot, discord.Client) and name != "cocreate":
                            del bot
    finally:
        await sandbox.close()

    def median(name: str) -> float:
        return statistics.median(timings[name] or [float("nan")])

    return CaptureCpuFigures(
        cocreate_ms=median("cocreate"),
        minimal_ms=median("minimal"),
        ideas=ideas,
        runs=runs,
        durable_ms=median("durable"),
    )


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    guilds: int
    members: int
    messages: int
    ready_mb: float
    after_mb: float
    ready_s: float
    cached_members: int
    cached_messages: int
    sandbox_mb: float

    @property
    def worst_mb(self) -> float:
        return max(self.ready_mb, self.after_mb)


async def measure_memory(
    *, guilds: int, members: int, messages: int, workdir: Path | None = None
) -> MemoryFigures:
    """Benchmark (f). See the module docstring."""
    sandbox = await Proc.start("sandbox")
    bot: Proc | None = None
    try:
        urls = await sandbox.read()
        await sandbox.ask("populate", guilds=guilds, members=members, authors=0)
        sandbox_mb = (await sandbox.ask("rss"))["rss_mb"]
        with _common.workdir(workdir) as folder:
            bot = await Proc.start(
                "bot",
                urls["api_base"],
                urls["gateway_url"],
                urls["token"],
                str(folder / "memory.db"),
            )
            await bot.read()
            ready = await bot.ask("ready", guilds=guilds)
            at_ready = await bot.ask("rss")
            await sandbox.ask("chatter", count=messages)
            await bot.ask("wait_messages", count=messages)
            after = await bot.ask("rss")
            await bot.close()
    finally:
        if bot is not None:
            await bot.close()
        await sandbox.close()
    return MemoryFigures(
        guilds=guilds,
        members=members,
        messages=messages,
        ready_mb=at_ready["rss_mb"],
        after_mb=after["rss_mb"],
        ready_s=ready["s"],
        cached_members=after["cached_members"],
        cached_messages=after["cached_messages"],
        sandbox_mb=sandbox_mb,
    )
