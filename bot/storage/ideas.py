"""SQL of the Ideas feature. Writes are units for ``Database.write`` (one transaction with
the outbox event they emit); reads run on the reader connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from bot.domain import events
from bot.domain.idea_model import (
    FORMER_MEMBER,
    ChallengeTag,
    Idea,
    IdeaDraft,
    IdeaEvent,
    ListFilters,
    Notice,
)
from bot.domain.ideas import IdeaStatus
from bot.storage.common import emit_event, fits_integer, from_iso, now_iso

_IDEA_COLUMNS = (
    "id, guild_id, number, kind, title, body, author_id, status, status_reason, source, "
    "source_channel_id, source_message_id, card_channel_id, card_message_id, thread_id, "
    "support, oppose, created_at, updated_at, first_response_at, decided_at, merged_into, "
    "hidden_from, flag, card_version, card_shown, image_name, anonymous"
)
#: Statuses no member sees: hidden, and held for review (pending or rejected).
NOT_PUBLIC = "('hidden', 'pending_review', 'rejected')"


def _idea(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    *,
    details: bool = True,
    counts: tuple[int, int] | None = None,
) -> Idea:
    """The Idea of a row of ``_IDEA_COLUMNS``; ``counts`` (support, oppose) replace the
    row's when the caller changed them after reading it."""
    tags: tuple[str, ...] = ()
    contributors: tuple[int, ...] = ()
    challenge: ChallengeTag | None = None
    if details:
        tags = tuple(
            r[0]
            for r in conn.execute(
                "SELECT tag FROM idea_tags WHERE idea_id = ? ORDER BY tag", (row["id"],)
            )
        )
        contributors = tuple(
            r[0]
            for r in conn.execute(
                "SELECT member_id FROM idea_contributors WHERE idea_id = ? ORDER BY rowid",
                (row["id"],),
            )
        )
        # The challenge it answers (one primary-key lookup; the card and /idea show name it).
        entry = conn.execute(
            "SELECT c.number, c.title, e.stage FROM challenge_entries e "
            "JOIN challenges c ON c.id = e.challenge_id WHERE e.idea_id = ?",
            (row["id"],),
        ).fetchone()
        if entry is not None:
            challenge = ChallengeTag(int(entry[0]), str(entry[1]), str(entry[2]))
    created = from_iso(row["created_at"])
    updated = from_iso(row["updated_at"])
    assert created is not None and updated is not None
    return Idea(
        id=row["id"],
        guild_id=row["guild_id"],
        number=row["number"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        author_id=row["author_id"],
        status=IdeaStatus(row["status"]),
        status_reason=row["status_reason"],
        source=row["source"],
        source_channel_id=row["source_channel_id"],
        source_message_id=row["source_message_id"],
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
        thread_id=row["thread_id"],
        support=row["support"] if counts is None else counts[0],
        oppose=row["oppose"] if counts is None else counts[1],
        created_at=created,
        updated_at=updated,
        first_response_at=from_iso(row["first_response_at"]),
        decided_at=from_iso(row["decided_at"]),
        merged_into=row["merged_into"],
        hidden_from=IdeaStatus(row["hidden_from"]) if row["hidden_from"] else None,
        flag=row["flag"],
        card_version=row["card_version"],
        card_shown=row["card_shown"],
        tags=tags,
        contributors=contributors,
        image_name=row["image_name"],
        anonymous=bool(row["anonymous"]),
        challenge=challenge,
    )


# -- reads -------------------------------------------------------------------------------
def _one(
    conn: sqlite3.Connection, where: str, params: tuple[Any, ...], *, details: bool = True
) -> Idea | None:
    """The idea matching ``where`` (a condition on unique columns), or None."""
    row = conn.execute(f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE {where}", params).fetchone()
    return None if row is None else _idea(conn, row, details=details)


def get_by_number(conn: sqlite3.Connection, guild_id: int, number: int) -> Idea | None:
    if not fits_integer(number):  # no idea has it
        return None
    return _one(conn, "guild_id = ? AND number = ?", (guild_id, number))


def get_by_id(conn: sqlite3.Connection, idea_id: int, *, details: bool = True) -> Idea | None:
    """Idea ``idea_id``; without ``details`` its tags and contributors are left empty (two
    queries fewer, for callers that know them or do not show them)."""
    return _one(conn, "id = ?", (idea_id,), details=details)


def get_by_source(conn: sqlite3.Connection, guild_id: int, message_id: int) -> Idea | None:
    return _one(conn, "guild_id = ? AND source_message_id = ?", (guild_id, message_id))


def get_by_card(conn: sqlite3.Connection, card_message_id: int) -> Idea | None:
    return _one(conn, "card_message_id = ?", (card_message_id,))


def get_by_thread(conn: sqlite3.Connection, thread_id: int) -> Idea | None:
    return _one(conn, "thread_id = ?", (thread_id,))


def get_for_vote(
    conn: sqlite3.Connection, guild_id: int, number: int, member_id: int
) -> sqlite3.Row | None:
    """Idea #``number``'s row with ``member_id``'s current vote on it as ``my_vote`` (NULL
    for none), in one query. The vote path runs for every voter at once: it checks the
    row's few columns and builds the Idea once, after the vote (:func:`idea_from_row`)."""
    if not fits_integer(number):  # no idea has it
        return None
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {_IDEA_COLUMNS}, (SELECT v.value FROM idea_votes v WHERE v.idea_id = ideas.id "
        "AND v.member_id = ?) AS my_vote FROM ideas WHERE guild_id = ? AND number = ?",
        (member_id, guild_id, number),
    ).fetchone()
    return row


def idea_from_row(
    conn: sqlite3.Connection, row: sqlite3.Row, counts: tuple[int, int] | None = None
) -> Idea:
    """The full Idea of a row read by this module (e.g. :func:`get_for_vote`)."""
    return _idea(conn, row, counts=counts)


def vote_of(conn: sqlite3.Connection, idea_id: int, member_id: int) -> int:
    row = conn.execute(
        "SELECT value FROM idea_votes WHERE idea_id = ? AND member_id = ?", (idea_id, member_id)
    ).fetchone()
    return 0 if row is None else int(row[0])


def votes_of(conn: sqlite3.Connection, idea_id: int) -> dict[int, int]:
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT member_id, value FROM idea_votes WHERE idea_id = ?", (idea_id,)
        )
    }


