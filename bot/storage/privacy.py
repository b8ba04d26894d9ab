"""SQL for privacy requests (a member asks to be forgotten; a moderator confirms)."""

from __future__ import annotations

import sqlite3

from bot.storage.common import fits_integer, now_iso


def create_request(conn: sqlite3.Connection, guild_id: int, user_id: int) -> int | None:
    """Open a request; None when the member already has one pending."""
    try:
        cur = conn.execute(
            "INSERT INTO privacy_requests (guild_id, user_id, requested_at) VALUES (?, ?, ?)",
            (guild_id, user_id, now_iso()),
        )
    except sqlite3.IntegrityError:
        return None
    return int(cur.lastrowid or 0)


def get_request(conn: sqlite3.Connection, request_id: int) -> sqlite3.Row | None:
    if not fits_integer(request_id):  # no request has it
        return None
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM privacy_requests WHERE id = ?", (request_id,)
    ).fetchone()
    return row


def close_request(
    conn: sqlite3.Connection, request_id: int, status: str, moderator_id: int, report: str
) -> bool:
    """Move a pending request to done/rejected; False if it was not pending any more."""
    return (
        conn.execute(
            "UPDATE privacy_requests SET status = ?, decided_by = ?, decided_at = ?, report = ? "
            "WHERE id = ? AND status = 'pending'",
            (status, moderator_id, now_iso(), report, request_id),
        ).rowcount
        == 1
    )
