"""Storage on real SQLite files: migrations, the group-commit writer, backup and purge."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_services
from bot.services.guilds import GuildService
from bot.settings import Settings
from bot.storage import common
from bot.storage.database import Database, DatabaseClosed
from bot.storage.migrations import (
    MigrationError,
    apply_migrations,
    load_migrations,
    split_statements,
    user_version,
)

LATEST = len(load_migrations())


@contextmanager
def connect(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A separate, plain sqlite3 connection in autocommit mode."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def snapshot(conn: sqlite3.Connection) -> dict[str, Any]:
    """Everything that must survive a failed migration unchanged."""
    schema = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    tables = [r[1] for r in schema if r[0] == "table" and not r[1].startswith("sqlite_")]
    rows = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    return {
        "user_version": user_version(conn),
        "schema_version": conn.execute("PRAGMA schema_version").fetchone()[0],
        "schema": schema,
        "rows": rows,
    }


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


GOOD_0001 = """
-- first migration
CREATE TABLE notes (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, body TEXT NOT NULL);
INSERT INTO notes (guild_id, body) VALUES (1, 'seeded; with a semicolon');
"""
GOOD_0002 = """
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
ALTER TABLE notes ADD COLUMN tag_id INTEGER REFERENCES tags (id);
"""
FAILING_0002 = """
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO no_such_table VALUES (1);
UPDATE notes SET body = 'changed';
"""


def migrated_to_first(tmp_path: Path, second: str) -> tuple[Path, Path]:
    """A database file at version 1 of a two-migration folder; returns (db, folder)."""
    folder = write_migrations(
        tmp_path / "migrations", {"0001_first.sql": GOOD_0001, "0002_second.sql": second}
    )
    path = tmp_path / "test.db"
    with connect(path) as conn:
        apply_migrations(conn, load_migrations(folder)[:1])
        conn.execute("INSERT INTO notes (guild_id, body) VALUES (2, 'user data')")
        assert user_version(conn) == 1
    return path, folder


# -- migrations -----------------------------------------------------------------------------
def test_migrate_from_zero_reaches_latest_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    assert LATEST >= 1
    with connect(tmp_path / "fresh.db") as conn:
        assert user_version(conn) == 0
        report = apply_migrations(conn, load_migrations(), backup_dir=tmp_path / "backups")
        assert (report.before, report.after) == (0, LATEST)
        assert len(report.applied) == LATEST
        assert report.applied[0] == "0001_foundation"
        assert user_version(conn) == LATEST
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "guild_settings", "guilds", "mod_actions", "timers"} <= tables
        before = snapshot(conn)

        again = apply_migrations(conn, load_migrations(), backup_dir=tmp_path / "backups")
        assert again.applied == ()
        assert (again.before, again.after) == (LATEST, LATEST)
        assert again.backup is None
        assert snapshot(conn) == before
    assert not (tmp_path / "backups").exists()  # a brand-new database needs no backup


def test_migration_4_keeps_outbox_ids_unique_and_moves_cap_counters(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert migrations[3].version == 4
    with connect(tmp_path / "v3.db") as conn:
        apply_migrations(conn, migrations[:3])
        for kind in ("a", "b", "c"):
            common.emit_event(conn, 1, kind)
        conn.execute("INSERT INTO outbox_cursors (consumer, last_id) VALUES ('points', 3)")
        conn.execute("DELETE FROM outbox WHERE id = 3")  # a purge took the newest event
        for member, all_time in ((5, 12), (6, 3)):
            conn.execute(
                "INSERT INTO points_totals (guild_id, member_id, all_time, season, updated_at) "
                "VALUES (1, ?, ?, ?, 'x')",
                (member, all_time, all_time),
            )
        conn.executemany(
            "INSERT INTO points_daily (guild_id, day, cap_group, member_id, used) "
            "VALUES (1, ?, ?, ?, ?)",
            [
                ("2026-03-01", "votes", 5, 9),  # an older day: no longer counts
                ("2026-03-02", "votes", 5, 4),
                ("2026-03-02", "participation", 5, 2),
            ],
        )
        apply_migrations(conn, migrations)
        new_id = common.emit_event(conn, 1, "d")
        assert new_id == 4  # never 3 again: the points cursor has passed it
        conn.execute("DELETE FROM outbox WHERE id = 4")
        assert common.emit_event(conn, 1, "e") == 5  # and never reused after a purge
        caps = conn.execute(
            "SELECT member_id, cap_day, cap_votes, cap_ideas, cap_helpful, cap_participation "
            "FROM points_totals ORDER BY member_id"
        ).fetchall()
        assert caps == [(5, "2026-03-02", 4, 0, 0, 2), (6, "", 0, 0, 0, 0)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "points_daily" not in tables
        pair_columns = {r[1] for r in conn.execute("PRAGMA table_info(points_vote_pairs)")}
        assert "event_id" in pair_columns


def test_failing_migration_leaves_the_database_exactly_as_it_was(tmp_path: Path) -> None:
    path, folder = migrated_to_first(tmp_path, FAILING_0002)
    with connect(path) as conn:
        before = snapshot(conn)
        with pytest.raises(MigrationError, match="0002_second"):
            apply_migrations(conn, load_migrations(folder))
        assert not conn.in_transaction
        assert snapshot(conn) == before
    # And as any other connection sees it on disk.
    with connect(path) as other:
        assert snapshot(other) == before
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert before["user_version"] == 1
    assert "tags" not in {row[1] for row in before["schema"]}


def test_migration_with_incomplete_statement_is_refused_and_rolled_back(tmp_path: Path) -> None:
    path, folder = migrated_to_first(tmp_path, "CREATE TABLE tags (id INTEGER PRIMARY KEY")
    with connect(path) as conn:
        before = snapshot(conn)
        with pytest.raises(MigrationError, match="incomplete"):
            apply_migrations(conn, load_migrations(folder))
        # The connection is usable: no transaction (and no write lock) was left open.
        assert not conn.in_transaction
        assert snapshot(conn) == before
    with connect(path) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")


def test_failed_migration_can_be_retried_once_fixed(tmp_path: Path) -> None:
    path, folder = migrated_to_first(tmp_path, FAILING_0002)
    with connect(path) as conn:
        with pytest.raises(MigrationError):
            apply_migrations(conn, load_migrations(folder))
        (folder / "0002_second.sql").write_text(GOOD_0002, encoding="utf-8")
        report = apply_migrations(conn, load_migrations(folder))
        assert report.applied == ("0002_second",)
        assert user_version(conn) == 2
        columns = [r[1] for r in conn.execute("PRAGMA table_info(notes)")]
        assert columns[-1] == "tag_id"


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
        with pytest.raises(MigrationError, match="newer"):
            apply_migrations(conn, load_migrations(), backup_dir=tmp_path / "backups")
        assert user_version(conn) == LATEST + 5
    assert not (tmp_path / "backups").exists()


async def test_services_refuse_a_newer_database_and_close(settings: Settings) -> None:
    with connect(settings.database.path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    services = create_services(settings)
    with pytest.raises(MigrationError):
        await services.start()
    assert not services.db.is_open
    with pytest.raises(DatabaseClosed):
        await services.db.execute("SELECT 1")


def test_backup_is_taken_before_migrating_a_database_with_tables(tmp_path: Path) -> None:
    path, folder = migrated_to_first(tmp_path, GOOD_0002)
    backups = tmp_path / "backups"
    with connect(path) as conn:
        report = apply_migrations(conn, load_migrations(folder), backup_dir=backups, db_name="test")
        assert report.applied == ("0002_second",)
    assert report.backup is not None
    assert report.backup.parent == backups
    assert report.backup.name.startswith("test-v1-")
    assert list(backups.iterdir()) == [report.backup]
    with connect(report.backup) as old:
        assert user_version(old) == 1
        tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"notes"}
        assert [r[0] for r in old.execute("SELECT body FROM notes ORDER BY id")] == [
            "seeded; with a semicolon",
            "user data",
        ]


def test_no_backup_for_a_brand_new_database(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"0001_first.sql": GOOD_0001})
    with connect(tmp_path / "new.db") as conn:
        report = apply_migrations(conn, load_migrations(folder), backup_dir=tmp_path / "backups")
    assert report.applied == ("0001_first",)
    assert report.backup is None
    assert not (tmp_path / "backups").exists()


async def test_services_back_up_an_existing_file_beside_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    # A file that has tables but no schema version yet (an older, unversioned install).
    with connect(settings.database.path) as conn:
        conn.execute("CREATE TABLE legacy (x)")
        conn.execute("INSERT INTO legacy VALUES (42)")
    services = create_services(settings)
    report = await services.start()
    try:
        assert report.after == LATEST
        assert report.backup is not None
        assert report.backup.parent == tmp_path / "backups"
    finally:
        await services.close()
    with connect(report.backup) as old:
        assert user_version(old) == 0
        assert old.execute("SELECT x FROM legacy").fetchall() == [(42,)]
        assert (
            old.execute("SELECT name FROM sqlite_master WHERE name = 'timers'").fetchone() is None
        )


def test_load_migrations_requires_numbering_without_gaps(tmp_path: Path) -> None:
    gap = write_migrations(tmp_path / "gap", {"0001_a.sql": "", "0003_c.sql": ""})
    with pytest.raises(MigrationError, match="0002"):
        load_migrations(gap)
    badname = write_migrations(tmp_path / "badname", {"1_a.sql": ""})
    with pytest.raises(MigrationError, match="NNNN"):
        load_migrations(badname)


def test_split_statements_keeps_triggers_whole() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);
    CREATE TABLE log (msg TEXT);
    CREATE TRIGGER a_ins AFTER INSERT ON a
    BEGIN
        INSERT INTO log VALUES ('one;two');
        UPDATE a SET n = n + 1 WHERE id = new.id;
    END;
    INSERT INTO a (n) VALUES (1);
    """
    statements = split_statements(sql)
    assert len(statements) == 4
    trigger = statements[2]
    assert trigger.startswith("CREATE TRIGGER a_ins")
    assert trigger.rstrip().endswith("END;")
    assert "UPDATE a SET n = n + 1" in trigger
    with closing(sqlite3.connect(":memory:")) as conn:
        for statement in statements:
            conn.execute(statement)
        assert conn.execute("SELECT n FROM a").fetchone() == (2,)
        assert conn.execute("SELECT msg FROM log").fetchone() == ("one;two",)


