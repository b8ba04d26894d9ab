"""SQL for outgoing webhooks: the hooks of each guild and their deliveries."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

import orjson

from bot.storage.common import from_iso, now_iso


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    guild_id: int
    url: str
    events: tuple[str, ...]
    secret: str
    created_by: int
    created_at: datetime
    since_event: int
    failures: int
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    guild_id: int
    event: str
    payload: bytes
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


def _webhook(row: sqlite3.Row) -> Webhook:
    created = from_iso(row["created_at"])
    assert created is not None
    return Webhook(
        row["id"],
        row["guild_id"],
        row["url"],
        tuple(orjson.loads(row["events"])),
        row["secret"],
        row["created_by"],
        created,
        row["since_event"],
        row["failures"],
        from_iso(row["disabled_at"]),
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    created = from_iso(row["created_at"])
    assert created is not None
    return Delivery(
        row["id"],
        row["webhook_id"],
        row["guild_id"],
        row["event"],
        str(row["payload"]).encode(),
        row["status"],
        row["attempts"],
        row["last_status"],
        row["last_error"],
        created,
        from_iso(row["finished_at"]),
    )


def insert_webhook(
    conn: sqlite3.Connection,
    guild_id: int,
    url: str,
    events: tuple[str, ...],
    secret: str,
    actor_id: int,
) -> int:
    """A new webhook; it receives the events committed after this one."""
    (since,) = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
    cur = conn.execute(
        "INSERT INTO webhooks (guild_id, url, events, secret, created_by, created_at, "
        "since_event) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, url, orjson.dumps(list(events)).decode(), secret, actor_id, now_iso(), since),
    )
    return int(cur.lastrowid or 0)


def count_active(conn: sqlite3.Connection, guild_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM webhooks WHERE guild_id = ? AND removed_at IS NULL", (guild_id,)
        ).fetchone()[0]
    )


def list_webhooks(conn: sqlite3.Connection, guild_id: int) -> list[Webhook]:
    rows = conn.execute(
        "SELECT * FROM webhooks WHERE guild_id = ? AND removed_at IS NULL ORDER BY id",
        (guild_id,),
    ).fetchall()
    return [_webhook(r) for r in rows]


def enabled_webhooks(conn: sqlite3.Connection, guild_ids: set[int]) -> list[Webhook]:
    """The enabled webhooks of these guilds."""
    if not guild_ids:
        return []
    marks = ",".join("?" * len(guild_ids))
    rows = conn.execute(
        f"SELECT * FROM webhooks WHERE guild_id IN ({marks}) AND removed_at IS NULL "
        "AND disabled_at IS NULL ORDER BY id",
        list(guild_ids),
    ).fetchall()
    return [_webhook(r) for r in rows]


def get_webhook(conn: sqlite3.Connection, webhook_id: int) -> Webhook | None:
    row = conn.execute("SELECT * FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
    return None if row is None else _webhook(row)


def remove_webhook(conn: sqlite3.Connection, guild_id: int, webhook_id: int) -> bool:
    return (
        conn.execute(
            "UPDATE webhooks SET removed_at = ? WHERE id = ? AND guild_id = ? "
            "AND removed_at IS NULL",
            (now_iso(), webhook_id, guild_id),
        ).rowcount
        == 1
    )


def insert_delivery(
    conn: sqlite3.Connection, webhook_id: int, guild_id: int, event: str, payload: bytes
) -> int:
    cur = conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, guild_id, event, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (webhook_id, guild_id, event, payload.decode(), now_iso()),
    )
    return int(cur.lastrowid or 0)


def set_delivery_payload(conn: sqlite3.Connection, delivery_id: int, payload: bytes) -> None:
    """Complete a pending delivery's body before it is first sent (the card's URL)."""
    conn.execute(
        "UPDATE webhook_deliveries SET payload = ? WHERE id = ? AND status = 'pending'",
        (payload.decode(), delivery_id),
    )


def waiting_for_card(conn: sqlite3.Connection, kind: str, idea_id: int) -> list[sqlite3.Row]:
    """The pending delivery timers (``kind``) that wait for idea ``idea_id``'s card (their
    payload's ``card_of``); few rows, read through the pending timers' index."""
    return conn.execute(
        "SELECT guild_id, key, payload FROM timers WHERE done_at IS NULL AND kind = ? "
        "AND due_at >= '' AND json_extract(payload, '$.card_of') = ?",
        (kind, idea_id),
    ).fetchall()


def get_delivery(conn: sqlite3.Connection, delivery_id: int) -> Delivery | None:
    row = conn.execute("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone()
    return None if row is None else _delivery(row)


def recent_deliveries(conn: sqlite3.Connection, webhook_id: int, limit: int) -> list[Delivery]:
    rows = conn.execute(
        "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
        (webhook_id, limit),
    ).fetchall()
    return [_delivery(r) for r in rows]


def delivered(conn: sqlite3.Connection, delivery_id: int, webhook_id: int, status: int) -> None:
    """A delivery succeeded: the webhook's run of failures ends."""
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
        "last_status = ?, last_error = NULL, finished_at = ? WHERE id = ?",
        (status, now_iso(), delivery_id),
    )
    conn.execute("UPDATE webhooks SET failures = 0 WHERE id = ?", (webhook_id,))


def attempt_failed(
    conn: sqlite3.Connection,
    delivery_id: int,
    webhook_id: int,
    status: int | None,
    error: str,
    failure_limit: int,
) -> bool:
    """Record a failed attempt; True when it disabled the webhook (``failure_limit``
    consecutive failures), which ends its pending deliveries as failed."""
    conn.execute(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, "
        "last_error = ? WHERE id = ?",
        (status, error[:300], delivery_id),
    )
    (failures,) = conn.execute(
        "UPDATE webhooks SET failures = failures + 1 WHERE id = ? RETURNING failures",
        (webhook_id,),
    ).fetchone()
    if failures < failure_limit:
        return False
    now = now_iso()
    disabled = conn.execute(
        "UPDATE webhooks SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL",
        (now, webhook_id),
    ).rowcount
    finish_pending(conn, webhook_id, "failed")
    return disabled == 1


def finish_pending(conn: sqlite3.Connection, webhook_id: int, status: str) -> None:
    """End a webhook's pending deliveries (it was disabled or removed)."""
    conn.execute(
        "UPDATE webhook_deliveries SET status = ?, finished_at = ? "
        "WHERE webhook_id = ? AND status = 'pending'",
        (status, now_iso(), webhook_id),
    )


def scrub_member(conn: sqlite3.Connection, guild_id: int, member_id: int) -> int:
    """Forget-me: a member's id in stored (and pending) delivery bodies becomes "0"."""
    quoted = f'"{member_id}"'
    return conn.execute(
        "UPDATE webhook_deliveries SET payload = replace(payload, ?, '\"0\"') "
        "WHERE guild_id = ? AND instr(payload, ?) > 0",
        (quoted, guild_id, quoted),
    ).rowcount
