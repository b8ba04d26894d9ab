"""Cocreate as operators run it: ``python -m bot …`` in a subprocess, against a sandbox
that runs in the test's own event loop, its output read line by line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from bot.app import create_services
from bot.demo.community import Community, sandbox_settings
from bot.sandbox import Driver
from bot.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def bot_environment(
    api_base: str, gateway_url: str, db_path: Path, *, token: str = "sandbox-token", **settings: str
) -> dict[str, str]:
    """The environment of a bot process: this one's, without any Cocreate setting or token
    from outside, pointed at the sandbox; ``settings`` are ``SECTION_KEY=value`` extras."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("COCREATE_") and name != "DISCORD_TOKEN"
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "DISCORD_TOKEN": token,
            "COCREATE_DISCORD_API_BASE": api_base,
            "COCREATE_DISCORD_GATEWAY_URL": gateway_url,
            "COCREATE_DISCORD_GUILD_READY_TIMEOUT": "0.1",
            "COCREATE_DATABASE_PATH": str(db_path),
            "COCREATE_DATABASE_BACKUP_BEFORE_MIGRATE": "false",
            "COCREATE_LOGGING_LEVEL": "INFO",
        }
    )
    env.update({f"COCREATE_{key.upper()}": value for key, value in settings.items()})
    return env


async def prepare_database(driver: Driver, community: Community, db_path: Path) -> None:
    """The database after a moderator's /setup: migrated, the community's channels chosen."""
    settings = sandbox_settings(load_settings(environ={}), driver, db_path)
    services = create_services(settings)
    await services.start()
    try:
        await services.guild_settings.set_values(
            community.guild.id, community.configured, community.owner.id
        )
    finally:
        await services.close()


class BotProcess:
    """One ``python -m bot`` process; every line it prints (stdout and stderr) is kept."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._news = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="bot-process-reader")

    @classmethod
    async def start(cls, env: dict[str, str], *args: str, cwd: Path) -> BotProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._news.set()
        self._news.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        return sum(1 for line in self.lines if re.search(pattern, line))

    async def wait_for_line(self, pattern: str, *, count: int = 1, timeout: float = 30.0) -> str:  # noqa: ASYNC109
        """The ``count``-th line matching the regex ``pattern`` (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines if re.search(pattern, line)]
            if len(found) >= count:
                return found[count - 1]
            if self._reader.done():
                raise AssertionError(f"the process ended without {pattern!r}:\n{self.output}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.output}")
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), remaining)
            except TimeoutError:
                continue

    def send(self, sig: signal.Signals) -> float:
        """Send ``sig``; returns the monotonic time it was sent."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        return sent

    async def exit_code(self, timeout: float) -> int:  # noqa: ASYNC109
        """The exit code, once the process ended and its output is read (bounded wait)."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
            await asyncio.wait_for(self._reader, timeout)
        except TimeoutError:
            raise AssertionError(f"still running after {timeout}s:\n{self.output}") from None
        return code

    async def kill(self) -> None:
        """Clean-up: end the process if it still runs."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if not self._reader.done():
            await self._reader


class Operator:
    """Starts ``python -m bot run`` on one database, kills it, starts it again."""

    def __init__(self, driver: Driver, db_path: Path) -> None:
        self.driver = driver
        self.db_path = db_path
        self.process: BotProcess | None = None

    async def start(self, *, faults: str = "") -> None:
        """Start the bot (``faults``: the points where it kills itself); return once it
        is connected."""
        sandbox = self.driver.sandbox
        extra = {"faults": faults} if faults else {}
        env = bot_environment(sandbox.api_base, sandbox.gateway_url, self.db_path, **extra)
        self.process = await BotProcess.start(env, "run", cwd=self.db_path.parent)
        await self.process.wait_for_line("Connected as")

    async def wait_exit(self) -> int:
        assert self.process is not None
        return await self.process.exit_code(15)

    async def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process is not None:
            await self.process.kill()

    @property
    def output(self) -> str:
        return self.process.output if self.process else ""

    def query(self, sql: str) -> list[Any]:
        """Read the bot's database directly (WAL: safe while it runs or after a crash)."""
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


def read_db(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows from the database file the process left (after it ended)."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wal_left(db_path: Path) -> bool:
    """Whether a write-ahead log is left beside the database (SQLite removes it when the
    last connection closes cleanly, after checkpointing it into the file)."""
    wal = db_path.with_name(db_path.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0
