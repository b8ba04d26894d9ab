"""SQL of the Policy feature. Writes are units for ``Database.write`` (each change one
transaction with the timer rows it needs); reads run on the reader connection.

Every UPDATE that changes what a policy's card shows also bumps ``card_version``, so a card
whose edit was lost (a crash, an outage) still differs from the store at the next start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import timedelta

import orjson

from bot.domain.policy import Decision, Outcome, PolicyStage, Stance
from bot.domain.policy_model import FORMER_MEMBER, Concern, GroupAnswer, Policy, PolicyDraft
from bot.storage.common import from_iso, to_iso

_COLUMNS = (
    "id, guild_id, number, title, summary, body, stage, author_id, effective_at, close_at, "
    "period_seconds, notify_role_id, affected_channels, created_at, updated_at, announced_at, "
    "closed_at, responded_at, settled_at, awaiting, decision, amended_body, response_note, "
    "responder_id, card_channel_id, card_message_id, thread_id, card_version, card_shown, "
    "support, concerned, oppose, concerns"
)
#: The count column of each stance (a fixed mapping: no member text reaches the SQL).
_COUNT = {Stance.SUPPORT: "support", Stance.CONCERNED: "concerned", Stance.OPPOSE: "oppose"}


def _policy(row: sqlite3.Row) -> Policy:
    effective = from_iso(row["effective_at"])
    created = from_iso(row["created_at"])
    updated = from_iso(row["updated_at"])
    assert effective is not None and created is not None and updated is not None
    period = row["period_seconds"]
    return Policy(
        id=row["id"],
        guild_id=row["guild_id"],
        number=row["number"],
        title=row["title"],
        summary=row["summary"],
        body=row["body"],
        stage=PolicyStage(row["stage"]),
        author_id=row["author_id"],
        effective_at=effective,
        close_at=from_iso(row["close_at"]),
        period=timedelta(seconds=period) if period is not None else None,
        notify_role_id=row["notify_role_id"],
        affected_channels=tuple(int(c) for c in orjson.loads(row["affected_channels"])),
        created_at=created,
        updated_at=updated,
        announced_at=from_iso(row["announced_at"]),
        closed_at=from_iso(row["closed_at"]),
        responded_at=from_iso(row["responded_at"]),
        settled_at=from_iso(row["settled_at"]),
        awaiting=bool(row["awaiting"]),
        decision=Decision(row["decision"]) if row["decision"] else None,
        amended_body=row["amended_body"],
        response_note=row["response_note"],
        responder_id=row["responder_id"],
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
        thread_id=row["thread_id"],
        card_version=row["card_version"],
        card_shown=row["card_shown"],
        support=row["support"],
        concerned=row["concerned"],
        oppose=row["oppose"],
        concerns=row["concerns"],
    )


# -- policies ------------------------------------------------------------------------------
def get_by_id(conn: sqlite3.Connection, policy_id: int) -> Policy | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM policies WHERE id = ?", (policy_id,)).fetchone()
    return None if row is None else _policy(row)


def get_by_number(conn: sqlite3.Connection, guild_id: int, number: int) -> Policy | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM policies WHERE guild_id = ? AND number = ?", (guild_id, number)
    ).fetchone()
    return None if row is None else _policy(row)


def insert_policy(conn: sqlite3.Connection, draft: PolicyDraft, at: str) -> int:
    """Store a draft with the guild's next number; returns its id."""
    ((policy_id,),) = conn.execute(
        "INSERT INTO policies (guild_id, number, title, summary, body, author_id, effective_at, "
        "close_at, period_seconds, notify_role_id, affected_channels, created_at, updated_at) "
        "VALUES (?, (SELECT coalesce(max(number), 0) + 1 FROM policies WHERE guild_id = ?), "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            draft.guild_id,
            draft.guild_id,
            draft.title,
            draft.summary,
            draft.body,
            draft.author_id,
            to_iso(draft.effective_at),
            to_iso(draft.close_at) if draft.close_at else None,
            int(draft.period.total_seconds()) if draft.period else None,
            draft.notify_role_id,
            orjson.dumps(list(draft.affected_channels)).decode(),
            at,
            at,
        ),
    ).fetchall()
    return int(policy_id)