def followers(conn: sqlite3.Connection, idea_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT member_id FROM idea_followers WHERE idea_id = ? ORDER BY member_id", (idea_id,)
        )
    ]


def last_submission_at(conn: sqlite3.Connection, guild_id: int, member_id: int) -> datetime | None:
    """When ``member_id``'s newest idea was posted (None if never)."""
    row = conn.execute(
        "SELECT max(posted_at) FROM ideas WHERE guild_id = ? AND submitted_by = ?",
        (guild_id, member_id),
    ).fetchone()
    return from_iso(row[0]) if row and row[0] else None


def submission_near(
    conn: sqlite3.Connection, guild_id: int, member_id: int, start: str, end: str
) -> datetime | None:
    """When an idea ``member_id`` submitted was posted strictly between ``start`` and
    ``end`` (the latest such time), or None: the cooldown window around a new one."""
    row = conn.execute(
        "SELECT max(posted_at) FROM ideas WHERE guild_id = ? AND submitted_by = ? "
        "AND posted_at > ? AND posted_at < ?",
        (guild_id, member_id, start, end),
    ).fetchone()
    return from_iso(row[0]) if row and row[0] else None


def active_block(
    conn: sqlite3.Connection, guild_id: int, member_id: int, now: str
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM member_blocks WHERE guild_id = ? AND member_id = ? "
        "AND (until_at IS NULL OR until_at > ?)",
        (guild_id, member_id, now),
    ).fetchone()
    return row


