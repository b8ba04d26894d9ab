"""Numbered SQL migrations tracked in ``PRAGMA user_version``, each applied atomically.

``executescript`` would commit any open transaction first, so a failing migration could
leave half its statements behind. Instead each file is split into statements (with
``sqlite3.complete_statement``, which understands triggers) and run inside one explicit
transaction together with the ``user_version`` bump: it all lands, or none of it does.
Before touching a database that already has data, a copy is taken with SQLite's backup API.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration failed (and was rolled back) or the database is newer than the code."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    before: int
    after: int
    applied: tuple[str, ...]
    backup: Path | None


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Read ``NNNN_name.sql`` files in order; numbering must start at 1 with no gaps."""
    if folder is None:
        entries = [
            (entry.name, entry.read_text(encoding="utf-8"))
            for entry in resources.files("bot.storage").joinpath("migrations").iterdir()
            if entry.name.endswith(".sql")
        ]
    else:
        entries = [(p.name, p.read_text(encoding="utf-8")) for p in folder.glob("*.sql")]
    migrations = []
    for name, text in entries:
        match = _NAME.match(name)
        if not match:
            raise MigrationError(f"migration file {name!r} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), text))
    migrations.sort(key=lambda m: m.version)
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {expected:04d} is missing (found {migration.version:04d})"
            )
    return migrations


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            stmt = buffer.strip()
            if stmt and stmt != ";":
                statements.append(stmt)
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise MigrationError(f"incomplete SQL statement at the end: {buffer.strip()[:80]!r}")
    return statements


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None


def backup_file(conn: sqlite3.Connection, dest: Path) -> Path:
    """Copy the open database to ``dest`` with SQLite's online backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(dest)
    try:
        conn.backup(target)
    finally:
        target.close()
    return dest


def apply_migrations(
    conn: sqlite3.Connection,
    migrations: list[Migration],
    *,
    backup_dir: Path | None = None,
    db_name: str = "cocreate",
) -> MigrationReport:
    """Bring the database up to the newest migration; runs on the writer connection.

    The connection must be in autocommit mode (``isolation_level=None``).
    """
    latest = migrations[-1].version if migrations else 0
    before = user_version(conn)
    if before > latest:
        raise MigrationError(
            f"the database is at schema version {before}, newer than this Cocreate "
            f"({latest}); upgrade Cocreate or restore a backup"
        )
    pending = [m for m in migrations if m.version > before]
    backup: Path | None = None
    if pending and backup_dir is not None and _has_tables(conn):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = backup_file(conn, backup_dir / f"{db_name}-v{before}-{stamp}.db")
        log.info("Backed up the database to %s before migrating", backup)
    applied = []
    for migration in pending:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            # user_version lives in the database header, so it is part of this transaction.
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
            conn.execute("COMMIT")
        except BaseException as exc:
            # Whatever went wrong (SQL, an unsplittable file, an interrupt), never leave the
            # transaction open: it would hold the write lock and half a migration.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | MigrationError):
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed and was "
                    f"rolled back: {exc}"
                ) from exc
            raise
        applied.append(f"{migration.version:04d}_{migration.name}")
        log.info("Applied migration %04d_%s", migration.version, migration.name)
    return MigrationReport(before, user_version(conn), tuple(applied), backup)
