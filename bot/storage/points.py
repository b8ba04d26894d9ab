"""SQL of the points feature: ledger, totals, daily caps, vote pairs, idea statistics,
engagement, seasons, role notices and the outbox cursor.

Write functions are called inside a unit of :meth:`Database.write` (one transaction, so a
cap check and the insert it allows cannot be separated); read functions run on the
reader connection through :meth:`Database.read`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from bot.domain.points_model import LedgerEntry
from bot.storage.common import insert_values


def ts(moment: datetime) -> str:
    """ISO text that always carries microseconds, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


# -- outbox --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One outbox row, its payload decoded (malformed JSON reads as {})."""

    id: int
    guild_id: int
    kind: str
    subject_id: int | None
    actor_id: int | None
    payload: dict[str, Any]
    created_at: datetime


def get_cursor(conn: sqlite3.Connection, consumer: str) -> int:
    """How far ``consumer`` has read the outbox (0: from the start)."""
    row = conn.execute(
        "SELECT last_id FROM outbox_cursors WHERE consumer = ?", (consumer,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def set_cursor(conn: sqlite3.Connection, consumer: str, last_id: int) -> None:
    """Record that ``consumer`` has applied every event up to ``last_id``."""
    conn.execute(
        "INSERT INTO outbox_cursors (consumer, last_id) VALUES (?, ?) "
        "ON CONFLICT (consumer) DO UPDATE SET last_id = excluded.last_id",
        (consumer, last_id),
    )


def events_after(conn: sqlite3.Connection, after: int, limit: int) -> list[OutboxEvent]:
    """Outbox events with id > ``after``, oldest first."""
    rows = conn.execute(
        "SELECT id, guild_id, kind, subject_id, actor_id, payload, created_at FROM outbox "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
        OutboxEvent(
            int(r[0]),
            int(r[1]),
            str(r[2]),
            None if r[3] is None else int(r[3]),
            None if r[4] is None else int(r[4]),
            _payload(r[5]),
            datetime.fromisoformat(r[6]),
        )
        for r in rows
    ]


def _payload(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def guilds_after(conn: sqlite3.Connection, after: int, limit: int) -> set[int]:
    """Guilds of the next ``limit`` events (their settings are loaded before the unit)."""
    rows = conn.execute(
        "SELECT DISTINCT guild_id FROM (SELECT guild_id FROM outbox WHERE id > ? "
        "ORDER BY id LIMIT ?)",
        (after, limit),
    ).fetchall()
    return {int(r[0]) for r in rows}


# -- ledger and totals ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewEntry:
    """A ledger entry to append (times as ISO text from :func:`ts`)."""

    guild_id: int
    member_id: int
    delta: int
    kind: str
    reason: str
    source_kind: str
    source_id: int | None
    award_key: str
    actor_id: int | None
    withheld: int
    created_at: str


#: Cap groups and the totals columns that count them (the names are fixed here, never
#: taken from input).
CAP_COLUMNS: dict[str, str] = {
    "votes": "cap_votes",
    "ideas": "cap_ideas",
    "helpful": "cap_helpful",
    "participation": "cap_participation",
}
_CAP_ORDER = tuple(CAP_COLUMNS)


def precheck(
    conn: sqlite3.Connection,
    guild_id: int,
    award_key: str,
    member_id: int,
    cap_group: str | None,
    day: str,
) -> tuple[bool, int]:
    """(the key was already used, points of ``cap_group`` paid to the member on ``day``).

    One statement for both questions: it runs once per award, on the hot path.
    """
    if cap_group is None:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM points_ledger WHERE guild_id = ? AND award_key = ?), 0",
            (guild_id, award_key),
        ).fetchone()
    else:
        column = CAP_COLUMNS[cap_group]
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM points_ledger WHERE guild_id = ?1 AND award_key = ?2), "
            f"COALESCE((SELECT {column} FROM points_totals WHERE guild_id = ?1 "
            "AND member_id = ?3 AND cap_day = ?4), 0)",
            (guild_id, award_key, member_id, day),
        ).fetchone()
    return bool(row[0]), int(row[1])


