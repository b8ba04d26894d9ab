"""SQL of the Challenges feature. Writes are units for ``Database.write`` (each change one
transaction with the timer rows it needs); reads run on the reader connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from bot.domain.challenge_model import (
    FORMER_MEMBER,
    Challenge,
    ChallengeDraft,
    Entry,
    Scorecard,
)
from bot.domain.challenges import Criterion, Phase, Stage
from bot.domain.idea_model import ANONYMOUS_AUTHOR
from bot.storage.common import fits_integer, from_iso
from bot.storage.ideas import NOT_PUBLIC

_COLUMNS = (
    "id, guild_id, number, title, problem, good_answer, author_id, phase, submission_end, "
    "screening_end, shortlist_end, judging_end, finalist_points, winner_points, "
    "forum_channel_id, channel_id, message_id, wildcard_idea_id, published_at, created_at, "
    "updated_at"
)
_ENTRY = (
    "SELECT e.idea_id, e.challenge_id, i.number, i.title, i.author_id, e.stage, e.wildcard, "
    "i.support, i.oppose, e.created_at, i.anonymous "
    "FROM challenge_entries e JOIN ideas i ON i.id = e.idea_id"
)


def _dt(text: str) -> Any:
    value = from_iso(text)
    assert value is not None
    return value


def _criteria(conn: sqlite3.Connection, challenge_id: int) -> tuple[Criterion, ...]:
    return tuple(
        Criterion(r["name"], r["weight"])
        for r in conn.execute(
            "SELECT name, weight FROM challenge_criteria WHERE challenge_id = ? ORDER BY position",
            (challenge_id,),
        )
    )


def _challenge(conn: sqlite3.Connection, row: sqlite3.Row) -> Challenge:
    return Challenge(
        id=row["id"],
        guild_id=row["guild_id"],
        number=row["number"],
        title=row["title"],
        problem=row["problem"],
        good_answer=row["good_answer"],
        author_id=row["author_id"],
        phase=Phase(row["phase"]),
        submission_end=_dt(row["submission_end"]),
        screening_end=_dt(row["screening_end"]),
        shortlist_end=_dt(row["shortlist_end"]),
        judging_end=_dt(row["judging_end"]),
        finalist_points=row["finalist_points"],
        winner_points=row["winner_points"],
        criteria=_criteria(conn, row["id"]),
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
        forum_channel_id=row["forum_channel_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        wildcard_idea_id=row["wildcard_idea_id"],
        published_at=from_iso(row["published_at"]),
    )


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        idea_id=row["idea_id"],
        challenge_id=row["challenge_id"],
        number=row["number"],
        title=row["title"],
        author_id=row["author_id"],
        stage=Stage(row["stage"]),
        wildcard=bool(row["wildcard"]),
        support=row["support"],
        oppose=row["oppose"],
        created_at=_dt(row["created_at"]),
        anonymous=bool(row["anonymous"]),
    )


# -- challenges ----------------------------------------------------------------------------
def insert_challenge(conn: sqlite3.Connection, draft: ChallengeDraft, now: str) -> int:
    ((number,),) = conn.execute(
        "SELECT coalesce(max(number), 0) + 1 FROM challenges WHERE guild_id = ?",
        (draft.guild_id,),
    ).fetchall()
    sub, scr, short, judge = (e.isoformat() for e in draft.ends)
    ((challenge_id,),) = conn.execute(
        "INSERT INTO challenges (guild_id, number, title, problem, good_answer, author_id, "
        "submission_end, screening_end, shortlist_end, judging_end, finalist_points, "
        "winner_points, forum_channel_id, channel_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            draft.guild_id,
            number,
            draft.title,
            draft.problem,
            draft.good_answer,
            draft.author_id,
            sub,
            scr,
            short,
            judge,
            draft.finalist_points,
            draft.winner_points,
            draft.forum_channel_id,
            draft.channel_id,
            now,
            now,
        ),
    ).fetchall()
    conn.executemany(
        "INSERT INTO challenge_criteria (challenge_id, guild_id, position, name, weight) "
        "VALUES (?, ?, ?, ?, ?)",
        [(challenge_id, draft.guild_id, i, c.name, c.weight) for i, c in enumerate(draft.criteria)],
    )
    return int(challenge_id)


def get_by_id(conn: sqlite3.Connection, challenge_id: int) -> Challenge | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM challenges WHERE id = ?", (challenge_id,)
    ).fetchone()
    return None if row is None else _challenge(conn, row)


def get_by_number(conn: sqlite3.Connection, guild_id: int, number: int) -> Challenge | None:
    if not fits_integer(number):  # a forged custom_id: no challenge has it
        return None
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM challenges WHERE guild_id = ? AND number = ?", (guild_id, number)
    ).fetchone()
    return None if row is None else _challenge(conn, row)


def list_challenges(
    conn: sqlite3.Connection, guild_id: int, *, limit: int, phase: Phase | None = None
) -> list[Challenge]:
    if phase is None:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM challenges WHERE guild_id = ? ORDER BY number DESC LIMIT ?",
            (guild_id, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM challenges WHERE guild_id = ? AND phase = ? "
            "ORDER BY number DESC LIMIT ?",
            (guild_id, phase.value, limit),
        ).fetchall()
    return [_challenge(conn, r) for r in rows]


def count_entries(conn: sqlite3.Connection, challenge_id: int) -> int:
    ((n,),) = conn.execute(
        "SELECT count(*) FROM challenge_entries WHERE challenge_id = ?", (challenge_id,)
    ).fetchall()
    return int(n)


def set_announcement(
    conn: sqlite3.Connection, challenge_id: int, channel_id: int, message_id: int
) -> None:
    conn.execute(
        "UPDATE challenges SET channel_id = ?, message_id = ? WHERE id = ?",
        (channel_id, message_id, challenge_id),
    )


def advance_phase(
    conn: sqlite3.Connection, challenge_id: int, before: Phase, after: Phase, now: str
) -> bool:
    """Move the phase on, only from ``before``: a window closes once."""
    return (
        conn.execute(
            "UPDATE challenges SET phase = ?, updated_at = ? WHERE id = ? AND phase = ?",
            (after.value, now, challenge_id, before.value),
        ).rowcount
        == 1
    )


def set_wildcard(conn: sqlite3.Connection, challenge_id: int, idea_id: int, now: str) -> None:
    conn.execute(
        "UPDATE challenges SET wildcard_idea_id = ?, updated_at = ? WHERE id = ?",
        (idea_id, now, challenge_id),
    )


def set_published(conn: sqlite3.Connection, challenge_id: int, now: str) -> bool:
    return (
        conn.execute(
            "UPDATE challenges SET phase = 'published', published_at = ?, updated_at = ? "
            "WHERE id = ? AND phase = 'closed'",
            (now, now, challenge_id),
        ).rowcount
        == 1
    )


# -- entries -------------------------------------------------------------------------------
def insert_entry(
    conn: sqlite3.Connection, challenge_id: int, guild_id: int, idea_id: int, now: str
) -> None:
    conn.execute(
        "INSERT INTO challenge_entries (idea_id, challenge_id, guild_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (idea_id, challenge_id, guild_id, now, now),
    )


def entry_by_number(conn: sqlite3.Connection, guild_id: int, number: int) -> Entry | None:
    if not fits_integer(number):
        return None
    row = conn.execute(
        f"{_ENTRY} WHERE i.guild_id = ? AND i.number = ?", (guild_id, number)
    ).fetchone()
    return None if row is None else _entry(row)


def entry_by_idea(conn: sqlite3.Connection, idea_id: int) -> Entry | None:
    row = conn.execute(f"{_ENTRY} WHERE e.idea_id = ?", (idea_id,)).fetchone()
    return None if row is None else _entry(row)


def entries(conn: sqlite3.Connection, challenge_id: int) -> list[Entry]:
    """Every public entry of a challenge: merged ideas left out (their votes moved on), and
    hidden ideas and those held for review or rejected."""
    return [
        _entry(r)
        for r in conn.execute(
            f"{_ENTRY} WHERE e.challenge_id = ? AND i.merged_into IS NULL "
            f"AND i.status NOT IN {NOT_PUBLIC} ORDER BY i.number",
            (challenge_id,),
        )
    ]


def set_stage(
    conn: sqlite3.Connection, idea_id: int, stage: Stage, now: str, *, wildcard: bool = False
) -> None:
    conn.execute(
        "UPDATE challenge_entries SET stage = ?, wildcard = wildcard OR ?, updated_at = ? "
        "WHERE idea_id = ?",
        (stage.value, int(wildcard), now, idea_id),
    )
    # The idea's card shows its stage: a new version of it, edited by the stage's
    # publication (and corrected at the next start if that edit is lost).
    conn.execute("UPDATE ideas SET card_version = card_version + 1 WHERE id = ?", (idea_id,))


# -- scores --------------------------------------------------------------------------------
def upsert_score(
    conn: sqlite3.Connection,
    entry: Entry,
    guild_id: int,
    judge_id: int,
    scores: Sequence[int],
    note: str,
    now: str,
) -> bool:
    """Store a judge's scorecard; True when it replaced an earlier one."""
    updated = conn.execute(
        "UPDATE challenge_scores SET scores = ?, note = ?, updated_at = ? "
        "WHERE idea_id = ? AND judge_id = ?",
        (orjson.dumps(list(scores)).decode(), note, now, entry.idea_id, judge_id),
    ).rowcount
    if updated:
        return True
    conn.execute(
        "INSERT INTO challenge_scores (idea_id, challenge_id, guild_id, judge_id, scores, note, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            entry.idea_id,
            entry.challenge_id,
            guild_id,
            judge_id,
            orjson.dumps(list(scores)).decode(),
            note,
            now,
        ),
    )
    return False