def _where(guild_id: int, filters: ListFilters) -> tuple[str, list[Any]]:
    clauses = ["i.guild_id = ?", f"i.status NOT IN {NOT_PUBLIC}", "i.merged_into IS NULL"]
    params: list[Any] = [guild_id]
    if filters.status is not None:
        clauses.append("i.status = ?")
        params.append(filters.status.value)
    elif not filters.include_closed:
        clauses.append("i.status IN ('new', 'under_review', 'planned', 'in_progress')")
    if filters.kind:
        clauses.append("i.kind = ?")
        params.append(filters.kind)
    if filters.author_id is not None:
        clauses.append("i.author_id = ?")
        params.append(filters.author_id)
        if not filters.include_anonymous:
            clauses.append("i.anonymous = 0")
    if filters.tag:
        clauses.append("EXISTS (SELECT 1 FROM idea_tags t WHERE t.idea_id = i.id AND t.tag = ?)")
        params.append(filters.tag)
    if filters.challenge is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM challenge_entries e JOIN challenges c ON c.id = e.challenge_id "
            "WHERE e.idea_id = i.id AND c.number = ?)"
        )
        params.append(filters.challenge if fits_integer(filters.challenge) else -1)
    return " AND ".join(clauses), params


def list_rows(
    conn: sqlite3.Connection, guild_id: int, filters: ListFilters, since_7d: str
) -> list[tuple[int, int, int, int, str]]:
    """(id, support, oppose, votes in the last 7 days, created_at) of every listed idea.

    Sorting by the domain's ranking formulas happens in Python on these small tuples; the
    page's ideas are then loaded by id.
    """
    where, params = _where(guild_id, filters)
    sql = (
        "SELECT i.id, i.support, i.oppose, "
        "(SELECT count(*) FROM idea_votes v WHERE v.idea_id = i.id AND v.value = 1 "
        " AND v.updated_at >= ?), i.created_at FROM ideas i WHERE " + where
    )
    return [tuple(r) for r in conn.execute(sql, [since_7d, *params])]


def load_ideas(conn: sqlite3.Connection, ids: Sequence[int], *, details: bool = True) -> list[Idea]:
    """The ideas of ``ids`` in that order (missing ones skipped); ``details`` as in
    :func:`get_by_id`."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE id IN ({marks})", list(ids))
    by_id = {row["id"]: _idea(conn, row, details=details) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def search(
    conn: sqlite3.Connection, guild_id: int, match: str, limit: int, offset: int
) -> tuple[list[Idea], int]:
    """Full-text search (FTS5, bm25 ranking) over visible ideas of one guild."""
    base = (
        "FROM ideas_fts f JOIN ideas i ON i.id = f.rowid WHERE ideas_fts MATCH ? "
        f"AND i.guild_id = ? AND i.status NOT IN {NOT_PUBLIC} AND i.merged_into IS NULL"
    )
    total = conn.execute(f"SELECT count(*) {base}", (match, guild_id)).fetchone()[0]
    rows = conn.execute(
        f"SELECT i.id {base} ORDER BY bm25(ideas_fts, 2.0, 1.0) LIMIT ? OFFSET ?",
        (match, guild_id, limit, offset),
    ).fetchall()
    return load_ideas(conn, [r[0] for r in rows]), int(total)


def similarity_corpus(conn: sqlite3.Connection, guild_id: int) -> list[tuple[int, str, str]]:
    """(id, title, body) of the ideas duplicates may be matched against."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT id, title, body FROM ideas WHERE guild_id = ? "
            "AND status NOT IN ('hidden', 'withdrawn', 'duplicate', 'pending_review', "
            "'rejected') AND merged_into IS NULL",
            (guild_id,),
        )
    ]


def reason_before_hiding(conn: sqlite3.Connection, idea_id: int) -> str | None:
    """The status reason an idea had when it was last hidden (kept in that event's detail)."""
    row = conn.execute(
        "SELECT detail FROM idea_events WHERE idea_id = ? AND kind = 'status' "
        "AND new_status = 'hidden' ORDER BY id DESC LIMIT 1",
        (idea_id,),
    ).fetchone()
    if row is None or not row[0]:
        return None
    reason: str | None = orjson.loads(row[0]).get("previous_reason")
    return reason


