"""Run ``python -m bot run`` as operators do — a separate process against the sandbox —
to kill it at the worst moment (``COCREATE_FAULTS`` or SIGKILL) and start it again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from bot.sandbox import Driver

REPO = Path(__file__).resolve().parents[2]


class BotProcess:
    """One ``cocreate run`` process at a time on one database, pointed at ``driver``."""

    def __init__(self, driver: Driver, db_path: Path) -> None:
        self.driver = driver
        self.db_path = db_path
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._new_line = asyncio.Event()

    def environment(self, faults: str = "") -> dict[str, str]:
        sandbox = self.driver.sandbox
        env = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
        env.update(
            DISCORD_TOKEN=sandbox.token,
            COCREATE_DISCORD_API_BASE=sandbox.api_base,
            COCREATE_DISCORD_GATEWAY_URL=sandbox.gateway_url,
            COCREATE_DISCORD_GUILD_READY_TIMEOUT="0.1",
            COCREATE_DATABASE_PATH=str(self.db_path),
            COCREATE_DATABASE_BACKUP_BEFORE_MIGRATE="false",
            COCREATE_LOGGING_LEVEL="INFO",
            COCREATE_FAULTS=faults,
            PYTHONPATH=str(REPO),
        )
        return env

    async def start(self, *, faults: str = "", ready_timeout: float = 20.0) -> None:
        """Start the process; return once it is connected (it logged "Connected as")."""
        assert self.proc is None or self.proc.returncode is not None, "already running"
        self.lines = []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.environment(faults),
            cwd=str(self.db_path.parent),
        )
        self._reader = asyncio.create_task(self._read(self.proc))
        await self.wait_for_log("Connected as", ready_timeout)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._new_line.set()
        self._new_line.set()

    async def wait_for_log(self, text: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """The first output line containing ``text`` (AssertionError on exit or timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for line in self.lines:
                if text in line:
                    return line
            if self.proc is not None and self.proc.returncode is not None and self._reader_done:
                raise AssertionError(
                    f"exited ({self.proc.returncode}) before {text!r}:\n" + self.output
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} within {timeout}s:\n" + self.output)
            self._new_line.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_line.wait(), remaining)

    @property
    def _reader_done(self) -> bool:
        return self._reader is not None and self._reader.done()

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    async def wait_exit(self, timeout: float = 15.0) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"still running after {timeout}s:\n{self.output}") from None
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.wait_exit()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read the bot's database directly (WAL: safe while it runs or after a crash)."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, params).fetchall()
