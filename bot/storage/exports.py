"""SQL for exports (``/export`` and ``cocreate export``): the built-in tables, counted and
read in key order, a chunk at a time, so that an export of millions of rows never holds
more than one chunk and never blocks the reader connection for long."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.domain.idea_model import ANONYMOUS_AUTHOR

#: Export name → (columns, table). Rows are read in key order: ``id`` (the rowid) for
#: ideas and the ledger, ``(idea_id, member_id)`` for votes (a WITHOUT ROWID table).
EXPORT_TABLES: dict[str, tuple[str, str]] = {
    "ideas": (
        "id, number, kind, title, body, author_id, status, status_reason, support, oppose, "
        "source, created_at, first_response_at, decided_at",
        "ideas",
    ),
    "votes": ("idea_id, member_id, value, created_at", "idea_votes"),
    "points_ledger": (
        "id, member_id, delta, kind, reason, source_kind, source_id, withheld, created_at",
        "points_ledger",
    ),
}


#: Export name → what is selected instead of its plain columns, and from where. Exports go
#: to moderators, who look an anonymous idea's author up one at a time with the audited
#: ``/idea show``: an anonymous idea's author is ANONYMOUS_AUTHOR here, and so is the
#: member of a ledger entry the idea paid to its author (a "submitted idea" entry's member
#: and time would name the author as surely as the idea's own row).
#: Each: (the selected columns, the FROM clause, the alias of the exported table + ".").
_SELECTS: dict[str, tuple[str, str, str]] = {
    "ideas": (
        "id, number, kind, title, body, "
        f"CASE WHEN anonymous = 1 THEN {ANONYMOUS_AUTHOR} ELSE author_id END AS author_id, "
        "status, status_reason, support, oppose, source, created_at, first_response_at, "
        "decided_at",
        "ideas",
        "",
    ),
    "points_ledger": (
        "l.id, CASE WHEN i.anonymous = 1 AND l.member_id = i.author_id "
        f"THEN {ANONYMOUS_AUTHOR} ELSE l.member_id END AS member_id, l.delta, l.kind, "
        "l.reason, l.source_kind, l.source_id, l.withheld, l.created_at",
        "points_ledger l LEFT JOIN ideas i ON l.source_kind = 'idea' AND i.id = l.source_id",
        "l.",
    ),
}


def export_count(conn: sqlite3.Connection, name: str, guild_id: int) -> int:
    _, table = EXPORT_TABLES[name]
    return int(
        conn.execute(f"SELECT count(*) FROM {table} WHERE guild_id = ?", (guild_id,)).fetchone()[0]
    )


def export_chunk(
    conn: sqlite3.Connection, name: str, guild_id: int, after: Any, limit: int
) -> tuple[list[dict[str, Any]], Any]:
    """Up to ``limit`` rows of an export table after the key ``after`` (None: from the
    start), and the key to pass for the next chunk."""
    columns, table = EXPORT_TABLES[name]
    if table == "idea_votes":
        idea, member = after if after is not None else (-1, -1)
        cur = conn.execute(
            f"SELECT {columns} FROM idea_votes WHERE guild_id = ? "
            "AND (idea_id, member_id) > (?, ?) ORDER BY idea_id, member_id LIMIT ?",
            (guild_id, idea, member, limit),
        )
    else:
        selected, source, a = _SELECTS.get(name, (columns, table, ""))
        cur = conn.execute(
            f"SELECT {selected} FROM {source} WHERE {a}guild_id = ? AND {a}id > ? "
            f"ORDER BY {a}id LIMIT ?",
            (guild_id, -1 if after is None else after, limit),
        )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    if not rows:
        return rows, after
    last = rows[-1]
    return rows, (last["idea_id"], last["member_id"]) if table == "idea_votes" else last["id"]