def scorecards(conn: sqlite3.Connection, challenge_id: int) -> list[Scorecard]:
    return [
        Scorecard(r["idea_id"], r["judge_id"], tuple(orjson.loads(r["scores"])), r["note"])
        for r in conn.execute(
            "SELECT idea_id, judge_id, scores, note FROM challenge_scores "
            "WHERE challenge_id = ? ORDER BY id",
            (challenge_id,),
        )
    ]


def scorecards_of(conn: sqlite3.Connection, idea_id: int) -> list[Scorecard]:
    return [
        Scorecard(r["idea_id"], r["judge_id"], tuple(orjson.loads(r["scores"])), r["note"])
        for r in conn.execute(
            "SELECT idea_id, judge_id, scores, note FROM challenge_scores "
            "WHERE idea_id = ? ORDER BY id",
            (idea_id,),
        )
    ]


# -- mentors -------------------------------------------------------------------------------
def insert_mentor(
    conn: sqlite3.Connection, entry: Entry, guild_id: int, mentor_id: int, actor_id: int, now: str
) -> int | None:
    """A mentor for an idea; None when they mentor it already."""
    row = conn.execute(
        "INSERT INTO challenge_mentors (idea_id, challenge_id, guild_id, mentor_id, actor_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (idea_id, mentor_id) WHERE mentor_id <> 0 DO NOTHING RETURNING id",
        (entry.idea_id, entry.challenge_id, guild_id, mentor_id, actor_id, now),
    ).fetchone()
    return None if row is None else int(row[0])