def update_draft(conn: sqlite3.Connection, policy_id: int, draft: PolicyDraft, at: str) -> None:
    conn.execute(
        "UPDATE policies SET title = ?, summary = ?, body = ?, effective_at = ?, close_at = ?, "
        "period_seconds = ?, notify_role_id = ?, affected_channels = ?, updated_at = ?, "
        "card_version = card_version + 1 WHERE id = ?",
        (
            draft.title,
            draft.summary,
            draft.body,
            to_iso(draft.effective_at),
            to_iso(draft.close_at) if draft.close_at else None,
            int(draft.period.total_seconds()) if draft.period else None,
            draft.notify_role_id,
            orjson.dumps(list(draft.affected_channels)).decode(),
            at,
            policy_id,
        ),
    )


def set_announced(conn: sqlite3.Connection, policy_id: int, close_at: str, at: str) -> None:
    conn.execute(
        "UPDATE policies SET stage = 'announced', announced_at = ?, close_at = ?, "
        "updated_at = ?, card_version = card_version + 1 WHERE id = ? AND stage = 'draft'",
        (at, close_at, at, policy_id),
    )


def set_closed(conn: sqlite3.Connection, policy_id: int, at: str) -> None:
    conn.execute(
        "UPDATE policies SET stage = 'closed', closed_at = ?, updated_at = ?, "
        "card_version = card_version + 1 WHERE id = ? AND stage = 'announced'",
        (at, at, policy_id),
    )


def set_awaiting(conn: sqlite3.Connection, policy_id: int, at: str) -> None:
    conn.execute(
        "UPDATE policies SET awaiting = 1, updated_at = ?, card_version = card_version + 1 "
        "WHERE id = ?",
        (at, policy_id),
    )


def set_response(
    conn: sqlite3.Connection,
    policy_id: int,
    *,
    decision: Decision,
    amended_body: str | None,
    note: str,
    responder_id: int,
    effective_at: str,
    at: str,
) -> None:
    conn.execute(
        "UPDATE policies SET stage = 'responded', decision = ?, amended_body = ?, "
        "response_note = ?, responder_id = ?, effective_at = ?, responded_at = ?, "
        "awaiting = 0, updated_at = ?, card_version = card_version + 1 "
        "WHERE id = ? AND stage = 'closed'",
        (decision.value, amended_body, note, responder_id, effective_at, at, at, policy_id),
    )


def set_settled(conn: sqlite3.Connection, policy_id: int, stage: PolicyStage, at: str) -> None:
    conn.execute(
        "UPDATE policies SET stage = ?, settled_at = ?, updated_at = ?, "
        "card_version = card_version + 1 WHERE id = ? AND stage = 'responded'",
        (stage.value, at, at, policy_id),
    )


def set_card(conn: sqlite3.Connection, policy_id: int, channel_id: int, message_id: int) -> None:
    conn.execute(
        "UPDATE policies SET card_channel_id = ?, card_message_id = ? WHERE id = ?",
        (channel_id, message_id, policy_id),
    )


def set_thread(conn: sqlite3.Connection, policy_id: int, thread_id: int) -> None:
    # The card links the thread: a new version for it to show.
    conn.execute(
        "UPDATE policies SET thread_id = ?, card_version = card_version + 1 WHERE id = ?",
        (thread_id, policy_id),
    )


def mark_card_shown(conn: sqlite3.Connection, policy_id: int, version: int) -> None:
    conn.execute(
        "UPDATE policies SET card_shown = max(card_shown, ?) WHERE id = ?", (version, policy_id)
    )


def stale_cards(conn: sqlite3.Connection, guild_id: int) -> list[Policy]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM policies WHERE guild_id = ? "
        "AND card_message_id IS NOT NULL AND card_version <> card_shown",
        (guild_id,),
    ).fetchall()
    return [_policy(r) for r in rows]


def count_policies(conn: sqlite3.Connection, guild_id: int, *, drafts: bool) -> int:
    where = "guild_id = ?" + ("" if drafts else " AND stage <> 'draft'")
    return int(
        conn.execute(f"SELECT count(*) FROM policies WHERE {where}", (guild_id,)).fetchone()[0]
    )


def list_policies(
    conn: sqlite3.Connection, guild_id: int, *, drafts: bool, limit: int, offset: int
) -> list[Policy]:
    where = "guild_id = ?" + ("" if drafts else " AND stage <> 'draft'")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM policies WHERE {where} ORDER BY number DESC LIMIT ? OFFSET ?",
        (guild_id, limit, offset),
    ).fetchall()
    return [_policy(r) for r in rows]


