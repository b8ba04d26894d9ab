"""A database file Cocreate cannot use — not SQLite, or locked by another process — stops
every command that opens it with one line naming the file and what to do, exit code 2,
and the file exactly as it was."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.__main__ import main

REPO = Path(__file__).resolve().parents[2]
# Not SQLite: what a truncated download or a file copied over by mistake looks like.
JUNK = b"PK\x03\x04 not a database " + bytes(range(256)) * 8

COMMANDS = {
    "run": ["run"],
    "migrate": ["migrate"],
    "backup": ["backup", "copy.db"],
    "forget": ["forget", "--guild", "1", "--user", "2"],
    "purge-guild": ["purge-guild", "1"],
}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """In ``tmp_path``, with no Cocreate setting from outside, a token (``run`` must fail
    on the database before any network) and the logging main() configures undone after.
    Yields the database path the commands use."""
    for name in list(os.environ):
        if name.startswith("COCREATE_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    db_path = tmp_path / "cocreate.db"
    monkeypatch.setenv("COCREATE_DATABASE_PATH", str(db_path))
    monkeypatch.setenv("COCREATE_DATABASE_BUSY_TIMEOUT_MS", "50")
    monkeypatch.setenv("DISCORD_TOKEN", "not-used")
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    named = {n: logging.getLogger(n).level for n in ("discord", "discord.http", "apscheduler")}
    try:
        yield db_path
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in named.items():
            logging.getLogger(name).setLevel(level)
        logging.disable(logging.NOTSET)  # the demo silences INFO


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cocreate: ")
    return lines[0]


@contextlib.contextmanager
def _held_by_another_process(db_path: Path) -> Iterator[None]:
    """An exclusive lock, as a second Cocreate in the middle of a long write or an
    ``sqlite3`` shell in exclusive mode holds it."""
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.close()


def _some_database(db_path: Path) -> bytes:
    """An SQLite database in WAL mode with a row in it; returns its bytes."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES (1)")
    finally:
        conn.close()
    return db_path.read_bytes()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_that_is_not_sqlite_is_named_kept_and_exits_2(
    cli: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.write_bytes(JUNK)
    assert main(COMMANDS[command]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(cli) in line
    assert "not a usable SQLite database" in line
    assert str(cli.parent / "backups") in line  # where to restore from
    assert cli.read_bytes() == JUNK
    assert [p.name for p in cli.parent.iterdir()] == ["cocreate.db"]  # no log, no copy


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_locked_by_another_process_is_named_kept_and_exits_2(
    cli: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _some_database(cli)
    with _held_by_another_process(cli):
        assert main(COMMANDS[command]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(cli) in line
    assert "locked by another process" in line
    assert "another Cocreate is probably running" in line
    assert cli.read_bytes() == before
    assert not (cli.parent / "copy.db").exists()


def test_demo_reports_its_database_the_same_way(
    cli: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo's database lives in a fresh temporary folder; here that folder already
    # holds a file that is not SQLite where the demo puts its database.
    folder = cli.parent / "demo-tmp"
    folder.mkdir()
    demo_db = folder / "demo.db"
    demo_db.write_bytes(JUNK)
    monkeypatch.setattr(
        "tempfile.TemporaryDirectory", lambda **_: contextlib.nullcontext(str(folder))
    )
    assert main(["demo"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(demo_db) in line
    assert "not a usable SQLite database" in line
    assert demo_db.read_bytes() == JUNK


def _cocreate(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot`` as an operator runs it (nothing from this process's settings)."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("COCREATE_") and name != "DISCORD_TOKEN"
    }
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_process_migrate_on_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    db_path = tmp_path / "cocreate.db"
    db_path.write_bytes(JUNK)
    done = _cocreate(["migrate"], tmp_path, COCREATE_DATABASE_PATH=str(db_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    line = _one_line(done.stderr)
    assert str(db_path) in line and "not a usable SQLite database" in line
    assert db_path.read_bytes() == JUNK


def test_process_run_on_a_locked_file(tmp_path: Path) -> None:
    db_path = tmp_path / "cocreate.db"
    before = _some_database(db_path)
    with _held_by_another_process(db_path):
        done = _cocreate(
            ["run"],
            tmp_path,
            COCREATE_DATABASE_PATH=str(db_path),
            COCREATE_DATABASE_BUSY_TIMEOUT_MS="100",
            # Nothing listens there: the database must stop the start before any network.
            COCREATE_DISCORD_API_BASE="http://127.0.0.1:9/api/v10",
            DISCORD_TOKEN="not-used",
        )
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert str(db_path) in line and "another Cocreate is probably running" in line
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("command", ["forget", "purge-guild"])
def test_a_write_lock_held_elsewhere_is_reported_without_a_traceback(
    cli: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    holder = sqlite3.connect(cli, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # readers go on; this command's write cannot
        assert main(COMMANDS[command]) == 2
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("cocreate: ") and str(cli) in last
    assert "another Cocreate is probably running" in last
