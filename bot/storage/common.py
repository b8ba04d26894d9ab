"""SQL shared by every feature: metadata, guild settings, guild records, moderator audit,
the domain-event outbox, and guild purge. Functions take the ``sqlite3`` connection they
run on: writes are units for :meth:`Database.write`, reads go to :meth:`Database.read`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

import orjson

#: SQLite INTEGERs are signed 64-bit. A larger Python int cannot even be bound to a query
#: (OverflowError) and no row holds one, so a lookup of such a number finds nothing.
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1


def fits_integer(value: int) -> bool:
    """Whether SQLite can store ``value`` (ids and numbers from custom_ids may be forged)."""
    return INTEGER_MIN <= value <= INTEGER_MAX


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def to_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat()


def from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# -- many rows in few statements ----------------------------------------------------------
#: Rows per multi-row INSERT (fewer if the connection's variable limit is lower). Measured
#: on 500 ballot and ledger rows: about 40 % less time than ``executemany`` from 64 rows
#: per statement up, and the GIL is released once per statement instead of once per row,
#: so the event loop and the writer's thread stop trading it back and forth (see
#: ``cocreate bench polls``).
ROWS_PER_STATEMENT = 128
_NUMBERED = re.compile(r"\?(\d+)")


def insert_values(
    conn: sqlite3.Connection, head: str, row: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> int:
    """Run ``{head} VALUES {row}, {row}, … {tail}`` over ``rows``, in order, with the
    outcome of ``executemany`` of ``{head} VALUES {row} {tail}``: each row conflicts with
    those written before it, in the same statement too. Returns the rows changed.

    ``row`` is a placeholder tuple, either plain (``(?, ?, ?)``) or numbered from 1 within
    the row (``(?1, ?2, ?2)``), as long as each row has one value per number. Statements
    come in a few fixed sizes (full ones, then powers of two), so SQLite's statement cache
    keeps them all prepared."""
    if not rows:
        return 0
    width = len(rows[0])
    most = max(
        1, min(ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    )
    changed = 0
    for start, count in _chunks(len(rows), most):
        sql = _values_sql(head, row, tail, width, count)
        params = list(chain.from_iterable(rows[start : start + count]))
        changed += conn.execute(sql, params).rowcount
    return changed


def _chunks(total: int, most: int) -> Iterator[tuple[int, int]]:
    """(start, count) pieces of ``total``: as many of ``most`` as fit, then the rest in
    descending powers of two."""
    start = 0
    while total - start >= most:
        yield start, most
        start += most
    rest = total - start
    bit = 1 << max(0, rest.bit_length() - 1)
    while rest:
        if rest & bit:
            yield start, bit
            start += bit
            rest -= bit
        bit >>= 1


@lru_cache(maxsize=256)
def _values_sql(head: str, row: str, tail: str, width: int, count: int) -> str:
    numbers = [int(n) for n in _NUMBERED.findall(row)]
    if (max(numbers) if numbers else row.count("?")) != width:
        raise ValueError(f"{row!r} does not take rows of {width} values")
    if numbers:
        pieces = _NUMBERED.split(row)  # text, number, text, number, ..., text
        values = ", ".join(
            "".join(p if i % 2 == 0 else f"?{int(p) + k * width}" for i, p in enumerate(pieces))
            for k in range(count)
        )
    else:  # plain placeholders number themselves on from the previous row's
        values = ", ".join([row] * count)
    return f"{head} VALUES {values}{tail}"


# -- meta --------------------------------------------------------------------------------
def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# -- guild settings ----------------------------------------------------------------------
def load_guild_overrides(conn: sqlite3.Connection, guild_id: int) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT key, value FROM guild_settings WHERE guild_id = ?", (guild_id,)
    ).fetchall()
    return {row[0]: orjson.loads(row[1]) for row in rows}


def set_guild_setting(
    conn: sqlite3.Connection, guild_id: int, key: str, value: Any, actor_id: int | None
) -> None:
    conn.execute(
        "INSERT INTO guild_settings (guild_id, key, value, updated_by, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, key) DO UPDATE SET "
        "value = excluded.value, updated_by = excluded.updated_by, "
        "updated_at = excluded.updated_at",
        (guild_id, key, orjson.dumps(value).decode(), actor_id, now_iso()),
    )


def delete_guild_settings(conn: sqlite3.Connection, guild_id: int, keys: list[str] | None) -> int:
    if keys is None:
        return conn.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,)).rowcount
    return conn.executemany(
        "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?",
        [(guild_id, k) for k in keys],
    ).rowcount


# -- guilds ------------------------------------------------------------------------------
def upsert_guild(conn: sqlite3.Connection, guild_id: int, name: str) -> None:
    conn.execute(
        "INSERT INTO guilds (guild_id, name, joined_at) VALUES (?, ?, ?) "
        "ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name, left_at = NULL",
        (guild_id, name, now_iso()),
    )


def mark_guild_left(conn: sqlite3.Connection, guild_id: int) -> None:
    conn.execute("UPDATE guilds SET left_at = ? WHERE guild_id = ?", (now_iso(), guild_id))


def claim_checklist(conn: sqlite3.Connection, guild_id: int) -> bool:
    """Mark the setup checklist as sent; False when it was sent before (never twice)."""
    return (
        conn.execute(
            "UPDATE guilds SET checklist_sent_at = ? "
            "WHERE guild_id = ? AND checklist_sent_at IS NULL",
            (now_iso(), guild_id),
        ).rowcount
        == 1
    )


def release_checklist(conn: sqlite3.Connection, guild_id: int) -> None:
    conn.execute("UPDATE guilds SET checklist_sent_at = NULL WHERE guild_id = ?", (guild_id,))


def tables_with_guild_id(conn: sqlite3.Connection) -> list[str]:
    """Every table that carries a ``guild_id`` column (each feature's rows do)."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    return [
        name
        for name in names
        if any(col[1] == "guild_id" for col in conn.execute(f'PRAGMA table_info("{name}")'))
    ]