def test_split_statements_ignores_trailing_comments_but_not_trailing_sql() -> None:
    assert split_statements("SELECT 1;\n-- done\n") == ["SELECT 1;"]
    with pytest.raises(MigrationError, match="incomplete"):
        split_statements("SELECT 1;\nSELECT 2\n")


# -- the group-commit writer ----------------------------------------------------------------
@pytest.fixture
async def plain_db(tmp_path: Path) -> Any:
    database = Database(tmp_path / "w.db", batch_max_rows=100, batch_max_delay_ms=2)
    await database.open()
    await database.run_exclusive(
        lambda c: c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
    )
    try:
        yield database
    finally:
        await database.close()


def count_rows(path: Path, where: str = "1") -> int:
    with connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM t WHERE {where}").fetchone()[0])


async def test_write_is_acknowledged_only_after_its_batch_commits(plain_db: Database) -> None:
    path = plain_db.path
    in_batch = threading.Event()
    release = threading.Event()
    seen: dict[str, Any] = {}

    def insert(conn: sqlite3.Connection) -> bool:
        conn.execute("INSERT INTO t (v) VALUES (1)")
        return conn.in_transaction

    def hold_the_batch(conn: sqlite3.Connection) -> None:
        # Runs after `insert` in the same batch, before the COMMIT.
        seen["inside"] = count_rows(path, "v = 1")
        in_batch.set()
        if not release.wait(5):
            raise TimeoutError("test never released the batch")

    async def caller() -> bool:
        result = await plain_db.write(insert)
        # The moment the caller resumes, any other connection must see its row.
        seen["on_resume"] = count_rows(path, "v = 1")
        return result

    batches = plain_db.stats.batches
    first = asyncio.create_task(caller())
    second = asyncio.create_task(plain_db.write(hold_the_batch))
    try:
        assert await asyncio.to_thread(in_batch.wait, 5)
        # The unit ran, but its batch has not committed: nobody may be told it is recorded.
        done, _ = await asyncio.wait({first}, timeout=0.05)
        assert not done
        assert seen["inside"] == 0
        assert count_rows(path, "v = 1") == 0
        assert await plain_db.fetchval("SELECT count(*) FROM t") == 0  # reader: committed only
    finally:
        release.set()
    assert await asyncio.wait_for(first, 5) is True  # units run inside a transaction
    await asyncio.wait_for(second, 5)
    assert seen["on_resume"] == 1
    assert plain_db.stats.batches == batches + 1  # both units shared one commit


