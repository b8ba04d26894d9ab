"""SQL for timers: rows with a due time that the dispatcher runs once."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from bot.storage.common import now_iso


def upsert_timer(
    conn: sqlite3.Connection,
    guild_id: int,
    kind: str,
    key: str,
    due_at: str,
    payload: dict[str, Any],
) -> int:
    """Create or re-arm the timer ``(kind, key)``; returns its id."""
    ((timer_id,),) = conn.execute(
        "INSERT INTO timers (guild_id, kind, key, due_at, payload) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, "
        "payload = excluded.payload, done_at = NULL, attempts = 0, last_error = NULL "
        "RETURNING id",
        (guild_id, kind, key, due_at, orjson.dumps(payload).decode()),
    ).fetchall()
    return int(timer_id)


def cancel_timer(conn: sqlite3.Connection, kind: str, key: str) -> bool:
    return (
        conn.execute(
            "UPDATE timers SET done_at = ?, last_error = 'cancelled' "
            "WHERE kind = ? AND key = ? AND done_at IS NULL",
            (now_iso(), kind, key),
        ).rowcount
        == 1
    )


def due_timers(conn: sqlite3.Connection, now: str, limit: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM timers WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
        (now, limit),
    ).fetchall()


def next_due(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT min(due_at) FROM timers WHERE done_at IS NULL").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def finish_timer(conn: sqlite3.Connection, timer_id: int, due_at: str) -> bool:
    """Mark done, unless it was rescheduled meanwhile (then its due_at changed)."""
    return (
        conn.execute(
            "UPDATE timers SET done_at = ? WHERE id = ? AND due_at = ? AND done_at IS NULL",
            (now_iso(), timer_id, due_at),
        ).rowcount
        == 1
    )


def retry_timer(conn: sqlite3.Connection, timer_id: int, due_at: str, error: str) -> None:
    conn.execute(
        "UPDATE timers SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?",
        (error[:500], due_at, timer_id),
    )


def get_timer(conn: sqlite3.Connection, kind: str, key: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM timers WHERE kind = ? AND key = ?", (kind, key)
    ).fetchone()
    return row


def set_payload(conn: sqlite3.Connection, timer_id: int, payload: dict[str, Any]) -> None:
    """Record a running timer's progress (steps done), so a retry skips them."""
    conn.execute(
        "UPDATE timers SET payload = ? WHERE id = ?", (orjson.dumps(payload).decode(), timer_id)
    )


def get_timer_by_id(conn: sqlite3.Connection, timer_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM timers WHERE id = ?", (timer_id,)
    ).fetchone()
    return row
