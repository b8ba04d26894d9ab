"""Multi-row INSERTs (bot.storage.common.insert_values): the outcome of executemany, in
fewer statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.storage.common import ROWS_PER_STATEMENT, _chunks, insert_values

SCHEMA = "CREATE TABLE t (k INTEGER PRIMARY KEY, a TEXT, b INTEGER, n INTEGER NOT NULL DEFAULT 1)"
HEAD = "INSERT INTO t (k, a, b)"
ROW = "(?, ?, ?)"
UPSERT = " ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = t.b + excluded.b, n = t.n + 1"
NOTHING = " ON CONFLICT (k) DO NOTHING"


@contextmanager
def table() -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        conn.execute(SCHEMA)
        yield conn


def contents(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT k, a, b, n FROM t ORDER BY k").fetchall()


def executemany(conn: sqlite3.Connection, rows: list[tuple[object, ...]], tail: str) -> int:
    return conn.executemany(f"{HEAD} VALUES {ROW}{tail}", rows).rowcount


@pytest.mark.parametrize("count", [0, 1, 2, 5, 127, 128, 129, 300, 1000])
@pytest.mark.parametrize("tail", ["", UPSERT, NOTHING])
def test_same_rows_and_count_as_executemany(count: int, tail: str) -> None:
    # Every third key repeats an earlier one, so the conflict clause runs inside a
    # statement, across statements, and against rows already in the table.
    rows: list[tuple[object, ...]] = [
        (n // 3 if n % 3 == 0 else n, f"v{n}", n) for n in range(count)
    ]
    with table() as expected, table() as got:
        for conn in (expected, got):
            conn.execute("INSERT INTO t (k, a, b) VALUES (1, 'old', 100)")
        if tail == "":  # a plain INSERT has no conflicts to resolve: unique keys only
            rows = [(n + 10_000, f"v{n}", n) for n in range(count)]
        want = executemany(expected, rows, tail) if rows else 0
        assert insert_values(got, HEAD, ROW, rows, tail) == want
        assert contents(got) == contents(expected)


def test_do_nothing_counts_only_the_rows_that_went_in() -> None:
    with table() as conn:
        conn.execute("INSERT INTO t (k, a, b) VALUES (3, 'old', 0)")
        rows = [(k, "new", k) for k in (1, 2, 3, 2, 4)]
        assert insert_values(conn, HEAD, ROW, rows, NOTHING) == 3
        assert [r[:2] for r in contents(conn)] == [(1, "new"), (2, "new"), (3, "old"), (4, "new")]


def test_numbered_placeholders_are_renumbered_per_row() -> None:
    # As the points totals upsert: one value bound into two columns of each row.
    with table() as conn:
        rows = [(k, f"x{k}") for k in range(200)]
        insert_values(conn, "INSERT INTO t (k, a, b)", "(?1, ?2, ?1)", rows)
        assert contents(conn) == [(k, f"x{k}", k, 1) for k in range(200)]


def test_a_low_variable_limit_means_smaller_statements_not_an_error() -> None:
    with table() as conn:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)  # three rows of three
        rows = [(k, "a", k) for k in range(50)]
        assert insert_values(conn, HEAD, ROW, rows) == 50
        assert len(contents(conn)) == 50


@pytest.mark.parametrize("row", ["(?, ?)", "(?1, ?2)", "(?1, ?2, ?3, ?4)"])
def test_a_template_that_does_not_fit_the_rows_is_refused(row: str) -> None:
    with table() as conn, pytest.raises(ValueError, match="does not take rows of 3"):
        insert_values(conn, HEAD, row, [(1, "a", 1)])
    with table() as conn:
        assert contents(conn) == []


@given(total=st.integers(0, 5_000), most=st.integers(1, 300))
def test_pieces_cover_the_rows_in_order_in_few_sizes(total: int, most: int) -> None:
    pieces = list(_chunks(total, most))
    assert sum(count for _, count in pieces) == total
    assert not pieces or pieces[0][0] == 0
    assert all(s + c == n for (s, c), (n, _) in pairwise(pieces))
    # Full statements, then each power of two at most once: few distinct statements.
    sizes = [count for _, count in pieces]
    rest = [c for c in sizes if c != most]
    assert all(c & (c - 1) == 0 and c < most for c in rest)
    assert len(rest) == len(set(rest))


def test_statements_hold_up_to_the_configured_rows() -> None:
    assert max(count for _, count in _chunks(10_000, ROWS_PER_STATEMENT)) == ROWS_PER_STATEMENT