def events_of(conn: sqlite3.Connection, idea_id: int) -> list[IdeaEvent]:
    out = []
    for r in conn.execute(
        "SELECT id, kind, actor_id, old_status, new_status, reason, detail, created_at "
        "FROM idea_events WHERE idea_id = ? ORDER BY id",
        (idea_id,),
    ):
        created = from_iso(r["created_at"])
        assert created is not None
        out.append(
            IdeaEvent(
                r["id"],
                r["kind"],
                r["actor_id"],
                r["old_status"],
                r["new_status"],
                r["reason"],
                r["detail"],
                created,
            )
        )
    return out


def overdue(conn: sqlite3.Connection, guild_id: int, submitted_before: str) -> list[Idea]:
    """Ideas without a first response submitted before ``submitted_before``: `new` ones and
    those still waiting in the review queue (queue time counts toward the same clock)."""
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE guild_id = ? "
        "AND status IN ('new', 'pending_review') "
        "AND merged_into IS NULL AND created_at < ? ORDER BY created_at",
        (guild_id, submitted_before),
    ).fetchall()
    return [_idea(conn, row) for row in rows]


def review_queue(conn: sqlite3.Connection, guild_id: int) -> list[Idea]:
    """Ideas waiting for a moderator's review, oldest first."""
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE guild_id = ? AND status = 'pending_review' "
        "ORDER BY created_at, id",
        (guild_id,),
    ).fetchall()
    return [_idea(conn, row) for row in rows]


def reveal_author(conn: sqlite3.Connection, idea_id: int) -> None:
    """An anonymous idea shows its author from now on (the card is edited: new version)."""
    conn.execute(
        "UPDATE ideas SET anonymous = 0, card_version = card_version + 1, updated_at = ? "
        "WHERE id = ?",
        (now_iso(), idea_id),
    )


def open_cards(conn: sqlite3.Connection, guild_id: int) -> list[Idea]:
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE guild_id = ? AND card_message_id IS NOT NULL "
        "AND status IN ('new', 'under_review', 'planned', 'in_progress')",
        (guild_id,),
    ).fetchall()
    return [_idea(conn, row, details=False) for row in rows]


def most_supported(conn: sqlite3.Connection, guild_id: int, status: str, limit: int) -> list[Idea]:
    """The ``limit`` ideas of ``status`` with the most support (merged ones left out)."""
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE guild_id = ? AND status = ? "
        "AND merged_into IS NULL ORDER BY support DESC, id LIMIT ?",
        (guild_id, status, limit),
    ).fetchall()
    return [_idea(conn, row) for row in rows]


def stale_cards(conn: sqlite3.Connection, guild_id: int) -> list[Idea]:
    """Ideas whose card in Discord shows an older version than the store holds."""
    rows = conn.execute(
        f"SELECT {_IDEA_COLUMNS} FROM ideas WHERE guild_id = ? AND card_message_id IS NOT NULL "
        "AND card_version <> card_shown",
        (guild_id,),
    ).fetchall()
    return [_idea(conn, row) for row in rows]


def get_cursor(conn: sqlite3.Connection, channel_id: int) -> int | None:
    row = conn.execute(
        "SELECT last_message_id FROM channel_cursors WHERE channel_id = ?", (channel_id,)
    ).fetchone()
    return None if row is None else int(row[0])