async def test_concurrent_writes_share_few_commits(plain_db: Database) -> None:
    start = plain_db.stats.batches
    results = await asyncio.gather(
        *(plain_db.execute("INSERT INTO t (v) VALUES (?)", (i,)) for i in range(1000))
    )
    assert results == [1] * 1000
    batches = plain_db.stats.batches - start
    assert 1 <= batches <= 20  # 1000 separate commits without the group commit
    assert plain_db.stats.largest_batch <= plain_db.batch_max_rows
    assert await plain_db.fetchval("SELECT count(*) FROM t") == 1000


async def test_a_full_batch_commits_without_waiting_for_more_writers(tmp_path: Path) -> None:
    # A gather window of an hour: a batch that waited for it would never commit here, so
    # what commits shows which batches did not wait (no wall-clock bound to miss on a
    # loaded machine; how fast is the benchmarks' business).
    async with Database(tmp_path / "d.db", batch_max_rows=100, batch_max_delay_ms=3_600_000) as db:
        await db.run_exclusive(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
        batches = db.stats.batches
        heavy = db.submit(
            lambda c: c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)]),
            weight=100,
        )
        await asyncio.wait_for(heavy, 5)  # full on its own: committed at once
        assert db.stats.batches == batches + 1
        # Two light units at once: a burst, so the writer takes them and waits for company.
        light = [db.submit(lambda c: c.execute("INSERT INTO t VALUES (-1)")) for _ in range(2)]
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert not any(f.done() for f in light)
        assert db.stats.batches == batches + 1
        company = db.submit(
            lambda c: c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(98)]),
            weight=98,
        )
        await asyncio.wait_for(asyncio.gather(*light, company), 5)  # 2 + 98: full, at once
        assert db.stats.batches == batches + 2  # all three in one commit
        assert db.stats.largest_batch == 3
        assert await db.fetchval("SELECT count(*) FROM t") == 200