def insert_entry(conn: sqlite3.Connection, entry: NewEntry) -> int | None:
    """Append an entry; None when its award key was used before (nothing written)."""
    cur = conn.execute(
        "INSERT INTO points_ledger (guild_id, member_id, delta, kind, reason, source_kind, "
        "source_id, award_key, actor_id, withheld, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (guild_id, award_key) DO NOTHING",
        (
            entry.guild_id,
            entry.member_id,
            entry.delta,
            entry.kind,
            entry.reason,
            entry.source_kind,
            entry.source_id,
            entry.award_key,
            entry.actor_id,
            entry.withheld,
            entry.created_at,
        ),
    )
    return int(cur.lastrowid or 0) if cur.rowcount == 1 else None


# Adds to the totals and, in the same statement, to the day's cap counters. A row keeps
# the counters of one day (only the current day's can limit an award): a later day starts
# them again; an earlier one (a clock set back) leaves them alone.
_TOTALS_HEAD = (
    "INSERT INTO points_totals (guild_id, member_id, all_time, season, updated_at, cap_day, "
    + ", ".join(CAP_COLUMNS.values())
    + ")"
)
_TOTALS_ROW = "(?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
_TOTALS_TAIL = (
    " ON CONFLICT (guild_id, member_id) DO UPDATE SET "
    "all_time = all_time + excluded.all_time, season = season + excluded.season, "
    "updated_at = excluded.updated_at, "
    + "".join(
        f"{c} = CASE WHEN excluded.cap_day = cap_day THEN {c} + excluded.{c} "
        f"WHEN excluded.cap_day > cap_day THEN excluded.{c} ELSE {c} END, "
        for c in CAP_COLUMNS.values()
    )
    + "cap_day = MAX(cap_day, excluded.cap_day)"
)
_TOTALS_UPSERT = f"{_TOTALS_HEAD} VALUES {_TOTALS_ROW}{_TOTALS_TAIL}"


def totals_row(
    guild_id: int, member_id: int, delta: int, at: str, day: str, capped: Mapping[str, int]
) -> tuple[Any, ...]:
    """Parameters of one totals upsert: ``delta`` points, ``capped`` counted per cap group."""
    return (guild_id, member_id, delta, at, day, *(capped.get(g, 0) for g in _CAP_ORDER))


def add_to_totals(
    conn: sqlite3.Connection,
    guild_id: int,
    member_id: int,
    delta: int,
    at: str,
    day: str,
    capped: Mapping[str, int] | None = None,
) -> None:
    """Add ``delta`` to the member's all-time and season totals and ``capped`` to the
    day's cap counters (an upsert, never a read-then-write, so nothing can slip between
    reading a balance and writing it)."""
    conn.execute(_TOTALS_UPSERT, totals_row(guild_id, member_id, delta, at, day, capped or {}))


