"""SQL for polls and outcome surveys: polls, their ballots, closing and forgetting."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import orjson

from bot.domain.poll_model import Poll, PollDraft, PollKind, PollMode
from bot.storage.common import insert_values, to_iso


def insert_poll(conn: sqlite3.Connection, draft: PollDraft, key: bytes | None, now: str) -> int:
    cur = conn.execute(
        "INSERT INTO polls (guild_id, channel_id, creator_id, kind, question, options, mode, "
        "max_picks, anonymous, hide_results, eligible_role_id, native, idea_ids, ballot_key, "
        "created_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            draft.guild_id,
            draft.channel_id,
            draft.creator_id,
            draft.kind.value,
            draft.question,
            orjson.dumps(list(draft.options)).decode(),
            draft.mode.value,
            draft.max_picks,
            int(draft.anonymous),
            int(draft.hide_results),
            draft.eligible_role_id,
            int(draft.native),
            orjson.dumps(list(draft.idea_ids)).decode(),
            key,
            now,
            to_iso(draft.closes_at),
        ),
    )
    return int(cur.lastrowid or 0)


_COLUMNS = (
    "p.id, p.guild_id, p.channel_id, p.creator_id, p.kind, p.question, p.options, p.mode, "
    "p.max_picks, p.anonymous, p.hide_results, p.eligible_role_id, p.native, p.created_at, "
    "p.closes_at, p.closed_at, p.closed_late, p.message_id, p.results_message_id, p.idea_ids, "
    "p.native_counts, (SELECT count(*) FROM poll_ballots b WHERE b.poll_id = p.id) AS ballots"
)


def poll_from_row(row: Any) -> Poll:
    return Poll(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        creator_id=row["creator_id"],
        kind=PollKind(row["kind"]),
        question=row["question"],
        options=tuple(orjson.loads(row["options"])),
        mode=PollMode(row["mode"]),
        max_picks=row["max_picks"],
        anonymous=bool(row["anonymous"]),
        hide_results=bool(row["hide_results"]),
        eligible_role_id=row["eligible_role_id"],
        native=bool(row["native"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        closes_at=datetime.fromisoformat(row["closes_at"]),
        closed_at=datetime.fromisoformat(row["closed_at"]) if row["closed_at"] else None,
        closed_late=bool(row["closed_late"]),
        message_id=row["message_id"],
        results_message_id=row["results_message_id"],
        ballots=row["ballots"],
        idea_ids=tuple(orjson.loads(row["idea_ids"])),
        native_counts=tuple(orjson.loads(row["native_counts"])),
    )


def get_poll(conn: sqlite3.Connection, poll_id: int) -> Poll | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM polls p WHERE p.id = ?", (poll_id,)).fetchone()
    return None if row is None else poll_from_row(row)


def get_by_message(conn: sqlite3.Connection, message_id: int) -> Poll | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM polls p WHERE p.message_id = ?", (message_id,)
    ).fetchone()
    return None if row is None else poll_from_row(row)


def open_polls(conn: sqlite3.Connection, guild_id: int) -> list[Poll]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM polls p WHERE p.guild_id = ? AND p.closed_at IS NULL "
        "ORDER BY p.closes_at, p.id",
        (guild_id,),
    ).fetchall()
    return [poll_from_row(r) for r in rows]


#: What deciding a ballot needs of its poll.
_BALLOT_CONTEXT = (
    "guild_id, kind, mode, options, max_picks, eligible_role_id, ballot_key, anonymous, "
    "native, hide_results, closes_at, closed_at"
)


def ballot_context(conn: sqlite3.Connection, poll_id: int) -> sqlite3.Row | None:
    """What deciding a ballot needs, in one indexed read (the vote path is hot)."""
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {_BALLOT_CONTEXT} FROM polls WHERE id = ?", (poll_id,)
    ).fetchone()
    return row


def open_ballot_contexts(conn: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """:func:`ballot_context` of up to ``limit`` open polls (the soonest to close first),
    with their ``id``: read once at start."""
    return conn.execute(
        f"SELECT id, {_BALLOT_CONTEXT} FROM polls "
        "WHERE closed_at IS NULL ORDER BY closes_at, id LIMIT ?",
        (limit,),
    ).fetchall()


def poll_states(
    conn: sqlite3.Connection, poll_ids: Collection[int]
) -> dict[int, tuple[int, str | None, str]]:
    """(guild, closed_at, closes_at) of each of ``poll_ids`` that exists."""
    ids = list(poll_ids)
    marks = ",".join("?" * len(ids))
    return {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute(
            f"SELECT id, guild_id, closed_at, closes_at FROM polls WHERE id IN ({marks})", ids
        )
    }


def answers_of(
    conn: sqlite3.Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], str]:
    """The stored answers (JSON text) of the given (poll, voter) pairs that have one."""
    found: dict[tuple[int, str], str] = {}
    by_poll: dict[int, list[str]] = {}
    for poll_id, voter in keys:
        by_poll.setdefault(poll_id, []).append(voter)
    for poll_id, voters in by_poll.items():
        unique = list(dict.fromkeys(voters))
        for start in range(0, len(unique), 500):  # SQLite's variable limit
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for voter, answer in conn.execute(
                f"SELECT voter, answer FROM poll_ballots WHERE poll_id = ? AND voter IN ({marks})",
                [poll_id, *chunk],
            ):
                found[(poll_id, voter)] = answer
    return found


def put_answers(conn: sqlite3.Connection, rows: Sequence[tuple[int, str, int, str]]) -> None:
    """Upsert (poll, voter, guild, answer JSON) rows."""
    insert_values(
        conn,
        "INSERT INTO poll_ballots (poll_id, voter, guild_id, answer)",
        "(?, ?, ?, ?)",
        rows,
        " ON CONFLICT (poll_id, voter) DO UPDATE SET answer = excluded.answer",
    )


def get_answer(conn: sqlite3.Connection, poll_id: int, voter: str) -> Any:
    row = conn.execute(
        "SELECT answer FROM poll_ballots WHERE poll_id = ? AND voter = ?", (poll_id, voter)
    ).fetchone()
    return None if row is None else orjson.loads(row[0])


def put_answer(
    conn: sqlite3.Connection, poll_id: int, voter: str, guild_id: int, answer: Any
) -> None:
    conn.execute(
        "INSERT INTO poll_ballots (poll_id, voter, guild_id, answer) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (poll_id, voter) DO UPDATE SET answer = excluded.answer",
        (poll_id, voter, guild_id, orjson.dumps(answer).decode()),
    )


def answers(conn: sqlite3.Connection, poll_id: int) -> list[Any]:
    return [
        orjson.loads(r[0])
        for r in conn.execute("SELECT answer FROM poll_ballots WHERE poll_id = ?", (poll_id,))
    ]


def named_ballots(conn: sqlite3.Connection, poll_id: int) -> list[tuple[str, Any]]:
    """(member id, answer) of a named poll, in member order (for the CSV export)."""
    return [
        (str(r[0]), orjson.loads(r[1]))
        for r in conn.execute(
            "SELECT voter, answer FROM poll_ballots WHERE poll_id = ? ORDER BY voter",
            (poll_id,),
        )
    ]


def close_poll(conn: sqlite3.Connection, poll_id: int, closed_at: str, late: bool) -> bool:
    """Close once: False when it was closed already. The ballot key is erased here."""
    return (
        conn.execute(
            "UPDATE polls SET closed_at = ?, closed_late = ?, ballot_key = NULL "
            "WHERE id = ? AND closed_at IS NULL",
            (closed_at, int(late), poll_id),
        ).rowcount
        == 1
    )


def set_native_counts(conn: sqlite3.Connection, poll_id: int, counts: Sequence[int]) -> None:
    conn.execute(
        "UPDATE polls SET native_counts = ? WHERE id = ?",
        (orjson.dumps(list(counts)).decode(), poll_id),
    )


def set_message(conn: sqlite3.Connection, poll_id: int, message_id: int) -> None:
    conn.execute("UPDATE polls SET message_id = ? WHERE id = ?", (message_id, poll_id))


def set_results_message(conn: sqlite3.Connection, poll_id: int, message_id: int) -> None:
    conn.execute("UPDATE polls SET results_message_id = ? WHERE id = ?", (message_id, poll_id))


def forget_member(
    conn: sqlite3.Connection,
    guild_id: int,
    member_id: int,
    hasher: Callable[[bytes, int], str],
) -> dict[str, int]:
    """Delete a member's named ballots and their anonymous ballots in polls still open
    (their key can still find them; closed anonymous polls hold nothing linkable), and
    credit the polls they created to "former member"."""
    named = conn.execute(
        "DELETE FROM poll_ballots WHERE guild_id = ? AND voter = ? AND poll_id IN "
        "(SELECT id FROM polls WHERE guild_id = ? AND anonymous = 0)",
        (guild_id, str(member_id), guild_id),
    ).rowcount
    anonymous = 0
    for poll_id, key in conn.execute(
        "SELECT id, ballot_key FROM polls WHERE guild_id = ? AND anonymous = 1 "
        "AND ballot_key IS NOT NULL",
        (guild_id,),
    ).fetchall():
        anonymous += conn.execute(
            "DELETE FROM poll_ballots WHERE poll_id = ? AND voter = ?",
            (poll_id, hasher(bytes(key), member_id)),
        ).rowcount
    created = conn.execute(
        "UPDATE polls SET creator_id = 0 WHERE guild_id = ? AND creator_id = ?",
        (guild_id, member_id),
    ).rowcount
    return {"ballots deleted": named + anonymous, "polls credited to a former member": created}
