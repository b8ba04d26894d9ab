"""SQL for the polls' and policies' part of digests and exports: the polls closed in a
period, the policy changes open for comment or awaiting a response, who took part, and
the rows ``cocreate export`` and ``/export`` write (read in key order, a chunk at a time).

Anonymous ballots are read here without their voter: the column never leaves the store.
Polls and policies are read with their own modules' column lists and row mappers, so a
change there changes them here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.domain.policy_model import Policy
from bot.domain.poll_model import Poll
from bot.storage import digests as digests_repo
from bot.storage import policy as policy_repo
from bot.storage import polls as polls_repo


# -- digests -------------------------------------------------------------------------------
def polls_closed(conn: sqlite3.Connection, guild_id: int, start: str, end: str) -> list[Poll]:
    """Polls and surveys closed in ``[start, end)``, in closing order."""
    rows = conn.execute(
        f"SELECT {polls_repo._COLUMNS} FROM polls p WHERE p.guild_id = ? "
        "AND p.closed_at >= ? AND p.closed_at < ? ORDER BY p.closed_at, p.id",
        (guild_id, start, end),
    ).fetchall()
    return [polls_repo.poll_from_row(r) for r in rows]


def poll_participants(conn: sqlite3.Connection, guild_id: int, start: str, end: str) -> set[int]:
    """Members who answered a poll or survey in ``[start, end)``. Ballots keep no time (so
    that an anonymous ballot cannot be dated); each first answer's participation award
    does, and says which poll, never which option."""
    return digests_repo.member_set(
        conn,
        "SELECT member_id FROM points_ledger WHERE guild_id = ? AND kind = 'participation' "
        "AND created_at >= ? AND created_at < ?",
        (guild_id, start, end),
    )


def policies_in_stages(
    conn: sqlite3.Connection, guild_id: int, stages: tuple[str, ...]
) -> list[Policy]:
    """Policy changes in one of ``stages``: soonest comment deadline, then number, first."""
    rows = conn.execute(
        f"SELECT {policy_repo._COLUMNS} FROM policies WHERE guild_id = ? "
        f"AND stage IN ({', '.join('?' * len(stages))}) "
        "ORDER BY coalesce(close_at, effective_at), number",
        (guild_id, *stages),
    ).fetchall()
    return [policy_repo._policy(r) for r in rows]


def policy_participants(conn: sqlite3.Connection, guild_id: int, start: str, end: str) -> set[int]:
    """Members who took a stance or raised a concern in ``[start, end)``."""
    return digests_repo.member_set(
        conn,
        "SELECT member_id FROM policy_stances WHERE guild_id = ? AND updated_at >= ? "
        "AND updated_at < ? UNION ALL SELECT author_id FROM policy_concerns WHERE guild_id = ? "
        "AND created_at >= ? AND created_at < ?",
        (guild_id, start, end) * 2,
    )


def policy_feedback_count(conn: sqlite3.Connection, guild_id: int, start: str, end: str) -> int:
    """Stances taken (or changed) and concerns raised in ``[start, end)``."""
    return int(
        conn.execute(
            "SELECT (SELECT count(*) FROM policy_stances WHERE guild_id = ?1 "
            "AND updated_at >= ?2 AND updated_at < ?3) + (SELECT count(*) FROM policy_concerns "
            "WHERE guild_id = ?1 AND created_at >= ?2 AND created_at < ?3)",
            (guild_id, start, end),
        ).fetchone()[0]
    )


# -- exports -------------------------------------------------------------------------------
#: Export name → (columns, FROM and WHERE with ``?`` for the guild, key columns). Rows are
#: read in key order after the last key of the chunk before.
EXPORTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "polls": (
        "p.id, p.kind, p.question, p.options, p.mode, p.max_picks, p.anonymous, "
        "p.hide_results, p.native, p.native_counts, p.creator_id, p.created_at, p.closes_at, "
        "p.closed_at, (SELECT count(*) FROM poll_ballots b WHERE b.poll_id = p.id) AS ballots",
        "polls p WHERE p.guild_id = ?",
        ("p.id",),
    ),
    # Named polls' ballots: who answered what. Those of an open poll whose counts are not
    # shown yet stay out (they would show what the poll hides).
    "poll_ballots": (
        "b.poll_id, b.voter AS member_id, b.answer",
        "poll_ballots b JOIN polls p ON p.id = b.poll_id WHERE b.guild_id = ? "
        "AND p.anonymous = 0 AND (p.closed_at IS NOT NULL OR p.hide_results = 0)",
        ("b.poll_id", "b.voter"),
    ),
    # Anonymous polls' ballots, closed polls only: the answers, never a voter column.
    "poll_ballots_anonymous": (
        "b.poll_id, b.answer",
        "poll_ballots b JOIN polls p ON p.id = b.poll_id WHERE b.guild_id = ? "
        "AND p.anonymous = 1 AND p.closed_at IS NOT NULL",
        ("b.poll_id", "b.voter"),
    ),
    "policies": (
        "id, number, title, summary, body, stage, author_id, effective_at, close_at, "
        "announced_at, closed_at, responded_at, settled_at, awaiting, decision, amended_body, "
        "response_note, responder_id, support, concerned, oppose, concerns, created_at",
        "policies WHERE guild_id = ?",
        ("id",),
    ),
    "policy_stances": (
        "s.policy_id, p.number AS policy_number, s.member_id, s.stance, s.updated_at",
        "policy_stances s JOIN policies p ON p.id = s.policy_id WHERE s.guild_id = ?",
        ("s.policy_id", "s.member_id"),
    ),
    "policy_concerns": (
        "c.id, c.policy_id, p.number AS policy_number, c.number, c.author_id, c.text, "
        "c.suggestion, c.group_no, c.idea_id, c.created_at",
        "policy_concerns c JOIN policies p ON p.id = c.policy_id WHERE c.guild_id = ?",
        ("c.id",),
    ),
}


def export_columns(name: str) -> tuple[str, ...]:
    """The names of an export's columns (its CSV header)."""
    columns, _, _ = EXPORTS[name]
    return tuple(c.strip().split(" AS ")[-1].split(".")[-1] for c in columns.split(", "))


def export_count(conn: sqlite3.Connection, name: str, guild_id: int) -> int:
    _, source, _ = EXPORTS[name]
    return int(conn.execute(f"SELECT count(*) FROM {source}", (guild_id,)).fetchone()[0])


def export_chunk(
    conn: sqlite3.Connection, name: str, guild_id: int, after: Any, limit: int
) -> tuple[list[dict[str, Any]], Any]:
    """Up to ``limit`` rows of an export after the key ``after`` (None: from the start),
    and the key to pass for the next chunk."""
    columns, source, key = EXPORTS[name]
    keys = ", ".join(key)
    params: list[Any] = [guild_id]
    where = ""
    if after is not None:
        where = f" AND ({keys}) > ({', '.join('?' * len(key))})"
        params.extend(after)
    cur = conn.execute(
        f"SELECT {columns}, {keys} FROM {source}{where} ORDER BY {keys} LIMIT ?",
        (*params, limit),
    )
    width = len(columns.split(", "))
    names = export_columns(name)
    rows, last = [], after
    for row in cur.fetchall():
        rows.append(dict(zip(names, row[:width], strict=True)))
        last = tuple(row[width:])
    return rows, last
