"""Helper processes for benchmarks that must measure one process alone.

``python -m bot.bench._procs sandbox``: a sandbox (rate limits off) that builds worlds and
acts as their members on command. ``python -m bot.bench._procs bot``: Cocreate connected to
such a sandbox, reporting its memory. Each reads one JSON command per line on stdin and
answers one JSON line on stdout; :class:`Proc` drives them from the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

_ANSWER = "@@ "  # prefix of answer lines: anything else on stdout is ignored


class Proc:
    """A helper process and its command channel."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, role: str, *args: str) -> Proc:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.bench._procs",
            role,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=64 * 1024 * 1024,
        )
        return cls(process)

    async def read(self, timeout: float = 600.0) -> Any:  # noqa: ASYNC109
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"helper process exited ({self.process.returncode})")
            text = line.decode()
            if text.startswith(_ANSWER):
                answer = json.loads(text[len(_ANSWER) :])
                if isinstance(answer, dict) and "error" in answer:
                    raise RuntimeError(f"helper process failed: {answer['error']}")
                return answer

    async def ask(self, op: str, timeout: float = 600.0, **args: Any) -> Any:  # noqa: ASYNC109
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.process.stdin.drain()
        return await self.read(timeout)

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.ask("stop", timeout=30)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _answer(value: Any) -> None:
    sys.stdout.write(_ANSWER + json.dumps(value) + "\n")
    sys.stdout.flush()


async def _commands() -> Any:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield json.loads(line)


def rss_mb() -> float:
    """This process's resident memory now, in MB (peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


# -- the sandbox process ------------------------------------------------------------------------
class _SandboxServer:
    def __init__(self) -> None:
        from bot.sandbox import RateLimits, Sandbox

        self.sandbox = Sandbox(rate_limits=RateLimits(enabled=False))
        self.world = self.sandbox.world
        self.rng = random.Random(5)
        #: guild id → (general channel, ideas channel, member users in order)
        self.guilds: dict[int, tuple[Any, Any, list[Any]]] = {}

    def populate(self, guilds: int, members: int, authors: int) -> Any:
        """``guilds`` guilds of ``members`` members each, built directly (no events: the
        bot is not connected yet), each with #general and #ideas."""
        from bot.sandbox.state import ChannelType, Member

        world = self.world
        out = []
        for g in range(guilds):
            guild = world.add_guild(f"Guild {g}")
            general = world.add_channel(guild, "general", ChannelType.TEXT)
            ideas = world.add_channel(guild, "ideas", ChannelType.TEXT)
            users = []
            for m in range(members):
                user = world.add_user(f"m{g}-{m}")
                guild.members[user.id] = Member(user, guild.id)
                users.append(user)
            self.guilds[guild.id] = (general, ideas, users)
            out.append(
                {
                    "id": guild.id,
                    "general": general.id,
                    "ideas": ideas.id,
                    "authors": [u.id for u in users[:authors]],
                }
            )
        return out

    async def chatter(self, count: int) -> Any:
        """``count`` ordinary messages, round robin over the guilds' #general."""
        world = self.world
        entries = list(self.guilds.values())
        for n in range(count):
            general, _ideas, users = entries[n % len(entries)]
            author = users[self.rng.randrange(len(users))]
            world.create_message(
                general,
                author,
                {"content": f"just chatting, message {n} of the day"},
                check_permissions=False,
            )
            if n % 200 == 199:
                await asyncio.sleep(0)  # let the gateway writer send what is queued
        return {"posted": count}

    async def ideas(self, channel: int, authors: list[int], titles: list[str]) -> Any:
        """One tagged message per author, each after the bot answered the previous one."""
        world = self.world
        where = world.channels[channel]
        bot_id = world.bot.id
        replied: set[int] = set()
        for author, title in zip(authors, titles, strict=True):
            content = {"content": f"[idea] {title}"}
            source_id = world.create_message(where, world.users[author], content).id

            def answered(source_id: int = source_id) -> bool:
                for message in reversed(list(world.messages.values())[-8:]):
                    if message.author.id == bot_id and message.reference_id is not None:
                        replied.add(message.reference_id)
                return source_id in replied

            await world.wait_until(answered, 30, lambda: "no reply to an idea")
        return {"ideas": len(authors)}


async def _serve_sandbox() -> None:
    server = _SandboxServer()
    await server.sandbox.start()
    _answer(
        {
            "api_base": server.sandbox.api_base,
            "gateway_url": server.sandbox.gateway_url,
            "token": server.sandbox.token,
        }
    )
    async for command in _commands():
        op = command.pop("op")
        try:
            if op == "stop":
                _answer({"ok": True})
                break
            if op == "populate":
                _answer(server.populate(**command))
            elif op == "chatter":
                _answer(await server.chatter(**command))
            elif op == "ideas":
                _answer(await server.ideas(**command))
            elif op == "rss":
                _answer({"rss_mb": rss_mb()})
            else:
                _answer({"error": f"unknown op {op}"})
        except Exception as exc:
            _answer({"error": repr(exc)})
    await server.sandbox.stop()


# -- the bot process ----------------------------------------------------------------------------
async def _serve_bot(api_base: str, gateway_url: str, token: str, db_path: str) -> None:
    import logging

    import discord

    from bot.app import create_bot
    from bot.bench._common import bench_settings

    logging.disable(logging.INFO)
    settings = bench_settings(Path(db_path)).replace_section(
        "discord",
        api_base=api_base,
        gateway_url=gateway_url,
        guild_ready_timeout=0.5,
        channel_message_limit=0,
    )
    bot = create_bot(settings)
    seen = [0]
    wanted = [0]
    reached = asyncio.Event()

    def count(message: discord.Message) -> None:
        seen[0] += 1
        if seen[0] >= wanted[0]:
            reached.set()
        return None

    bot.add_message_route(count)
    runner = asyncio.create_task(bot.start(token), name="bench-bot")
    _answer({"started": True})
    async for command in _commands():
        op = command.pop("op")
        try:
            if op == "stop":
                await bot.close()
                with contextlib.suppress(Exception):
                    await runner
                _answer({"ok": True})
                break
            if op == "ready":
                started = time.monotonic()
                await asyncio.wait_for(bot.wait_until_ready(), 600)
                while len(bot.guilds) < command["guilds"]:  # noqa: ASYNC110 (no event for it)
                    await asyncio.sleep(0.1)
                _answer({"guilds": len(bot.guilds), "s": time.monotonic() - started})
            elif op == "wait_messages":
                wanted[0] = command["count"]
                reached.clear()
                if seen[0] < wanted[0]:
                    waiter = asyncio.ensure_future(reached.wait())
                    await asyncio.wait({waiter, runner}, return_when=asyncio.FIRST_COMPLETED)
                    if not waiter.done():
                        waiter.cancel()
                        raise RuntimeError(f"the bot stopped: {runner.exception()!r}")
                _answer({"seen": seen[0]})
            elif op == "rss":
                import gc

                gc.collect()
                members = sum(len(g.members) for g in bot.guilds)
                _answer(
                    {
                        "rss_mb": rss_mb(),
                        "cached_members": members,
                        "cached_messages": len(bot.cached_messages),
                        "cached_users": len(bot.users),
                    }
                )
            else:
                _answer({"error": f"unknown op {op}"})
        except Exception as exc:
            _answer({"error": repr(exc)})


def main(argv: list[str]) -> None:
    from bot.runtime import run_async

    role = argv[0]
    if role == "sandbox":
        run_async(_serve_sandbox())
    elif role == "bot":
        run_async(_serve_bot(*argv[1:5]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