def prefs(conn: sqlite3.Connection, guild_id: int, member_id: int) -> tuple[bool, datetime | None]:
    row = conn.execute(
        "SELECT follower_dms, last_dm_at FROM member_prefs WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    ).fetchone()
    if row is None:
        return False, None
    return bool(row[0]), from_iso(row[1])


def pending_notices(conn: sqlite3.Connection, guild_id: int, member_id: int) -> list[Notice]:
    out = []
    for r in conn.execute(
        "SELECT n.id, n.member_id, i.number, i.title, n.old_status, n.new_status, n.reason, "
        "n.created_at FROM idea_notices n JOIN ideas i ON i.id = n.idea_id "
        "WHERE n.guild_id = ? AND n.member_id = ? AND n.sent_at IS NULL ORDER BY n.id",
        (guild_id, member_id),
    ):
        created = from_iso(r[7])
        assert created is not None
        out.append(Notice(r[0], r[1], r[2], r[3], r[4], r[5], r[6], created))
    return out


# -- writes ------------------------------------------------------------------------------
def insert_idea(
    conn: sqlite3.Connection, draft: IdeaDraft, posted_at: str, status: str = "new"
) -> int:
    now = now_iso()
    number = conn.execute(
        "SELECT coalesce(max(number), 0) + 1 FROM ideas WHERE guild_id = ?", (draft.guild_id,)
    ).fetchone()[0]
    cur = conn.execute(
        "INSERT INTO ideas (guild_id, number, kind, title, body, author_id, source, "
        "source_channel_id, source_message_id, thread_id, created_at, updated_at, "
        "submitted_by, posted_at, status, anonymous) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            draft.guild_id,
            number,
            draft.kind,
            draft.title,
            draft.body,
            draft.author_id,
            draft.source,
            draft.source_channel_id,
            draft.source_message_id,
            draft.thread_id,
            now,
            now,
            draft.submitter,
            posted_at,
            status,
            int(draft.anonymous),
        ),
    )
    idea_id = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT OR IGNORE INTO idea_tags (idea_id, guild_id, tag) VALUES (?, ?, ?)",
        [(idea_id, draft.guild_id, tag) for tag in draft.tags],
    )
    for member_id in draft.contributors:
        if member_id != draft.author_id:
            add_contributor(conn, idea_id, draft.guild_id, member_id, "capturer")
    follow(conn, idea_id, draft.guild_id, draft.author_id)
    add_event(
        conn,
        draft.guild_id,
        idea_id,
        "submitted",
        draft.author_id,
        None,
        status,
        None,
        {"source": draft.source},
    )
    return idea_id


def add_contributor(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, member_id: int, role: str
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO idea_contributors (idea_id, member_id, guild_id, role) "
        "VALUES (?, ?, ?, ?)",
        (idea_id, member_id, guild_id, role),
    )


def follow(conn: sqlite3.Connection, idea_id: int, guild_id: int, member_id: int) -> None:
    if member_id == FORMER_MEMBER:
        return
    conn.execute(
        "INSERT OR IGNORE INTO idea_followers (idea_id, member_id, guild_id) VALUES (?, ?, ?)",
        (idea_id, member_id, guild_id),
    )


def unfollow(conn: sqlite3.Connection, idea_id: int, member_id: int) -> bool:
    return (
        conn.execute(
            "DELETE FROM idea_followers WHERE idea_id = ? AND member_id = ?", (idea_id, member_id)
        ).rowcount
        == 1
    )


def add_event(
    conn: sqlite3.Connection,
    guild_id: int,
    idea_id: int,
    kind: str,
    actor_id: int | None,
    old_status: str | None,
    new_status: str | None,
    reason: str | None,
    detail: dict[str, Any] | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO idea_events (guild_id, idea_id, kind, actor_id, old_status, new_status, "
        "reason, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            guild_id,
            idea_id,
            kind,
            actor_id,
            old_status,
            new_status,
            reason,
            orjson.dumps(detail).decode() if detail else None,
            now_iso(),
        ),
    )
    return int(cur.lastrowid or 0)


def set_card(
    conn: sqlite3.Connection,
    idea_id: int,
    channel_id: int,
    message_id: int,
    thread_id: int | None,
    shown: int,
) -> None:
    """Record the posted card (and its thread) and the version it shows."""
    conn.execute(
        "UPDATE ideas SET card_channel_id = ?, card_message_id = ?, "
        "thread_id = coalesce(thread_id, ?), card_shown = ? WHERE id = ?",
        (channel_id, message_id, thread_id, shown, idea_id),
    )


def mark_card_shown(conn: sqlite3.Connection, idea_id: int, version: int) -> None:
    """The card now shows ``version`` (never moves back: edits may finish out of order)."""
    conn.execute(
        "UPDATE ideas SET card_shown = ? WHERE id = ? AND card_shown < ?",
        (version, idea_id, version),
    )