def purge_guild(conn: sqlite3.Connection, guild_id: int) -> dict[str, int]:
    """Delete every row of one guild from every table; returns rows deleted per table."""
    deleted: dict[str, int] = {}
    # Children first, at any depth (votes → options → polls): a table is emptied once no
    # table still to be emptied references it. A cycle falls back to the listed order.
    tables = tables_with_guild_id(conn)
    parents = {
        name: {fk[2].lower() for fk in conn.execute(f'PRAGMA foreign_key_list("{name}")')}
        - {name.lower()}
        for name in tables
    }
    remaining = list(tables)
    while remaining:
        free = [n for n in remaining if not any(n.lower() in parents[o] for o in remaining)]
        for name in free or remaining[:1]:
            remaining.remove(name)
            count = conn.execute(f'DELETE FROM "{name}" WHERE guild_id = ?', (guild_id,)).rowcount
            if count:
                deleted[name] = count
    return deleted


# -- moderator audit ---------------------------------------------------------------------
def record_mod_action(
    conn: sqlite3.Connection, guild_id: int, actor_id: int, action: str, target: str, detail: str
) -> int:
    cur = conn.execute(
        "INSERT INTO mod_actions (guild_id, actor_id, action, target, detail, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, target, detail, now_iso()),
    )
    return int(cur.lastrowid or 0)


# -- outbox ------------------------------------------------------------------------------
def emit_event(
    conn: sqlite3.Connection,
    guild_id: int,
    kind: str,
    *,
    subject_id: int | None = None,
    actor_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Append a domain event; call it inside the unit that makes the change."""
    cur = conn.execute(
        "INSERT INTO outbox (guild_id, kind, subject_id, actor_id, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, kind, subject_id, actor_id, orjson.dumps(payload or {}).decode(), now_iso()),
    )
    return int(cur.lastrowid or 0)


def scrub_outbox(conn: sqlite3.Connection, guild_id: int, member_id: int) -> int:
    """Replace a forgotten member's id in past domain events of one guild with 0.

    Run after every feature has consumed the events it needs (their forget handlers catch
    up first). Snowflakes are 17–20 digits, so a textual replace cannot hit another id.
    """
    text = str(member_id)
    changed = conn.execute(
        "UPDATE outbox SET actor_id = 0 WHERE guild_id = ? AND actor_id = ?", (guild_id, member_id)
    ).rowcount
    changed += conn.execute(
        "UPDATE outbox SET payload = replace(payload, ?, '0') "
        "WHERE guild_id = ? AND instr(payload, ?) > 0",
        (text, guild_id, text),
    ).rowcount
    return changed