# -- stances -------------------------------------------------------------------------------
def stance_of(conn: sqlite3.Connection, policy_id: int, member_id: int) -> Stance | None:
    row = conn.execute(
        "SELECT stance FROM policy_stances WHERE policy_id = ? AND member_id = ?",
        (policy_id, member_id),
    ).fetchone()
    return None if row is None else Stance(row[0])


def set_stance(
    conn: sqlite3.Connection,
    policy_id: int,
    guild_id: int,
    member_id: int,
    previous: Stance | None,
    stance: Stance,
    at: str,
) -> None:
    """Record the member's stance and move the counts by exactly this change."""
    conn.execute(
        "INSERT INTO policy_stances (policy_id, guild_id, member_id, stance, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (policy_id, member_id) DO UPDATE SET "
        "stance = excluded.stance, updated_at = excluded.updated_at",
        (policy_id, guild_id, member_id, stance.value, at),
    )
    moves = f"{_COUNT[stance]} = {_COUNT[stance]} + 1"
    if previous is not None:
        moves += f", {_COUNT[previous]} = {_COUNT[previous]} - 1"
    conn.execute(
        f"UPDATE policies SET {moves}, card_version = card_version + 1 WHERE id = ?", (policy_id,)
    )


def has_feedback(conn: sqlite3.Connection, policy_id: int, member_id: int) -> bool:
    """Whether the member gave a stance or raised a concern on the policy already."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM policy_stances WHERE policy_id = ? AND member_id = ?) "
        "OR EXISTS (SELECT 1 FROM policy_concerns WHERE policy_id = ? AND author_id = ?)",
        (policy_id, member_id, policy_id, member_id),
    ).fetchone()
    return bool(row[0])


# -- concerns ------------------------------------------------------------------------------
_CONCERN_COLUMNS = (
    "c.id, c.policy_id, c.guild_id, c.number, c.author_id, c.text, c.suggestion, c.created_at, "
    "c.group_no, c.idea_id, i.number AS idea_number"
)


def _concern(row: sqlite3.Row) -> Concern:
    created = from_iso(row["created_at"])
    assert created is not None
    return Concern(
        id=row["id"],
        policy_id=row["policy_id"],
        guild_id=row["guild_id"],
        number=row["number"],
        author_id=row["author_id"],
        text=row["text"],
        suggestion=row["suggestion"],
        created_at=created,
        group_no=row["group_no"],
        idea_id=row["idea_id"],
        idea_number=row["idea_number"],
    )


def concerns_by(conn: sqlite3.Connection, policy_id: int, member_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM policy_concerns WHERE policy_id = ? AND author_id = ?",
            (policy_id, member_id),
        ).fetchone()[0]
    )


def insert_concern(
    conn: sqlite3.Connection,
    policy_id: int,
    guild_id: int,
    author_id: int,
    text: str,
    suggestion: str,
    at: str,
) -> Concern:
    ((concern_id,),) = conn.execute(
        "INSERT INTO policy_concerns (policy_id, guild_id, number, author_id, text, suggestion, "
        "created_at) VALUES (?, ?, (SELECT coalesce(max(number), 0) + 1 FROM policy_concerns "
        "WHERE policy_id = ?), ?, ?, ?, ?) RETURNING id",
        (policy_id, guild_id, policy_id, author_id, text, suggestion, at),
    ).fetchall()
    conn.execute(
        "UPDATE policies SET concerns = concerns + 1, card_version = card_version + 1 WHERE id = ?",
        (policy_id,),
    )
    found = get_concern_by_id(conn, int(concern_id))
    assert found is not None
    return found


def get_concern_by_id(conn: sqlite3.Connection, concern_id: int) -> Concern | None:
    row = conn.execute(
        f"SELECT {_CONCERN_COLUMNS} FROM policy_concerns c LEFT JOIN ideas i ON i.id = c.idea_id "
        "WHERE c.id = ?",
        (concern_id,),
    ).fetchone()
    return None if row is None else _concern(row)


def get_concern(conn: sqlite3.Connection, policy_id: int, number: int) -> Concern | None:
    row = conn.execute(
        f"SELECT {_CONCERN_COLUMNS} FROM policy_concerns c LEFT JOIN ideas i ON i.id = c.idea_id "
        "WHERE c.policy_id = ? AND c.number = ?",
        (policy_id, number),
    ).fetchone()
    return None if row is None else _concern(row)


def concerns_of(conn: sqlite3.Connection, policy_id: int) -> list[Concern]:
    rows = conn.execute(
        f"SELECT {_CONCERN_COLUMNS} FROM policy_concerns c LEFT JOIN ideas i ON i.id = c.idea_id "
        "WHERE c.policy_id = ? ORDER BY c.number",
        (policy_id,),
    ).fetchall()
    return [_concern(r) for r in rows]


def concern_by_idea(conn: sqlite3.Connection, idea_id: int) -> Concern | None:
    row = conn.execute(
        f"SELECT {_CONCERN_COLUMNS} FROM policy_concerns c LEFT JOIN ideas i ON i.id = c.idea_id "
        "WHERE c.idea_id = ?",
        (idea_id,),
    ).fetchone()
    return None if row is None else _concern(row)


def set_groups(conn: sqlite3.Connection, groups: Mapping[int, int]) -> None:
    """Concern id → its group's number."""
    conn.executemany(
        "UPDATE policy_concerns SET group_no = ? WHERE id = ?",
        [(group_no, concern_id) for concern_id, group_no in groups.items()],
    )