def set_vote(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, member_id: int, value: int
) -> int:
    """Set (value ±1) or remove (0) a member's vote; keeps the idea's counts in step.

    Returns the previous value (0 when there was none).
    """
    previous = vote_of(conn, idea_id, member_id)
    if previous != value:
        apply_vote(conn, idea_id, guild_id, member_id, previous, value)
    return previous


def apply_vote(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, member_id: int, previous: int, value: int
) -> tuple[int, int]:
    """Change a member's vote from ``previous`` (as read in this transaction) to ``value``
    (±1, or 0 to remove it) and the idea's counts with it; returns the new (support,
    oppose), read back by the same UPDATE."""
    now = now_iso()
    if value == 0:
        conn.execute(
            "DELETE FROM idea_votes WHERE idea_id = ? AND member_id = ?", (idea_id, member_id)
        )
    else:
        conn.execute(
            "INSERT INTO idea_votes (idea_id, member_id, guild_id, value, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idea_id, member_id) DO UPDATE SET "
            "value = excluded.value, updated_at = excluded.updated_at",
            (idea_id, member_id, guild_id, value, now, now),
        )
    support = (value == 1) - (previous == 1)
    oppose = (value == -1) - (previous == -1)
    # fetchall, not fetchone: the statement must run to its end so that it is reset
    # before the savepoint is released.
    (counts,) = conn.execute(
        "UPDATE ideas SET support = support + ?, oppose = oppose + ?, "
        "card_version = card_version + 1 WHERE id = ? RETURNING support, oppose",
        (support, oppose, idea_id),
    ).fetchall()
    return int(counts[0]), int(counts[1])


def set_status(
    conn: sqlite3.Connection,
    idea_id: int,
    new: IdeaStatus,
    reason: str | None,
    *,
    hidden_from: str | None,
    first_response: bool,
    decision: bool,
) -> None:
    now = now_iso()
    conn.execute(
        "UPDATE ideas SET status = ?, status_reason = ?, hidden_from = ?, updated_at = ?, "
        "first_response_at = CASE WHEN ? AND first_response_at IS NULL THEN ? "
        "ELSE first_response_at END, "
        "decided_at = CASE WHEN ? AND decided_at IS NULL THEN ? ELSE decided_at END "
        "WHERE id = ?",
        (new.value, reason, hidden_from, now, first_response, now, decision, now, idea_id),
    )


def set_text(conn: sqlite3.Connection, idea_id: int, title: str, body: str) -> None:
    conn.execute(
        "UPDATE ideas SET title = ?, body = ?, updated_at = ? WHERE id = ?",
        (title, body, now_iso(), idea_id),
    )


def set_flag(conn: sqlite3.Connection, idea_id: int, flag: str | None) -> None:
    conn.execute(
        "UPDATE ideas SET flag = ?, updated_at = ? WHERE id = ?", (flag, now_iso(), idea_id)
    )


def set_merged_into(conn: sqlite3.Connection, idea_id: int, target_id: int | None) -> None:
    conn.execute("UPDATE ideas SET merged_into = ? WHERE id = ?", (target_id, idea_id))


def merge_snapshot(conn: sqlite3.Connection, source_id: int, target_id: int) -> dict[str, Any]:
    """Everything a merge changes, as it is before the merge."""
    idea = conn.execute(
        "SELECT status, status_reason, hidden_from FROM ideas WHERE id = ?", (source_id,)
    ).fetchone()
    return {
        "source_votes": votes_of(conn, source_id),
        "target_votes": votes_of(conn, target_id),
        "source_followers": followers(conn, source_id),
        "target_followers": followers(conn, target_id),
        "target_contributors": [
            [r[0], r[1]]
            for r in conn.execute(
                "SELECT member_id, role FROM idea_contributors WHERE idea_id = ?", (target_id,)
            )
        ],
        "source_status": idea["status"],
        "source_reason": idea["status_reason"],
    }