async def test_the_next_batch_is_handed_to_the_thread_before_callers_wake(
    tmp_path: Path,
) -> None:
    # Two full units at once: two batches. When the first batch's caller wakes, the
    # second batch has left the queue for the writer's thread already: the writer never
    # waits for a batch's callers to run before starting the next.
    async with Database(tmp_path / "p.db", batch_max_rows=100, batch_max_delay_ms=2) as db:
        await db.run_exclusive(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))

        def rows(first: int) -> Any:
            return lambda c: c.executemany(
                "INSERT INTO t VALUES (?)", [(i,) for i in range(first, first + 100)]
            )

        batches = db.stats.batches
        first = db.submit(rows(0), weight=100)
        second = db.submit(rows(100), weight=100)
        queued_when_first_woke: list[int] = []
        first.add_done_callback(lambda _: queued_when_first_woke.append(len(db._queue)))
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert queued_when_first_woke == [0]
        assert db.stats.batches == batches + 2
        assert await db.fetchval("SELECT count(*) FROM t") == 200


async def test_a_lone_write_commits_without_waiting_for_company(tmp_path: Path) -> None:
    # The same hour-long gather window: a lone unit that waited would never commit here.
    async with Database(tmp_path / "l.db", batch_max_rows=100, batch_max_delay_ms=3_600_000) as db:
        await db.run_exclusive(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
        batches = db.stats.batches
        for value in range(3):  # one after the other, each awaited: never company
            await asyncio.wait_for(
                db.write(lambda c, v=value: c.execute("INSERT INTO t VALUES (?)", (v,))), 5
            )
        assert db.stats.batches == batches + 3
        assert await db.fetchval("SELECT count(*) FROM t") == 3


async def test_submit_resolves_when_the_batch_commits_and_reports_a_failing_unit(
    plain_db: Database,
) -> None:
    ok = plain_db.submit(lambda c: c.execute("INSERT INTO t (v) VALUES (7)").rowcount)
    bad = plain_db.submit(lambda c: c.execute("INSERT INTO t (v) VALUES (7)"))  # not unique
    assert await ok == 1
    with pytest.raises(sqlite3.IntegrityError):
        await bad
    assert await plain_db.fetchval("SELECT count(*) FROM t WHERE v = 7") == 1


async def test_checkpoints_run_off_the_writer(tmp_path: Path) -> None:
    async with Database(tmp_path / "c.db") as db:
        assert await db.write(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) > (
            1000
        )  # the writer's own checkpoint is only a safety net
        await db.execute("CREATE TABLE t (v BLOB)")
        for _ in range(5):
            await db.execute("INSERT INTO t VALUES (randomblob(100000))")
        main_file = tmp_path / "c.db"
        for _ in range(100):  # the checkpointer runs shortly after commits
            if main_file.stat().st_size > 400_000:
                break
            await asyncio.sleep(0.02)
        assert main_file.stat().st_size > 400_000  # the rows reached the main file
        assert db.stats.checkpoints >= 1


async def test_failing_unit_rolls_back_alone(plain_db: Database) -> None:
    class Broken(Exception):
        pass

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES (2)")
        raise Broken("rule broken")

    def duplicate(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES (1)")  # violates UNIQUE within the batch

    start_batches, start_failed = plain_db.stats.batches, plain_db.stats.failed_units
    results = await asyncio.gather(
        plain_db.execute("INSERT INTO t (v) VALUES (1)"),
        plain_db.write(failing),
        plain_db.write(duplicate),
        plain_db.execute("INSERT INTO t (v) VALUES (3)"),
        return_exceptions=True,
    )
    assert results[0] == 1
    assert isinstance(results[1], Broken) and str(results[1]) == "rule broken"
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert results[3] == 1
    assert plain_db.stats.batches == start_batches + 1
    assert plain_db.stats.failed_units == start_failed + 2
    values = await plain_db.fetchall("SELECT v FROM t ORDER BY v")
    assert [r[0] for r in values] == [1, 3]
    # The writer is still healthy afterwards.
    assert await plain_db.execute("INSERT INTO t (v) VALUES (4)") == 1


async def test_nothing_queued_is_lost_on_clean_close(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    database = Database(path, batch_max_rows=50, batch_max_delay_ms=1)
    await database.open()
    await database.run_exclusive(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
    in_batch, release = threading.Event(), threading.Event()

    def blocker(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (-1)")
        in_batch.set()
        release.wait(5)

    first = asyncio.create_task(database.write(blocker))
    assert await asyncio.to_thread(in_batch.wait, 5)
    # The writer is busy: these writes are queued (in several batches' worth) when the
    # close begins, and nobody awaits them before it.
    queued = [
        asyncio.create_task(database.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(500)
    ]
    closing_task = asyncio.create_task(database.close())
    done, _ = await asyncio.wait([*queued, closing_task], timeout=0.05)
    assert not done
    release.set()
    await asyncio.wait_for(closing_task, 10)
    assert all(task.done() for task in [first, *queued])
    assert [task.result() for task in queued] == [1] * 500

    reopened = Database(path)
    await reopened.open()
    try:
        assert await reopened.fetchval("SELECT count(*) FROM t") == 501
        assert await reopened.fetchval("SELECT count(DISTINCT v) FROM t WHERE v >= 0") == 500
    finally:
        await reopened.close()


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    database = Database(tmp_path / "closed.db")
    await database.open()
    await database.close()
    with pytest.raises(DatabaseClosed):
        await database.execute("CREATE TABLE t (v)")
    with pytest.raises(DatabaseClosed):
        await database.fetchall("SELECT 1")
    with pytest.raises(DatabaseClosed):
        await database.run_exclusive(lambda c: None)
    await database.close()  # closing twice is harmless
    assert not database.is_open


async def test_reader_sees_committed_data(plain_db: Database) -> None:
    assert await plain_db.fetchval("SELECT count(*) FROM t") == 0
    await plain_db.execute("INSERT INTO t (v) VALUES (7)")
    assert await plain_db.fetchval("SELECT v FROM t") == 7
    row = await plain_db.fetchone("SELECT v FROM t WHERE v = ?", (7,))
    assert row is not None and row["v"] == 7  # rows are addressable by name


async def test_report_connection_reads_beside_the_reader_and_closes_with_it(
    plain_db: Database, tmp_path: Path
) -> None:
    await plain_db.execute("INSERT INTO t (v) VALUES (7)")
    reader_thread, report_thread = await asyncio.gather(
        plain_db.read(lambda c: threading.get_ident()),
        plain_db.report(lambda c: threading.get_ident()),
    )
    assert reader_thread != report_thread  # its own connection and thread
    assert await plain_db.report(lambda c: c.execute("SELECT v FROM t").fetchone()["v"]) == 7
    await plain_db.execute("INSERT INTO t (v) VALUES (8)")  # committed data, as it comes
    assert await plain_db.report(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 2
    await plain_db.close()
    with pytest.raises(DatabaseClosed):
        await plain_db.report(lambda c: None)
    memory = Database(":memory:")
    await memory.open()
    try:  # one in-memory database has one reader: reports run on it
        assert await memory.report(lambda c: threading.get_ident()) == await memory.read(
            lambda c: threading.get_ident()
        )
    finally:
        await memory.close()


async def test_backup_to_makes_a_consistent_copy_and_never_overwrites(
    db: Database, tmp_path: Path
) -> None:
    await asyncio.gather(
        *(
            db.write(partial(common.upsert_guild, guild_id=g, name=f"guild {g}"))
            for g in range(1, 51)
        )
    )
    target = tmp_path / "copies" / "backup.db"
    assert await db.backup_to(target) == target
    with connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert user_version(copy) == LATEST
        assert copy.execute("SELECT count(*) FROM guilds").fetchone()[0] == 50
        assert copy.execute("SELECT name FROM guilds WHERE guild_id = 50").fetchone()[0] == (
            "guild 50"
        )
    size = target.stat().st_size
    with pytest.raises(FileExistsError):
        await db.backup_to(target)
    assert target.stat().st_size == size
    await db.write(lambda c: common.upsert_guild(c, 99, "later"))  # still writable


async def test_connection_pragmas(db: Database) -> None:
    def pragmas(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return tuple(
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        )

    assert await db.read(pragmas) == ("wal", 1, 1, 5000)
    assert await db.write(pragmas) == ("wal", 1, 1, 5000)
    assert await asyncio.to_thread(Path(f"{db.path}-wal").exists)

    def orphan(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE IF NOT EXISTS c (p_id INTEGER REFERENCES p (id))")
        conn.execute("INSERT INTO c VALUES (12345)")

    with pytest.raises(sqlite3.IntegrityError):
        await db.write(orphan)


async def test_database_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c.db"
    async with Database(path) as database:
        await database.execute("CREATE TABLE t (v)")
        assert await database.execute("INSERT INTO t VALUES (1), (2)") == 2
    with connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2


# -- purge ----------------------------------------------------------------------------------
async def test_purge_guild_deletes_one_guild_everywhere(db: Database) -> None:
    def feature_tables(conn: sqlite3.Connection) -> None:
        # A later feature's tables: a three-level foreign-key chain, created parent first.
        conn.execute("CREATE TABLE contests (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL)")
        conn.execute(
            "CREATE TABLE contest_entries (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, "
            "contest_id INTEGER NOT NULL REFERENCES contests (id))"
        )
        conn.execute(
            "CREATE TABLE contest_votes (id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, "
            "option_id INTEGER NOT NULL REFERENCES contest_entries (id))"
        )

    await db.write(feature_tables)

    def seed(conn: sqlite3.Connection, guild: int) -> None:
        common.upsert_guild(conn, guild, f"g{guild}")
        common.set_guild_setting(conn, guild, "timezone", "Europe/Berlin", 5)
        common.set_guild_setting(conn, guild, "ideas_channel", 123, 5)
        common.record_mod_action(conn, guild, 5, "config.set", "timezone", "")
        common.emit_event(conn, guild, "idea.created", subject_id=1)
        conn.execute(
            "INSERT INTO privacy_requests (guild_id, user_id, requested_at) VALUES (?, 8, 'x')",
            (guild,),
        )
        conn.execute(
            "INSERT INTO timers (guild_id, kind, key, due_at) VALUES (?, 'k', ?, 'x')",
            (guild, f"key-{guild}"),
        )
        contest = conn.execute("INSERT INTO contests (guild_id) VALUES (?)", (guild,)).lastrowid
        option = conn.execute(
            "INSERT INTO contest_entries (guild_id, contest_id) VALUES (?, ?)", (guild, contest)
        ).lastrowid
        conn.execute(
            "INSERT INTO contest_votes (guild_id, option_id) VALUES (?, ?)", (guild, option)
        )

    await db.write(lambda c: seed(c, 1))
    await db.write(lambda c: seed(c, 2))
    await db.write(lambda c: common.set_meta(c, "signature", "abc"))

    tables = await db.read(common.tables_with_guild_id)
    seeded = {
        "guild_settings",
        "guilds",
        "mod_actions",
        "privacy_requests",
        "outbox",
        "timers",
        "contests",
        "contest_entries",
        "contest_votes",
    }
    assert seeded <= set(tables)

    async def counts(guild: int) -> dict[str, int]:
        return {
            t: await db.fetchval(f'SELECT count(*) FROM "{t}" WHERE guild_id = ?', (guild,))
            for t in tables
        }

    kept = await counts(2)
    assert all(kept[t] for t in seeded)
    deleted = await GuildService(db).purge(1)
    assert deleted == {t: (2 if t == "guild_settings" else 1) for t in seeded}
    assert set((await counts(1)).values()) == {0}
    assert await counts(2) == kept
    assert await db.fetchval("SELECT value FROM meta WHERE key = 'signature'") == "abc"
    assert await GuildService(db).purge(1) == {}


async def test_opening_an_open_database_keeps_it_as_it_is(tmp_path: Path) -> None:
    # The CLI opens the database before logging in; the bot's setup_hook opens it again.
    database = Database(tmp_path / "twice.db")
    await database.open()
    try:
        await database.execute("CREATE TABLE t (v)")
        await database.execute("INSERT INTO t VALUES (1)")
        writer = database._writer
        await database.open()
        assert database._writer is writer  # the same connections, not a second set
        assert await database.execute("INSERT INTO t VALUES (2)") == 1
        assert await database.fetchval("SELECT count(*) FROM t") == 2
    finally:
        await database.close()
