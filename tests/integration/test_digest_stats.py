"""The digest's responsiveness figures computed in SQL (``span_stats``) against their
definitions in :mod:`bot.domain.digest`: on a hand-made fixture with known answers, and on
a seeded year where both plans (a period's time range, the trailing window's index walks)
must give what the domain rules give on every idea read into Python."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import digest as rules
from bot.domain.digest_model import IdeaTimes, SpanStats
from bot.storage import bench_digests as seed
from bot.storage import digests as repo
from bot.storage.common import to_iso

GUILD = 7
END = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
TARGET = timedelta(days=7)
HOUR = 3600.0


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "stats.db"
    seed.migrated(path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def add_idea(
    conn: sqlite3.Connection,
    number: int,
    created: datetime,
    *,
    responded: timedelta | None = None,
    decided: timedelta | None = None,
    status: str = "under_review",
) -> None:
    conn.execute(
        "INSERT INTO ideas (guild_id, number, title, author_id, status, source, created_at, "
        "updated_at, first_response_at, decided_at) VALUES (?, ?, 'idea', 1, ?, 'modal', ?, ?, "
        "?, ?)",
        (
            GUILD,
            number,
            status,
            to_iso(created),
            to_iso(created),
            None if responded is None else to_iso(created + responded),
            None if decided is None else to_iso(created + decided),
        ),
    )


def stats(conn: sqlite3.Connection, start: datetime, *, trailing: bool) -> SpanStats:
    return repo.span_stats(
        conn,
        GUILD,
        to_iso(start),
        to_iso(END),
        target_days=TARGET.total_seconds() / 86400,
        due=to_iso(END - TARGET),
        trailing=trailing,
    )


@pytest.mark.parametrize("trailing", [False, True])
def test_known_answers(conn: sqlite3.Connection, trailing: bool) -> None:
    week = END - timedelta(days=7)
    old = END - timedelta(days=30)
    add_idea(conn, 1, old, responded=timedelta(hours=1), decided=timedelta(days=2))
    add_idea(conn, 2, old, responded=timedelta(hours=3), decided=timedelta(days=4))
    add_idea(conn, 3, old, responded=timedelta(days=10))
    add_idea(conn, 4, old, status="new")  # unanswered, past its target: counted
    add_idea(conn, 5, END - timedelta(days=1), status="new")  # still inside its target
    add_idea(conn, 6, old, responded=timedelta(minutes=1), status="hidden")  # left out
    add_idea(conn, 7, old, responded=timedelta(minutes=2), status="withdrawn")  # left out
    add_idea(conn, 8, END - timedelta(days=400), responded=timedelta(hours=1))  # too old
    add_idea(conn, 9, END, responded=timedelta(hours=1))  # at the end: the next period
    add_idea(conn, 10, week, responded=timedelta(hours=6), decided=timedelta(hours=6))

    year = stats(conn, END - rules.TRAILING, trailing=trailing)
    # Submitted 1-5 and 10; answered within 7 days: 1, 2, 10; counted: 1, 2, 3, 4, 10.
    assert year.submitted == 6
    assert (year.answered, year.counted) == (3, 5)
    # Response times 1h, 3h, 6h, 10d → median of four = (3h + 6h) / 2.
    assert year.median_response == pytest.approx(4.5 * HOUR)
    # Decision times 6h, 2d, 4d → 2d.
    assert year.median_decision == pytest.approx(48 * HOUR)

    period = stats(conn, week, trailing=trailing)
    assert period == SpanStats(2, 1, 1, pytest.approx(6 * HOUR), pytest.approx(6 * HOUR))

    empty = stats(conn, END - timedelta(days=2 * 365), trailing=trailing)
    nothing = repo.span_stats(
        conn, GUILD, to_iso(END), to_iso(END), target_days=7, due=to_iso(END), trailing=trailing
    )
    assert empty.submitted == 7  # idea 8 joins
    assert nothing == SpanStats(0, 0, 0, None, None)


def reference(conn: sqlite3.Connection, start: datetime) -> tuple[int, float | None, ...]:
    """The same figures from every idea read into Python and the domain's rules."""
    times = []
    for created, first, decided in conn.execute(
        "SELECT created_at, first_response_at, decided_at FROM ideas WHERE guild_id = ? "
        "AND created_at >= ? AND created_at < ? AND status NOT IN ('hidden', 'withdrawn')",
        (GUILD, to_iso(start), to_iso(END)),
    ):
        at = datetime.fromisoformat(created)

        def since(moment: str | None, at: datetime = at) -> float | None:
            return None if moment is None else (datetime.fromisoformat(moment) - at).total_seconds()

        times.append(IdeaTimes(since(first), since(decided), (END - at).total_seconds()))
    return (
        len(times),
        rules.response_rate(times, TARGET),
        rules.median_seconds(t.to_response for t in times),
        rules.median_seconds(t.to_decision for t in times),
    )


def test_both_plans_agree_with_the_domain_rules_on_a_seeded_year(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    conn.close()
    path = tmp_path / "stats.db"
    seed.seed_guild(path, GUILD, ideas=600, votes_per_idea=1, ledger=0, now=END)
    with sqlite3.connect(path, isolation_level=None) as db:
        # Some hidden and withdrawn ideas, which every figure leaves out.
        db.execute("UPDATE ideas SET status = 'hidden' WHERE number % 17 = 0")
        db.execute("UPDATE ideas SET status = 'withdrawn' WHERE number % 19 = 0")
        for start in (END - timedelta(days=7), END - timedelta(days=90), END - rules.TRAILING):
            submitted, rate, to_response, to_decision = reference(db, start)
            for trailing in (False, True):
                got = stats(db, start, trailing=trailing)
                assert got.submitted == submitted
                assert rules.rate(got.answered, got.counted) == pytest.approx(rate)
                assert got.median_response == pytest.approx(to_response, abs=0.01)
                assert got.median_decision == pytest.approx(to_decision, abs=0.01)


def test_trailing_plan_walks_the_indexes(conn: sqlite3.Connection) -> None:
    captured: list[str] = []
    add_idea(conn, 1, END - timedelta(days=3), responded=timedelta(hours=1))
    conn.set_trace_callback(captured.append)
    stats(conn, END - rules.TRAILING, trailing=True)
    repo.overdue(conn, GUILD, to_iso(END), 5)
    conn.set_trace_callback(None)
    used = set()
    for sql in captured:
        detail = " ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "SCAN ideas" not in detail, (sql, detail)
        used.update(word for word in detail.split() if word.startswith("ideas_"))
    assert {
        "ideas_response_time",
        "ideas_decision_time",
        "ideas_unanswered",
        "ideas_overdue",
    } <= used