def insert_merge(
    conn: sqlite3.Connection,
    guild_id: int,
    source_id: int,
    target_id: int,
    actor_id: int,
    snapshot: dict[str, Any],
) -> int:
    cur = conn.execute(
        "INSERT INTO idea_merges (guild_id, source_id, target_id, actor_id, snapshot, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            guild_id,
            source_id,
            target_id,
            actor_id,
            # Vote maps are keyed by member id (int); JSON keys are strings, read back by int().
            orjson.dumps(snapshot, option=orjson.OPT_NON_STR_KEYS).decode(),
            now_iso(),
        ),
    )
    return int(cur.lastrowid or 0)


def open_merge(conn: sqlite3.Connection, source_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM idea_merges WHERE source_id = ? AND undone_at IS NULL "
        "ORDER BY id DESC LIMIT 1",
        (source_id,),
    ).fetchone()
    return row


def close_merge(conn: sqlite3.Connection, merge_id: int) -> None:
    conn.execute("UPDATE idea_merges SET undone_at = ? WHERE id = ?", (now_iso(), merge_id))


def replace_votes(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, votes: dict[int, int]
) -> None:
    """Make an idea's votes exactly ``votes`` (member → ±1) and its counts match."""
    conn.execute("DELETE FROM idea_votes WHERE idea_id = ?", (idea_id,))
    now = now_iso()
    conn.executemany(
        "INSERT INTO idea_votes (idea_id, member_id, guild_id, value, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(idea_id, m, guild_id, v, now, now) for m, v in votes.items()],
    )
    recount(conn, idea_id)


def recount(conn: sqlite3.Connection, idea_id: int) -> None:
    conn.execute(
        "UPDATE ideas SET support = (SELECT count(*) FROM idea_votes WHERE idea_id = ?1 "
        "AND value = 1), oppose = (SELECT count(*) FROM idea_votes WHERE idea_id = ?1 "
        "AND value = -1) WHERE id = ?1",
        (idea_id,),
    )


def replace_followers(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, members: Iterable[int]
) -> None:
    conn.execute("DELETE FROM idea_followers WHERE idea_id = ?", (idea_id,))
    conn.executemany(
        "INSERT INTO idea_followers (idea_id, member_id, guild_id) VALUES (?, ?, ?)",
        [(idea_id, m, guild_id) for m in members],
    )


def replace_contributors(
    conn: sqlite3.Connection, idea_id: int, guild_id: int, rows: Iterable[Sequence[Any]]
) -> None:
    conn.execute("DELETE FROM idea_contributors WHERE idea_id = ?", (idea_id,))
    conn.executemany(
        "INSERT INTO idea_contributors (idea_id, member_id, guild_id, role) VALUES (?, ?, ?, ?)",
        [(idea_id, r[0], guild_id, r[1]) for r in rows],
    )


def set_block(
    conn: sqlite3.Connection,
    guild_id: int,
    member_id: int,
    until: str | None,
    reason: str,
    actor_id: int,
) -> None:
    conn.execute(
        "INSERT INTO member_blocks (guild_id, member_id, until_at, reason, actor_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, member_id) DO UPDATE SET "
        "until_at = excluded.until_at, reason = excluded.reason, actor_id = excluded.actor_id, "
        "created_at = excluded.created_at",
        (guild_id, member_id, until, reason, actor_id, now_iso()),
    )


def remove_block(conn: sqlite3.Connection, guild_id: int, member_id: int) -> bool:
    return (
        conn.execute(
            "DELETE FROM member_blocks WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
        ).rowcount
        == 1
    )


def set_follower_dms(conn: sqlite3.Connection, guild_id: int, member_id: int, on: bool) -> None:
    conn.execute(
        "INSERT INTO member_prefs (guild_id, member_id, follower_dms) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id, member_id) DO UPDATE SET follower_dms = excluded.follower_dms",
        (guild_id, member_id, int(on)),
    )