def link_idea(conn: sqlite3.Connection, concern_id: int, idea_id: int) -> bool:
    """Record the idea made of a concern; False when it already has one."""
    return (
        conn.execute(
            "UPDATE policy_concerns SET idea_id = ? WHERE id = ? AND idea_id IS NULL",
            (idea_id, concern_id),
        ).rowcount
        == 1
    )


def concern_authors(conn: sqlite3.Connection, policy_id: int) -> list[int]:
    """Members who raised a concern (each once, in the order of their first concern)."""
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT author_id FROM policy_concerns WHERE policy_id = ? AND author_id <> ? "
            "GROUP BY author_id ORDER BY min(number)",
            (policy_id, FORMER_MEMBER),
        )
    ]


# -- answers -------------------------------------------------------------------------------
def answers_of(conn: sqlite3.Connection, policy_id: int) -> dict[int, GroupAnswer]:
    return {
        int(r["group_no"]): GroupAnswer(
            int(r["group_no"]), Outcome(r["outcome"]), r["text"], int(r["actor_id"])
        )
        for r in conn.execute(
            "SELECT group_no, outcome, text, actor_id FROM policy_answers WHERE policy_id = ?",
            (policy_id,),
        )
    }


def set_answer(
    conn: sqlite3.Connection,
    policy_id: int,
    guild_id: int,
    group_no: int,
    outcome: Outcome,
    text: str,
    actor_id: int,
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO policy_answers (policy_id, guild_id, group_no, outcome, text, actor_id, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (policy_id, group_no) DO UPDATE "
        "SET outcome = excluded.outcome, text = excluded.text, actor_id = excluded.actor_id, "
        "updated_at = excluded.updated_at",
        (policy_id, guild_id, group_no, outcome.value, text, actor_id, at),
    )


# -- privacy -------------------------------------------------------------------------------
def forget_member(conn: sqlite3.Connection, guild_id: int, member_id: int) -> dict[str, int]:
    """The member's stances go (counts follow), their concerns stay anonymous, and the
    policies they drafted or answered no longer name them. Their pending points timers
    (keyed by member) go too: the ledger is anonymised by the points feature."""
    stances = conn.execute(
        "SELECT policy_id, stance FROM policy_stances WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    ).fetchall()
    for row in stances:
        column = _COUNT[Stance(row["stance"])]
        conn.execute(
            f"UPDATE policies SET {column} = {column} - 1, card_version = card_version + 1 "
            "WHERE id = ?",
            (row["policy_id"],),
        )
    conn.execute(
        "DELETE FROM policy_stances WHERE guild_id = ? AND member_id = ?", (guild_id, member_id)
    )
    concerns = conn.execute(
        "UPDATE policy_concerns SET author_id = ? WHERE guild_id = ? AND author_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    drafted = conn.execute(
        "UPDATE policies SET author_id = ? WHERE guild_id = ? AND author_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    drafted += conn.execute(
        "UPDATE policies SET responder_id = ? WHERE guild_id = ? AND responder_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    ).rowcount
    conn.execute(
        "UPDATE policy_answers SET actor_id = ? WHERE guild_id = ? AND actor_id = ?",
        (FORMER_MEMBER, guild_id, member_id),
    )
    conn.execute(
        "DELETE FROM timers WHERE guild_id = ? AND kind = 'policy.points' AND key LIKE ?",
        (guild_id, f"policy:%:points:{member_id}"),
    )
    return {
        "policy stances removed": len(stances),
        "policy concerns anonymised": concerns,
        "policies no longer naming them": drafted,
    }
