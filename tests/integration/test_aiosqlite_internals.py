"""The two private names of aiosqlite the database relies on, checked against the real,
installed aiosqlite.

No public aiosqlite call runs a function on a connection's own thread: its public calls
hop to that thread once per statement, and a whole batch in one hop is what makes the
group commit fast. So ``bot/storage/database.py`` uses ``Connection._execute(fn, *args,
**kwargs)`` and the wrapped ``sqlite3`` connection ``Connection._conn``, and
pyproject.toml pins aiosqlite to the versions tested (0.20–0.22). An upgrade that removes
or changes either fails here first, saying so.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from bot.storage.database import _run_in_thread

WHY = (
    "bot/storage/database.py runs each write batch on aiosqlite's connection thread in one "
    "hop through this private name; adapt _run_in_thread/_writer_conn there and the "
    "aiosqlite pin in pyproject.toml"
)


async def test_aiosqlite_still_has_the_private_names_the_database_uses(tmp_path: Path) -> None:
    conn = await aiosqlite.connect(tmp_path / "probe.db", isolation_level=None)
    try:
        for name in ("_execute", "_conn"):
            assert hasattr(conn, name), (
                f"aiosqlite {aiosqlite.__version__} has no Connection.{name}: {WHY}"
            )
        assert isinstance(conn._conn, sqlite3.Connection), (
            f"aiosqlite {aiosqlite.__version__}: Connection._conn is "
            f"{type(conn._conn).__name__}, not sqlite3.Connection: {WHY}"
        )

        # A function with positional and keyword arguments runs on the thread where the
        # connection runs its statements (found through a public call) and returns.
        await conn.create_function("thread_id", 0, threading.get_ident)
        async with conn.execute("SELECT thread_id()") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        statements_thread = row[0]

        def batch(raw: sqlite3.Connection, first: int, *, second: int) -> tuple[int, int]:
            value = raw.execute("SELECT ? + ?", (first, second)).fetchone()[0]
            return threading.get_ident(), value

        thread, value = await _run_in_thread(conn, batch, conn._conn, 1, second=2)
        assert value == 3
        assert thread == statements_thread != threading.get_ident(), (
            f"aiosqlite {aiosqlite.__version__}: Connection._execute no longer runs the "
            f"function on the connection's thread: {WHY}"
        )

        # What the function raises reaches the caller (a failed commit must).
        def fails(raw: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("boom")

        with pytest.raises(sqlite3.OperationalError, match="boom"):
            await _run_in_thread(conn, fails, conn._conn)
    finally:
        await conn.close()