def dm_followers(conn: sqlite3.Connection, idea_id: int, exclude: int) -> list[int]:
    """Followers of an idea who asked for DMs (the author excluded: always told)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT f.member_id FROM idea_followers f JOIN member_prefs p "
            "ON p.guild_id = f.guild_id AND p.member_id = f.member_id "
            "WHERE f.idea_id = ? AND p.follower_dms = 1 AND f.member_id != ?",
            (idea_id, exclude),
        )
    ]


def queue_notice(
    conn: sqlite3.Connection,
    guild_id: int,
    member_id: int,
    idea_id: int,
    old: str,
    new: str,
    reason: str | None,
) -> None:
    conn.execute(
        "INSERT INTO idea_notices (guild_id, member_id, idea_id, old_status, new_status, reason, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, member_id, idea_id, old, new, reason, now_iso()),
    )


def mark_notices_sent(
    conn: sqlite3.Connection, guild_id: int, member_id: int, ids: Sequence[int]
) -> None:
    now = now_iso()
    conn.executemany(
        "UPDATE idea_notices SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
        [(now, i) for i in ids],
    )
    conn.execute(
        "INSERT INTO member_prefs (guild_id, member_id, last_dm_at) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id, member_id) DO UPDATE SET last_dm_at = excluded.last_dm_at",
        (guild_id, member_id, now),
    )


def first_comment(conn: sqlite3.Connection, idea_id: int, guild_id: int, member_id: int) -> bool:
    return (
        conn.execute(
            "INSERT OR IGNORE INTO idea_comments (idea_id, member_id, guild_id, first_at) "
            "VALUES (?, ?, ?, ?)",
            (idea_id, member_id, guild_id, now_iso()),
        ).rowcount
        == 1
    )


def advance_cursor(
    conn: sqlite3.Connection, guild_id: int, channel_id: int, message_id: int
) -> None:
    conn.execute(
        "INSERT INTO channel_cursors (guild_id, channel_id, last_message_id) VALUES (?, ?, ?) "
        "ON CONFLICT (channel_id) DO UPDATE SET last_message_id = "
        "max(last_message_id, excluded.last_message_id)",
        (guild_id, channel_id, message_id),
    )


def start_cursor(conn: sqlite3.Connection, guild_id: int, channel_id: int, message_id: int) -> None:
    """Catch-up in ``channel_id`` starts after ``message_id`` (set when it becomes watched)."""
    conn.execute(
        "INSERT INTO channel_cursors (guild_id, channel_id, last_message_id) VALUES (?, ?, ?) "
        "ON CONFLICT (channel_id) DO UPDATE SET last_message_id = excluded.last_message_id",
        (guild_id, channel_id, message_id),
    )


def forget_member(conn: sqlite3.Connection, guild_id: int, member_id: int) -> dict[str, int]:
    """Anonymise a member's ideas and remove their votes, follows and preferences."""
    report: dict[str, int] = {}
    report["ideas anonymised"] = conn.execute(
        "UPDATE ideas SET author_id = ? WHERE guild_id = ? AND author_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    conn.execute(
        "UPDATE ideas SET submitted_by = ? WHERE guild_id = ? AND submitted_by = ?",
        (FORMER_MEMBER, guild_id, member_id),
    )
    voted = conn.execute(
        "SELECT v.idea_id, v.value, i.author_id FROM idea_votes v JOIN ideas i ON i.id = v.idea_id "
        "WHERE v.guild_id = ? AND v.member_id = ?",
        (guild_id, member_id),
    ).fetchall()
    report["votes removed"] = conn.execute(
        "DELETE FROM idea_votes WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
    ).rowcount
    for idea_id, value, author_id in voted:
        recount(conn, idea_id)
        # As if the member had retracted: what the votes paid (points) follows them out.
        emit_event(
            conn,
            guild_id,
            events.IDEA_VOTE_RETRACTED,
            subject_id=idea_id,
            actor_id=FORMER_MEMBER,
            payload={"author_id": author_id, "voter_id": member_id, "previous": value},
        )
    for table in (
        "idea_followers",
        "idea_contributors",
        "idea_comments",
        "idea_notices",
        "member_prefs",
        "member_blocks",
    ):
        count = conn.execute(
            f"DELETE FROM {table} WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
        ).rowcount
        if count:
            report[f"{table.replace('_', ' ')} removed"] = count
    conn.execute(
        "UPDATE idea_events SET actor_id = ? WHERE guild_id = ? AND actor_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    )
    return report