def mentor_row(conn: sqlite3.Connection, mentoring_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM challenge_mentors WHERE id = ?", (mentoring_id,)
    ).fetchone()
    return row


def set_mentor_thread(conn: sqlite3.Connection, mentoring_id: int, thread_id: int) -> None:
    conn.execute(
        "UPDATE challenge_mentors SET thread_id = ? WHERE id = ?", (thread_id, mentoring_id)
    )


# -- digests and exports -------------------------------------------------------------------
def active_between(conn: sqlite3.Connection, guild_id: int, start: str, end: str) -> list[Any]:
    """Challenges open at some moment of ``[start, end)`` or published in it, with their
    entries in the period and in all."""
    return conn.execute(
        "SELECT c.number, c.title, c.phase, c.submission_end, c.judging_end, c.published_at, "
        "(SELECT count(*) FROM challenge_entries e WHERE e.challenge_id = c.id) AS total, "
        "(SELECT count(*) FROM challenge_entries e WHERE e.challenge_id = c.id "
        " AND e.created_at >= ? AND e.created_at < ?) AS new "
        "FROM challenges c WHERE c.guild_id = ? AND c.created_at < ? "
        "AND (c.phase != 'published' OR c.published_at >= ?) ORDER BY c.number",
        (start, end, guild_id, end, start),
    ).fetchall()


def export_challenges(conn: sqlite3.Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT number, title, phase, author_id, submission_end, screening_end, shortlist_end, "
        "judging_end, finalist_points, winner_points, published_at, created_at, "
        "(SELECT group_concat(name || ':' || weight, '; ') FROM challenge_criteria k "
        " WHERE k.challenge_id = c.id) AS criteria "
        "FROM challenges c WHERE guild_id = ? ORDER BY number",
        (guild_id,),
    ).fetchall()
    return [dict(r) for r in rows]


def export_entries(conn: sqlite3.Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        # An anonymous idea's author is not exported (moderators use the audited /idea show).
        "SELECT c.number AS challenge, i.number AS idea, i.title, "
        f"CASE WHEN i.anonymous = 1 THEN {ANONYMOUS_AUTHOR} ELSE i.author_id END AS author_id, "
        "e.stage, "
        "e.wildcard, i.support, i.oppose, e.created_at, c.id AS challenge_id, e.idea_id, "
        "c.phase FROM challenge_entries e JOIN challenges c ON c.id = e.challenge_id "
        "JOIN ideas i ON i.id = e.idea_id WHERE e.guild_id = ? ORDER BY c.number, i.number",
        (guild_id,),
    ).fetchall()
    return [dict(r) for r in rows]


def forget_member(conn: sqlite3.Connection, guild_id: int, member_id: int) -> dict[str, int]:
    """Scorecards stay (the results stand) but no longer name the judge, and their private
    notes go; mentoring and authorship no longer name the member."""
    scores = conn.execute(
        "UPDATE challenge_scores SET judge_id = ?, note = '' WHERE guild_id = ? AND judge_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    mentors = conn.execute(
        "UPDATE challenge_mentors SET mentor_id = ? WHERE guild_id = ? AND mentor_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    mentors += conn.execute(
        "UPDATE challenge_mentors SET actor_id = ? WHERE guild_id = ? AND actor_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    authored = conn.execute(
        "UPDATE challenges SET author_id = ? WHERE guild_id = ? AND author_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    return {"challenge_scores": scores, "challenge_mentors": mentors, "challenges": authored}