def add_to_totals_many(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """:func:`add_to_totals` for rows made by :func:`totals_row`."""
    insert_values(conn, _TOTALS_HEAD, _TOTALS_ROW, rows, _TOTALS_TAIL)


def give_back_cap(
    conn: sqlite3.Connection, guild_id: int, member_id: int, cap_group: str, day: str, amount: int
) -> None:
    """Return ``amount`` to the cap of ``day`` (a retracted vote's point), if the member's
    counters are still that day's; an older day's can no longer limit anything."""
    column = CAP_COLUMNS[cap_group]
    conn.execute(
        f"UPDATE points_totals SET {column} = MAX(0, {column} - ?) "
        "WHERE guild_id = ? AND member_id = ? AND cap_day = ?",
        (amount, guild_id, member_id, day),
    )


# Set-wise versions of the above, for many awards in one unit: one statement per question
# instead of one per award (the per-statement overhead dominates the SQL itself).
def existing_keys(conn: sqlite3.Connection, guild_id: int, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` were already used in the guild."""
    found: set[str] = set()
    ordered = list(keys)
    for start in range(0, len(ordered), 500):  # SQLite's variable limit
        chunk = ordered[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            str(r[0])
            for r in conn.execute(
                f"SELECT award_key FROM points_ledger WHERE guild_id = ? "
                f"AND award_key IN ({marks})",
                (guild_id, *chunk),
            )
        )
    return found


def caps_used(
    conn: sqlite3.Connection, guild_id: int, day: str, member_ids: Collection[int]
) -> dict[int, tuple[int, ...]]:
    """Each member's cap counters of ``day``, in :data:`CAP_COLUMNS` order (absent: none
    used)."""
    used: dict[int, tuple[int, ...]] = {}
    ordered = list(member_ids)
    columns = ", ".join(CAP_COLUMNS.values())
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT member_id, {columns} FROM points_totals WHERE guild_id = ? "
            f"AND cap_day = ? AND member_id IN ({marks})",
            (guild_id, day, *chunk),
        ):
            used[int(row[0])] = tuple(row[1:])
    return used


def max_entry_id(conn: sqlite3.Connection) -> int:
    """The highest ledger id (the writer is the only writer, so ids after it are free)."""
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM points_ledger").fetchone()[0])


def insert_entries(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Append entries given as (id, guild, member, delta, kind, reason, source_kind,
    source_id, award_key, actor, withheld, created_at); returns how many went in (an entry
    whose award key was used before is left out)."""
    return insert_values(
        conn,
        "INSERT INTO points_ledger (id, guild_id, member_id, delta, kind, reason, source_kind, "
        "source_id, award_key, actor_id, withheld, created_at)",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
        " ON CONFLICT (guild_id, award_key) DO NOTHING",
    )


def entry_by_key(conn: sqlite3.Connection, guild_id: int, award_key: str) -> sqlite3.Row | None:
    """The entry recorded under ``award_key``, if any."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM points_ledger WHERE guild_id = ? AND award_key = ?", (guild_id, award_key)
    ).fetchone()
    return row


def net_by_member_and_kind(
    conn: sqlite3.Connection, guild_id: int, source_kind: str, source_id: int
) -> list[tuple[int, str, int]]:
    """What a source (an idea...) currently stands at per member and kind."""
    rows = conn.execute(
        "SELECT member_id, kind, SUM(delta) FROM points_ledger "
        "WHERE guild_id = ? AND source_kind = ? AND source_id = ? AND member_id != 0 "
        "GROUP BY member_id, kind HAVING SUM(delta) != 0 ORDER BY member_id, kind",
        (guild_id, source_kind, source_id),
    ).fetchall()
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


@dataclass(frozen=True, slots=True)
class KeyedEntry:
    """A stored entry with its recipient and award key: what undoing an award reads."""

    id: int
    member_id: int
    delta: int
    kind: str
    award_key: str
    actor_id: int | None
    created_at: datetime


_KEYED_COLUMNS = "id, member_id, delta, kind, award_key, actor_id, created_at"


def _keyed(row: sqlite3.Row) -> KeyedEntry:
    return KeyedEntry(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        str(row[3]),
        str(row[4]),
        None if row[5] is None else int(row[5]),
        datetime.fromisoformat(row[6]),
    )


def source_entries(
    conn: sqlite3.Connection, guild_id: int, source_kind: str, source_id: int, kind: str
) -> list[KeyedEntry]:
    """Entries of one kind a source produced, oldest first (the source index)."""
    rows = conn.execute(
        f"SELECT {_KEYED_COLUMNS} FROM points_ledger "
        "WHERE guild_id = ? AND source_kind = ? AND source_id = ? AND kind = ? ORDER BY id",
        (guild_id, source_kind, source_id, kind),
    ).fetchall()
    return [_keyed(r) for r in rows]


def entries_with_key_prefix(
    conn: sqlite3.Connection, guild_id: int, prefix: str
) -> list[KeyedEntry]:
    """Entries whose award key starts with ``prefix`` (a range on the unique index)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute(
        f"SELECT {_KEYED_COLUMNS} FROM points_ledger WHERE guild_id = ? AND award_key >= ? "
        "AND award_key < ? ORDER BY id",
        (guild_id, prefix, upper),
    ).fetchall()
    return [_keyed(r) for r in rows]


# -- vote pairs ----------------------------------------------------------------------------
@dataclass(slots=True)
class VotePair:
    """What one (idea, voter) vote stands at and what it pays the author."""

    id: int
    guild_id: int
    idea_id: int
    voter_id: int | None
    author_id: int
    standing: int
    paid: int
    paid_day: str | None
    first_paid_at: str | None
    seq: int
    parked: int = 0
    moved_from: int | None = None
    event_id: int = 0  # the outbox event that last set ``standing``


_PAIR_COLUMNS = (
    "id, guild_id, idea_id, voter_id, author_id, standing, paid, paid_day, first_paid_at, seq, "
    "parked, moved_from, event_id"
)


def _pair(row: sqlite3.Row | tuple[Any, ...]) -> VotePair:
    return VotePair(*row)


def get_or_create_pair(
    conn: sqlite3.Connection, guild_id: int, idea_id: int, voter_id: int, author_id: int
) -> VotePair:
    """The (idea, voter) pair, created on the first event about it."""
    row = conn.execute(
        f"SELECT {_PAIR_COLUMNS} FROM points_vote_pairs "
        "WHERE guild_id = ? AND idea_id = ? AND voter_id = ?",
        (guild_id, idea_id, voter_id),
    ).fetchone()
    if row is not None:
        return _pair(row)
    cur = conn.execute(
        "INSERT INTO points_vote_pairs (guild_id, idea_id, voter_id, author_id) "
        "VALUES (?, ?, ?, ?)",
        (guild_id, idea_id, voter_id, author_id),
    )
    return VotePair(
        int(cur.lastrowid or 0), guild_id, idea_id, voter_id, author_id, 0, 0, None, None, 0
    )


def save_pair(conn: sqlite3.Connection, pair: VotePair) -> None:
    """Write back a pair's state (after it was settled)."""
    conn.execute(
        "UPDATE points_vote_pairs SET author_id = ?, standing = ?, paid = ?, paid_day = ?, "
        "first_paid_at = ?, seq = ?, parked = ?, moved_from = ?, event_id = ? WHERE id = ?",
        (
            pair.author_id,
            pair.standing,
            pair.paid,
            pair.paid_day,
            pair.first_paid_at,
            pair.seq,
            pair.parked,
            pair.moved_from,
            pair.event_id,
            pair.id,
        ),
    )


def pairs_of_idea(conn: sqlite3.Connection, guild_id: int, idea_id: int) -> list[VotePair]:
    """Every vote pair of an idea, oldest first."""
    rows = conn.execute(
        f"SELECT {_PAIR_COLUMNS} FROM points_vote_pairs WHERE guild_id = ? AND idea_id = ? "
        "ORDER BY id",
        (guild_id, idea_id),
    ).fetchall()
    return [_pair(r) for r in rows]


def recent_pair_awards(
    conn: sqlite3.Connection,
    guild_id: int,
    voter_id: int,
    author_id: int,
    since: str,
    exclude_pair: int,
) -> int:
    """Distinct ideas on which ``voter_id`` started paying ``author_id`` since ``since``."""
    row = conn.execute(
        "SELECT COUNT(*) FROM points_vote_pairs WHERE guild_id = ? AND voter_id = ? "
        "AND author_id = ? AND first_paid_at >= ? AND id != ?",
        (guild_id, voter_id, author_id, since, exclude_pair),
    ).fetchone()
    return int(row[0])


# -- idea statistics and engagement --------------------------------------------------------
@dataclass(slots=True)
class IdeaStats:
    """What the innovator score and hiding need to know about one idea."""

    guild_id: int
    idea_id: int
    author_id: int
    status: str
    hidden: bool
    hide_seq: int
    support_votes: int
    submitted_at: str
    planned_at: str | None
    implemented_at: str | None


def get_or_create_stats(
    conn: sqlite3.Connection, guild_id: int, idea_id: int, author_id: int, at: str
) -> IdeaStats:
    """The idea's statistics row; created when the first event about it arrives."""
    conn.execute(
        "INSERT INTO points_idea_stats (guild_id, idea_id, author_id, submitted_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, idea_id) DO NOTHING",
        (guild_id, idea_id, author_id, at),
    )
    row = conn.execute(
        "SELECT guild_id, idea_id, author_id, status, hidden, hide_seq, support_votes, "
        "submitted_at, planned_at, implemented_at FROM points_idea_stats "
        "WHERE guild_id = ? AND idea_id = ?",
        (guild_id, idea_id),
    ).fetchone()
    return IdeaStats(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        str(row[3]),
        bool(row[4]),
        int(row[5]),
        int(row[6]),
        str(row[7]),
        row[8],
        row[9],
    )


def save_stats(conn: sqlite3.Connection, stats: IdeaStats) -> None:
    """Write back an idea's statistics."""
    conn.execute(
        "UPDATE points_idea_stats SET author_id = ?, status = ?, hidden = ?, hide_seq = ?, "
        "support_votes = ?, submitted_at = ?, planned_at = ?, implemented_at = ? "
        "WHERE guild_id = ? AND idea_id = ?",
        (
            stats.author_id,
            stats.status,
            int(stats.hidden),
            stats.hide_seq,
            stats.support_votes,
            stats.submitted_at,
            stats.planned_at,
            stats.implemented_at,
            stats.guild_id,
            stats.idea_id,
        ),
    )


def add_engagement(
    conn: sqlite3.Connection, guild_id: int, member_id: int, idea_id: int, at: str
) -> None:
    """Note that a member voted on or discussed an idea (first time counts)."""
    conn.execute(
        "INSERT INTO points_engagement (guild_id, member_id, idea_id, first_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (guild_id, member_id, idea_id, at),
    )


# -- reads: members, leaderboards, innovators ----------------------------------------------
def member_totals(conn: sqlite3.Connection, guild_id: int, member_id: int) -> tuple[int, int]:
    """(all-time, season) points of one member; (0, 0) without a row."""
    row = conn.execute(
        "SELECT all_time, season FROM points_totals WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def totals_of(
    conn: sqlite3.Connection, guild_id: int, member_ids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """(all-time, season) of each member that has a row."""
    out: dict[int, tuple[int, int]] = {}
    ids = list(member_ids)
    for start in range(0, len(ids), 500):  # SQLite's variable limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT member_id, all_time, season FROM points_totals WHERE guild_id = ? "
            f"AND member_id IN ({marks})",
            (guild_id, *chunk),
        ):
            out[int(row[0])] = (int(row[1]), int(row[2]))
    return out


def rank_of(conn: sqlite3.Connection, guild_id: int, all_time: int) -> int:
    """1 + members with more all-time points (an index range count)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM points_totals WHERE guild_id = ? AND all_time > ?",
        (guild_id, all_time),
    ).fetchone()
    return int(row[0]) + 1


def members_above(conn: sqlite3.Connection, guild_id: int, all_time: int) -> list[int]:
    """Members with more all-time points (the caller leaves out who left, staff...)."""
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT member_id FROM points_totals WHERE guild_id = ? AND all_time > ?",
            (guild_id, all_time),
        )
    ]


#: Leaves out a member's entries paid for an anonymous idea they wrote ("submitted idea #8"
#: would name its author): for anyone but that member (moderators use /idea show).
_NOT_ANONYMOUS_AUTHOR = (
    " AND NOT (source_kind = 'idea' AND EXISTS (SELECT 1 FROM ideas i WHERE i.id = source_id "
    "AND i.anonymous = 1 AND i.author_id = points_ledger.member_id))"
)


def recent_entries(
    conn: sqlite3.Connection,
    guild_id: int,
    member_id: int,
    limit: int,
    *,
    hide_anonymous: bool = False,
) -> list[LedgerEntry]:
    """A member's latest ledger entries, newest first; with ``hide_anonymous``, none of
    those that their anonymous ideas paid them (the list is for someone else's eyes)."""
    rows = conn.execute(
        "SELECT id, delta, kind, reason, source_kind, source_id, actor_id, withheld, "
        "created_at FROM points_ledger WHERE guild_id = ? AND member_id = ?"
        + (_NOT_ANONYMOUS_AUTHOR if hide_anonymous else "")
        + " ORDER BY id DESC LIMIT ?",
        (guild_id, member_id, limit),
    ).fetchall()
    return [
        LedgerEntry(
            int(r["id"]),
            int(r["delta"]),
            str(r["kind"]),
            str(r["reason"]),
            str(r["source_kind"]),
            r["source_id"],
            r["actor_id"],
            int(r["withheld"]),
            datetime.fromisoformat(r["created_at"]),
        )
        for r in rows
    ]


def ledger_sums(conn: sqlite3.Connection, guild_id: int) -> dict[int, int]:
    """Every member's ledger sum (for consistency checks and tests)."""
    return {
        int(r[0]): int(r[1])
        for r in conn.execute(
            "SELECT member_id, SUM(delta) FROM points_ledger WHERE guild_id = ? "
            "AND member_id != 0 GROUP BY member_id",
            (guild_id,),
        )
    }


def top_from_totals(
    conn: sqlite3.Connection, guild_id: int, *, season: bool, start: int, count: int
) -> list[tuple[int, int]]:
    """Rows [start, start+count) of the all-time or season ranking (maintained totals)."""
    column = "season" if season else "all_time"
    rows = conn.execute(
        f"SELECT member_id, {column} FROM points_totals WHERE guild_id = ? AND {column} > 0 "
        f"ORDER BY {column} DESC, member_id LIMIT ? OFFSET ?",
        (guild_id, count, start),
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def top_from_ledger(
    conn: sqlite3.Connection,
    guild_id: int,
    *,
    since: str,
    kinds: Collection[str] | None,
    start: int,
    count: int,
) -> list[tuple[int, int]]:
    """Rows [start, start+count) of a windowed and/or kind-filtered ranking, summed from
    the ledger. Both indexes used here cover every column read: the table is never read.

    ``+member_id`` keeps the planner off the (guild, member) index: grouping in member
    order would walk every row of the guild instead of the window's few thousand.
    """
    params: list[Any] = [guild_id]
    where = "guild_id = ? AND created_at >= ?"
    if kinds is not None:
        marks = ",".join("?" * len(kinds))
        where = f"guild_id = ? AND kind IN ({marks}) AND created_at >= ?"
        params += sorted(kinds)
    params += [since, count, start]
    rows = conn.execute(
        f"SELECT member_id, SUM(delta) AS points FROM points_ledger WHERE {where} "
        "AND member_id != 0 GROUP BY +member_id HAVING points > 0 "
        "ORDER BY points DESC, member_id LIMIT ? OFFSET ?",
        params,
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def innovator_ideas(conn: sqlite3.Connection, guild_id: int, since: str) -> list[tuple[Any, ...]]:
    """Visible ideas with any activity in the window that the score counts: (author,
    status, support votes, submitted at, planned at, implemented at); not anonymous ones."""
    rows = conn.execute(
        "SELECT author_id, status, support_votes, submitted_at, planned_at, implemented_at "
        "FROM points_idea_stats s WHERE guild_id = ?1 AND author_id != 0 AND hidden = 0 "
        "AND (submitted_at >= ?2 OR planned_at >= ?2 OR implemented_at >= ?2) "
        # An anonymous idea counts for nobody here: a public list crediting its author.
        "AND NOT EXISTS (SELECT 1 FROM ideas i WHERE i.id = s.idea_id AND i.anonymous = 1)",
        (guild_id, since),
    ).fetchall()
    return [tuple(r) for r in rows]


def engagement_counts(conn: sqlite3.Connection, guild_id: int, since: str) -> dict[int, int]:
    """Distinct other members' visible ideas each member voted on or commented on."""
    rows = conn.execute(
        "SELECT e.member_id, COUNT(*) FROM points_engagement e "
        "JOIN points_idea_stats s ON s.guild_id = e.guild_id AND s.idea_id = e.idea_id "
        "WHERE e.guild_id = ? AND e.first_at >= ? AND s.hidden = 0 "
        "AND s.author_id != e.member_id GROUP BY e.member_id",
        (guild_id, since),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


# -- seasons -------------------------------------------------------------------------------
def current_season(conn: sqlite3.Connection, guild_id: int) -> tuple[int, str | None]:
    """(number, started at); season 1 is open from the start, without a row."""
    row = conn.execute(
        "SELECT season_no, started_at FROM points_seasons WHERE guild_id = ? "
        "ORDER BY season_no DESC LIMIT 1",
        (guild_id,),
    ).fetchone()
    return (1, None) if row is None else (int(row[0]), str(row[1]))


def start_season(
    conn: sqlite3.Connection, guild_id: int, closing: int, opening: int, actor_id: int, at: str
) -> int:
    """Archive the closing season's totals, zero them, open the next; returns rows archived."""
    archived = conn.execute(
        "INSERT INTO points_season_archive (guild_id, season_no, member_id, points) "
        "SELECT guild_id, ?, member_id, season FROM points_totals "
        "WHERE guild_id = ? AND season != 0",
        (closing, guild_id),
    ).rowcount
    conn.execute(
        "UPDATE points_totals SET season = 0, updated_at = ? WHERE guild_id = ? AND season != 0",
        (at, guild_id),
    )
    conn.execute(
        "INSERT INTO points_seasons (guild_id, season_no, started_at, started_by) "
        "VALUES (?, ?, ?, ?)",
        (guild_id, opening, at, actor_id),
    )
    return int(archived)


def season_archive(
    conn: sqlite3.Connection, guild_id: int, season_no: int, limit: int
) -> list[tuple[int, int]]:
    """The top of an archived season, best first."""
    rows = conn.execute(
        "SELECT member_id, points FROM points_season_archive WHERE guild_id = ? "
        "AND season_no = ? ORDER BY points DESC, member_id LIMIT ?",
        (guild_id, season_no, limit),
    ).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


# -- role notices --------------------------------------------------------------------------
def claim_role_notice(conn: sqlite3.Connection, guild_id: int, role_id: int, at: str) -> bool:
    """True the first time a role is reported as unmanageable (moderators are told once)."""
    cur = conn.execute(
        "INSERT INTO points_role_notices (guild_id, role_id, notified_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (guild_id, role_id, at),
    )
    return cur.rowcount == 1


def release_role_notice(conn: sqlite3.Connection, guild_id: int, role_id: int) -> None:
    """Forget a notice once the role works again, so a later problem is reported anew."""
    conn.execute(
        "DELETE FROM points_role_notices WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
    )


# -- privacy -------------------------------------------------------------------------------
def forget_member(conn: sqlite3.Connection, guild_id: int, member_id: int) -> dict[str, int]:
    """Anonymise the member's ledger entries (reasons kept) and delete what is theirs.

    Award keys of their entries are rewritten too: keys name at most the recipient.
    """
    report = {
        "ledger entries anonymised": conn.execute(
            "UPDATE points_ledger SET member_id = 0, award_key = 'forgotten:' || id "
            "WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        ).rowcount,
        "entries they gave anonymised": conn.execute(
            "UPDATE points_ledger SET actor_id = 0 WHERE guild_id = ? AND actor_id = ?",
            (guild_id, member_id),
        ).rowcount,
        "totals removed": conn.execute(
            "DELETE FROM points_totals WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        ).rowcount,
    }
    report["season results removed"] = conn.execute(
        "DELETE FROM points_season_archive WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    ).rowcount
    conn.execute(
        "DELETE FROM points_engagement WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    )
    conn.execute(
        "UPDATE points_vote_pairs SET voter_id = NULL WHERE guild_id = ? AND voter_id = ?",
        (guild_id, member_id),
    )
    conn.execute(
        "UPDATE points_vote_pairs SET author_id = 0 WHERE guild_id = ? AND author_id = ?",
        (guild_id, member_id),
    )
    conn.execute(
        "UPDATE points_idea_stats SET author_id = 0 WHERE guild_id = ? AND author_id = ?",
        (guild_id, member_id),
    )
    return report


def iter_member_ids(conn: sqlite3.Connection, guild_id: int) -> Iterator[int]:
    """Members with a totals row (role-reward recalculation after a season start)."""
    for row in conn.execute("SELECT member_id FROM points_totals WHERE guild_id = ?", (guild_id,)):
        yield int(row[0])
